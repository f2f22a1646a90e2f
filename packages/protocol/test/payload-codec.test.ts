import { describe, expect, it } from 'vitest';
import { type Batch, type ChangeEvent, decodeBatch, decodeBatchInSlices, decodeSeedEvent, encodeBatch, isPing, isProtocolError, jsonRowOf, plainEvent, ProtocolError, type Relation } from '../src/index.js';
import { sampleBatch } from './fixtures.js';

function decodeJson(value: unknown): Batch {
  return decodeBatch(Buffer.from(JSON.stringify(value)));
}

function invalidPaths(value: unknown): string[] {
  try {
    decodeJson(value);
  } catch (error) {
    if (isProtocolError(error, 'PAYLOAD_INVALID')) return error.issues.map((issue) => issue.path);
    throw error;
  }
  throw new Error('payload was accepted');
}

/** A batch of more than four slices (2 MiB), so that decodeBatchInSlices parses and checks it in pieces. */
function largeBatch(): Batch {
  const batch = sampleBatch();
  const events = Array.from({ length: 12_000 }, (_, seq) => ({ ...batch.events[0]!, seq }));
  return { ...batch, events };
}

describe('decodeBatchInSlices, the receiver path', () => {
  it('decodes a large batch exactly as decodeBatch does', async () => {
    const plaintext = encodeBatch(largeBatch());
    expect(plaintext.length).toBeGreaterThan(2 * 1024 * 1024);
    expect(await decodeBatchInSlices(plaintext)).toEqual(decodeBatch(plaintext));
  });

  it('decodes a batch whose last event is not an INSERT and ends a slice (one big UPDATE; UPDATEs past two slices)', async () => {
    const batch = sampleBatch();
    const update = batch.events.find((event) => event.operation === 'UPDATE')!;
    const big = { ...update, data: { ...update.data, metadata: JSON.stringify('x'.repeat(600 * 1024)) } };
    const updates = Array.from({ length: 3_000 }, (_, seq) => ({ ...update, seq, data: { ...update.data, metadata: JSON.stringify('y'.repeat(300 + (seq % 7))) } }));
    for (const events of [[big], updates, [...updates.slice(0, 1_500), big]]) {
      const plaintext = encodeBatch({ ...batch, events });
      expect(await decodeBatchInSlices(plaintext)).toEqual(decodeBatch(plaintext));
    }
  });

  it('keeps the one-row events the replicator writes as JSON bytes (INSERT, UPDATE of an unchanged key, DELETE), each decoding to what JSON.parse makes', async () => {
    const { batch, events } = replicatorShapedBatch();
    const plaintext = encodeBatch(batch);
    const decoded = await decodeBatchInSlices(plaintext);
    // Which events the scanner took: not an UPDATE with an old row (a key change, or REPLICA IDENTITY FULL) or unchanged-TOAST columns.
    expect(decoded.events.map((event) => jsonRowOf(event) !== undefined)).toEqual(events.map(([, taken]) => taken));
    expect(decoded.events.map((event) => plainEvent(event))).toStrictEqual(decodeBatch(plaintext).events);
    // Reading a row decodes it; a DELETE's row is its old row.
    expect(decoded.events.map((event) => [event.data, event.old_data])).toStrictEqual(decodeBatch(plaintext).events.map((event) => [event.data, event.old_data]));
  });

  it('refuses a JSON-bytes UPDATE or DELETE whose columns do not identify its row, as decodeBatch does', async () => {
    const { batch } = replicatorShapedBatch();
    const [insert, update, , , remove] = batch.events as [ChangeEvent, ChangeEvent & { operation: 'UPDATE' }, ChangeEvent, ChangeEvent, ChangeEvent & { operation: 'DELETE' }];
    const { project_id: _, ...keyless } = update.data;
    const wrong: ChangeEvent[] = [
      { ...update, data: keyless },
      { ...remove, old_data: { ...remove.old_data, note: 'not part of the key' } },
      { ...remove, old_data: { project_id: remove.old_data['project_id']! } },
    ];
    for (const event of wrong) {
      const plaintext = encodeBatch({ ...batch, events: [insert, event] });
      const expected = catchError(() => decodeBatch(plaintext));
      const actual = await decodeBatchInSlices(plaintext).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(actual).toMatchObject({ code: 'PAYLOAD_INVALID', message: expected.message });
    }
  });

  it('refuses what decodeBatch refuses, with the same code and message', async () => {
    const batch = largeBatch();
    const events = structuredClone(batch.events) as unknown as Record<string, unknown>[];
    events[9_000]!.operation = 'UPSERT';
    const invalid = Buffer.from(JSON.stringify({ ...batch, events }));
    const notJson = Buffer.concat([encodeBatch(batch).subarray(0, 2_500_000), Buffer.from(',,]}')]);
    for (const plaintext of [invalid, notJson]) {
      const expected = catchError(() => decodeBatch(plaintext));
      const actual = await decodeBatchInSlices(plaintext).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(actual).toMatchObject({ code: expected.code, message: expected.message });
    }
  });
});

describe('batch payload', () => {
  it('round-trips byte-exact text values, JSON null vs SQL NULL included', () => {
    const batch = sampleBatch();
    const decoded = decodeBatch(encodeBatch(batch));
    expect(decoded).toEqual(batch);
    const insert = decoded.events[0]!;
    expect(insert.data?.metadata).toBe('null');
    expect(insert.data?.note).toBeNull();
    expect(insert.data?.total_size).toBe('12345678901234567890123456.0123456789');
  });

  it('treats a batch with no events as a ping', () => {
    expect(isPing(decodeJson(sampleBatch({ events: [], relations: [] })))).toBe(true);
    expect(isPing(sampleBatch())).toBe(false);
  });

  it('rejects non-JSON with PAYLOAD_NOT_JSON (400)', () => {
    const error = catchError(() => decodeBatch(Buffer.from('{"version": 2,')));
    expect(error.code).toBe('PAYLOAD_NOT_JSON');
    expect(error.status).toBe(400);
  });

  it.each([
    ['wrong version', { ...sampleBatch(), version: 1 }, 'version'],
    ['bad source id', { ...sampleBatch(), source_id: 'a b' }, 'source_id'],
    ['bad slot', { ...sampleBatch(), slot: 'Slot"; DROP' }, 'slot'],
    ['bad commit LSN', { ...sampleBatch(), commit_lsn: '16-B374' }, 'commit_lsn'],
    ['negative chunk', { ...sampleBatch(), chunk: { index: -1, last: true } }, 'chunk.index'],
    ['unknown top-level field', { ...sampleBatch(), extra: 1 }, '(root)'],
    ['events not an array', { ...sampleBatch(), events: 'x' }, 'events'],
    ['relations null', { ...sampleBatch(), relations: null }, 'relations'],
    ['event not an object', { ...sampleBatch(), events: [42] }, 'events[0]'],
  ])('names the field: %s', (_name, value, path) => {
    expect(invalidPaths(value)).toContain(path);
  });

  it('names the offending event field', () => {
    const batch = sampleBatch();
    const events = structuredClone(batch.events) as unknown as Record<string, unknown>[];
    events[1]!.operation = 'UPSERT';
    expect(invalidPaths({ ...batch, events })).toContain('events[1].operation');

    const numeric = structuredClone(batch.events) as unknown as { data: Record<string, unknown> }[];
    numeric[0]!.data.total_size = 12.5; // a JS number would lose precision: values are text only
    expect(invalidPaths({ ...batch, events: numeric })).toContain('events[0].data.total_size');
  });

  it('rejects a value holding a lone UTF-16 surrogate (no UTF-8 text holds one), on both decoding paths', async () => {
    const batch = sampleBatch();
    const insert = batch.events[0]! as ChangeEvent & { operation: 'INSERT' };
    const plaintext = Buffer.from(JSON.stringify({ ...batch, events: [{ ...insert, data: { ...insert.data, note: 'x\ud800y' } }] }));
    expect(plaintext.toString()).toContain('\\ud800');
    expect(invalidPaths(JSON.parse(plaintext.toString()))).toEqual(['events[0].data.note']);
    const refusal = await decodeBatchInSlices(plaintext).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).toMatchObject({ code: 'PAYLOAD_INVALID' });
    expect((refusal as Error).message).toContain('lone UTF-16 surrogate');
    // A pair is one character, and fine.
    const pair = Buffer.from(JSON.stringify({ ...batch, events: [{ ...insert, data: { ...insert.data, note: 'x\ud83d\ude00y' } }] }));
    expect(decodeBatch(pair).events[0]!.data!['note']).toBe('x😀y');
    expect((await decodeBatchInSlices(pair)).events[0]!.data!['note']).toBe('x😀y');
  });

  it('rejects identifiers PostgreSQL could not hold', () => {
    const batch = sampleBatch();
    const events = structuredClone(batch.events);
    events[0] = { ...events[0]!, table: 'x'.repeat(64) };
    expect(invalidPaths({ ...batch, events })).toContain('events[0].table');
    const nul = structuredClone(batch.relations);
    nul[0]!.columns[0]!.name = 'a\0b';
    expect(invalidPaths({ ...batch, relations: nul })).toContain('relations[0].columns[0].name');
    const surrogate = structuredClone(batch.relations);
    surrogate[0]!.columns[0]!.name = 'a\udc00b';
    expect(invalidPaths({ ...batch, relations: surrogate })).toContain('relations[0].columns[0].name');
  });

  it('rejects events without relation metadata and columns the relation does not have', () => {
    const batch = sampleBatch();
    const events = structuredClone(batch.events);
    events[0] = { ...events[0]!, table: 'segments' };
    expect(invalidPaths({ ...batch, events })).toContain('events[0].table');

    const extra = structuredClone(batch.events);
    (extra[0]!.data as Record<string, string>)['x"; DROP TABLE objects; --'] = '1';
    expect(invalidPaths({ ...batch, events: extra })).toContain('events[0].data.x"; DROP TABLE objects; --');
  });

  it('rejects an unchanged-TOAST column that also has a value, and TOAST lists outside UPDATE', () => {
    const batch = sampleBatch();
    const events = structuredClone(batch.events) as unknown as { unchanged_toast: string[] }[];
    events[1]!.unchanged_toast = ['metadata'];
    expect(invalidPaths({ ...batch, events })).toContain('events[1].unchanged_toast[0]');
    const insert = structuredClone(batch.events) as unknown as { unchanged_toast: string[] }[];
    insert[0]!.unchanged_toast = ['note'];
    expect(invalidPaths({ ...batch, events: insert })).toContain('events[0].unchanged_toast');
  });

  it('rejects an event committed after the batch it is in', () => {
    const batch = sampleBatch();
    const events = structuredClone(batch.events);
    events[2] = { ...events[2]!, commit_lsn: '17/0' };
    expect(invalidPaths({ ...batch, events })).toContain('events[2].commit_lsn');
  });

  it('rejects relation metadata whose key is not among its columns', () => {
    const relations = structuredClone(sampleBatch().relations);
    relations[0]!.key_columns = ['missing'];
    expect(invalidPaths({ ...sampleBatch(), relations })).toContain('relations[0].key_columns[0]');
  });

  it('says how many more issues there are in the message', () => {
    const events = sampleBatch().events.map((event) => ({ ...event, lsn: 'x' }));
    const error = catchError(() => decodeJson({ ...sampleBatch(), events, commit_lsn: 'x', slot: 'X', source_id: '' }));
    expect(error.message).toMatch(/^invalid batch: .*\(and \d+ more\)$/);
  });
});

describe('seed event payload', () => {
  it("accepts the seed's minimal ObjectChangeEvent", () => {
    const event = decodeSeedEvent(Buffer.from(JSON.stringify({ operation: 'INSERT', table: 'objects', timestamp: '2025-12-06T10:20:00Z', data: { a: '1' } })));
    expect(event).toMatchObject({ operation: 'INSERT', table: 'objects', data: { a: '1' } });
  });

  it('accepts our full event', () => {
    const full = sampleBatch().events[1]!;
    expect(decodeSeedEvent(Buffer.from(JSON.stringify(full)))).toEqual(full);
  });

  it('rejects an unknown operation naming the field', () => {
    const error = catchError(() => decodeSeedEvent(Buffer.from(JSON.stringify({ operation: 'MERGE', table: 'objects' }))));
    expect(error.code).toBe('PAYLOAD_INVALID');
    expect(error.issues.map((issue) => issue.path)).toContain('operation');
  });
});

function catchError(run: () => unknown): ProtocolError {
  try {
    run();
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
  throw new Error('expected a ProtocolError');
}

/**
 * A batch whose events have the replicator's member order (change-json.ts), so the receiver's
 * scanner may read them: each with whether it should (true: its row stays JSON bytes).
 */
function replicatorShapedBatch(): { batch: Batch; events: [ChangeEvent, boolean][] } {
  const base = sampleBatch();
  const objects = base.relations[0]!;
  const notes: Relation = { schema: 'public', table: 'notes', replica_identity: 'full', columns: [{ name: 'body', type: 'text', not_null: false }, { name: 'n', type: 'integer', not_null: false }], key_columns: [] };
  const head = (schema: string, table: string, seq: number) => ({ schema, table, timestamp: '2025-12-06T10:20:00.123456Z', lsn: '16/B374D848', commit_lsn: '16/B374D9A0', xid: 7481, seq });
  const row = { project_id: '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', object_key: '\\x00ff10', total_size: '1.5', created_at: '2025-12-06 10:20:00+00', metadata: '{"a": "\\u00e9\\n"}', note: 'tab\there, "quoted", é, 😀' };
  const key = { project_id: row.project_id, object_key: row.object_key };
  const events: [ChangeEvent, boolean][] = [
    [{ ...head('satellite/0', 'objects', 0), operation: 'INSERT', data: row, old_data: null, unchanged_toast: [] }, true],
    [{ ...head('satellite/0', 'objects', 1), operation: 'UPDATE', data: { ...row, note: null }, old_data: null, unchanged_toast: [] }, true],
    [{ ...head('satellite/0', 'objects', 2), operation: 'UPDATE', data: { ...row, object_key: '\\x01' }, old_data: key, unchanged_toast: [] }, false],
    [{ ...head('satellite/0', 'objects', 3), operation: 'UPDATE', data: key, old_data: null, unchanged_toast: ['metadata'] }, false],
    [{ ...head('satellite/0', 'objects', 4), operation: 'DELETE', data: null, old_data: key, unchanged_toast: [] }, true],
    [{ ...head('public', 'notes', 5), operation: 'DELETE', data: null, old_data: { body: 'x', n: null }, unchanged_toast: [] }, true],
    [{ ...head('public', 'notes', 6), operation: 'UPDATE', data: { body: 'y', n: '1' }, old_data: { body: 'x', n: null }, unchanged_toast: [] }, false],
  ];
  return { batch: { ...base, relations: [objects, notes], events: events.map(([event]) => event) }, events };
}
