// The decoder fed with real pgoutput bytes: changes are made on a real source, read back with
// pg_logical_slot_peek_binary_changes (the same messages the walsender streams), decoded and
// assembled, and compared with what PostgreSQL itself prints for each value; and every change's
// JSON is held to what the path before issue 14 (test/oracle) made of the same bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type pg from 'pg';
import type { ChangeEvent } from '@storx-backup/protocol';
import { parseEventsJson, TEXT_SESSION_OPTIONS } from '@storx-backup/protocol';
import { connect, createDatabase } from '@storx-backup/test-postgres';
import { decodePgoutput } from '../src/decode/pgoutput-decoder.js';
import { type TransactionPart, TransactionAssembler } from '../src/decode/transaction-assembler.js';
import { decodePgoutput as oldDecodePgoutput } from './oracle/old-pgoutput-decoder.js';
import { TransactionAssembler as OldTransactionAssembler, type TransactionPart as OldTransactionPart } from './oracle/old-transaction-assembler.js';

let source: pg.Client;
const SLOT = 'decoder_test';

beforeAll(async () => {
  const url = new URL(await createDatabase(inject('pgSourceUrl'), 'decode'));
  url.searchParams.set('options', TEXT_SESSION_OPTIONS);
  source = await connect(url.toString());
  await source.query(`CREATE TABLE awkward (
    id integer PRIMARY KEY, n numeric(38,10), tstz timestamptz, ts timestamp, iv interval, f8 double precision,
    b bytea, j json, jb jsonb, arr text[], big text, note text)`);
  await source.query('CREATE TABLE full_identity (a text, b integer)');
  await source.query('ALTER TABLE full_identity REPLICA IDENTITY FULL');
  await source.query('CREATE TABLE ignored (id integer PRIMARY KEY)');
  await source.query('CREATE PUBLICATION decoder_pub FOR TABLE awkward, full_identity, ignored');
  await source.query(`SELECT pg_create_logical_replication_slot('${SLOT}', 'pgoutput')`);
});

afterAll(async () => {
  await source.query(`SELECT pg_drop_replication_slot('${SLOT}')`);
  await source.end();
});

type DecodedPart = Omit<TransactionPart, 'events'> & { events: ChangeEvent[] };

/**
 * Consumes the slot's pending changes through the decoder and the assembler (the events parsed
 * back into objects), and checks that their JSON is byte for byte what the old path made.
 */
async function decodePending(maxPartBytes = 64 * 1024 * 1024): Promise<DecodedPart[]> {
  const { rows } = await source.query<{ lsn: string; data: Buffer }>(
    `SELECT lsn::text, data FROM pg_logical_slot_get_binary_changes('${SLOT}', NULL, NULL, 'proto_version', '1', 'publication_names', 'decoder_pub')`,
  );
  const parts: TransactionPart[] = [];
  const oldParts: OldTransactionPart[] = [];
  const includedTables = new Set(['public\0awkward', 'public\0full_identity']);
  const assembler = new TransactionAssembler({ includedTables, maxPartBytes, emit: (part) => parts.push(part) });
  const oldAssembler = new OldTransactionAssembler({ includedTables, maxPartBytes: 1 << 30, emit: (part) => oldParts.push(part) });
  for (const row of rows) {
    const [high, low] = row.lsn.split('/').map((hex) => BigInt(`0x${hex}`)) as [bigint, bigint];
    assembler.handle((high << 32n) | low, decodePgoutput(row.data, 0));
    oldAssembler.handle((high << 32n) | low, oldDecodePgoutput(row.data, 0));
  }
  const written = Buffer.concat(parts.flatMap((part) => part.events.pieces)).toString('utf8');
  expect(written).toBe(oldParts.flatMap((part) => part.events).map((event) => `${JSON.stringify(event)},`).join(''));
  return parts.map((part) => ({ ...part, events: parseEventsJson(part.events) }));
}

describe('decoding real pgoutput', () => {
  it('keeps every value exactly as PostgreSQL prints it', async () => {
    await source.query(`INSERT INTO awkward VALUES
      (1, 12345678901234567890123456.0123456789, '2025-12-06 10:20:00.123456+05:30', 'infinity', '1 year -2 days 03:04:05.678901', 0.1,
       '\\x00ff00', '{"b": 1,  "a": [1.50]}', '{"b": 1, "a": [1.50]}', '{"x,y","q\\"",NULL}', NULL, 'ünïcødé 😀'),
      (2, 'NaN', '-infinity', '2000-01-01 00:00:00', '0', 'NaN', '', 'null', 'null', '{}', NULL, NULL)`);
    const parts = await decodePending();
    expect(parts).toHaveLength(1);
    const { rows } = await source.query<Record<string, string | null>>(
      'SELECT id::text, n::text, tstz::text, ts::text, iv::text, f8::text, b::text, j::text, jb::text, arr::text, big, note FROM awkward ORDER BY id',
    );
    expect(parts[0]!.events.map((event) => event.data)).toEqual(rows);
    expect(parts[0]!.events[0]!).toMatchObject({ operation: 'INSERT', schema: 'public', table: 'awkward', unchanged_toast: [] });
    expect(parts[0]!.events[0]!.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it('lists unchanged TOAST columns instead of sending them, and never as NULL', async () => {
    // Random hex does not compress, so 200 kB is stored out of line (TOAST).
    await source.query("UPDATE awkward SET big = (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 6000)) WHERE id = 1");
    await decodePending();
    await source.query("UPDATE awkward SET note = 'touched' WHERE id = 1");
    const [part] = await decodePending();
    const update = part!.events[0]! as ChangeEvent & { operation: 'UPDATE' };
    expect(update.operation).toBe('UPDATE');
    expect(update.unchanged_toast).toEqual(['big']);
    expect(Object.hasOwn(update.data, 'big')).toBe(false);
    expect(update.data.note).toBe('touched');
    expect(update.old_data).toBeNull();
  });

  it('sends the old key when a key changes, the whole old row under REPLICA IDENTITY FULL', async () => {
    await source.query("UPDATE awkward SET id = 3 WHERE id = 2");
    await source.query("INSERT INTO full_identity VALUES ('a', 1), ('a', 1)");
    await source.query("UPDATE full_identity SET b = 2 WHERE ctid = (SELECT min(ctid) FROM full_identity)");
    await source.query('DELETE FROM full_identity WHERE b = 2');
    const events = (await decodePending()).flatMap((part) => part.events);
    expect(events.map((event) => [event.operation, event.table, event.old_data])).toEqual([
      ['UPDATE', 'awkward', { id: '2' }],
      ['INSERT', 'full_identity', null],
      ['INSERT', 'full_identity', null],
      ['UPDATE', 'full_identity', { a: 'a', b: '1' }],
      ['DELETE', 'full_identity', { a: 'a', b: '2' }],
    ]);
  });

  it('drops changes to tables outside the list but keeps their transaction, in order', async () => {
    await source.query('INSERT INTO ignored VALUES (1)');
    await source.query('BEGIN; INSERT INTO ignored VALUES (2); TRUNCATE awkward; COMMIT');
    const parts = await decodePending();
    expect(parts.map((part) => part.events.map((event) => `${event.operation} ${event.table}`))).toEqual([[], ['TRUNCATE awkward']]);
    expect(parts[0]!.endLsn! < parts[1]!.commitLsn).toBe(true);
  });

  it('hands a transaction bigger than the limit on in ordered chunks; only the last one ends it', async () => {
    await source.query("INSERT INTO awkward (id, note) SELECT g, repeat('x', 100) FROM generate_series(100, 399) g");
    const parts = await decodePending(8 * 1024);
    expect(parts.length).toBeGreaterThan(3);
    expect(parts.map((part) => part.chunkIndex)).toEqual(parts.map((_, index) => index));
    expect(parts.slice(0, -1).every((part) => !part.last && part.endLsn === undefined)).toBe(true);
    expect(parts.at(-1)).toMatchObject({ last: true });
    expect(new Set(parts.map((part) => part.commitLsn)).size).toBe(1);
    expect(parts.flatMap((part) => part.events).map((event) => event.data?.['id'])).toEqual(Array.from({ length: 300 }, (_, index) => String(100 + index)));
  });
});
