// The COPY transcoder held to the old path: for random batches (every awkward character, NULLs,
// the type matrix's values, members in any order, escapes the replicator never writes), the
// receiver's decoder gives the events JSON.parse gives, and COPY text written from the rows' JSON
// bytes is byte for byte what the old encoder (test/copy-text-oracle.ts) writes for the parsed
// rows. Malformed payloads are refused exactly when JSON.parse refuses them, and rows that are
// not the relation's are refused too.
import { describe, expect, it } from 'vitest';
import { type Batch, type ChangeEvent, decodeBatch, decodeBatchInSlices, jsonRowOf, ProtocolError, type Relation, type Row, type RowSource } from '@storx-backup/protocol';
import { TYPE_MATRIX_ROWS } from '@storx-backup/test-postgres';
import { copyTextChunks } from '../src/apply/copy-text.js';
import { oracleCopyTextChunks } from './copy-text-oracle.js';

const COLUMNS = ['id', 'a', 'b', 'c', 'd', 'e'];
const RELATION: Relation = {
  schema: 'satellite/0',
  table: 'objects',
  replica_identity: 'default',
  columns: COLUMNS.map((name) => ({ name, type: 'text', not_null: false })),
  key_columns: ['id'],
};

/** A deterministic generator (mulberry32), so a failure is reproducible from its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['"', '\\', '\t', '\n', '\r', '\b', '\f', '\u0000', '\u0001', '\u001f', '\u007f', '/', 'é', '中', '😀', '\u{10ffff}', 'x', 'abc', ' ', ',', ':', '{', '}', '[', ']', '\\x', 'null', '\\N'];
// The type matrix's rows as SQL text: every type's awkward literal, quotes and braces included.
const MATRIX_VALUES: string[] = [...TYPE_MATRIX_ROWS];
const SHAPED = ['\\x00ff10', '{"a b","c\\"d",NULL}', '{"k": [1, "x\\ny"]}', '-1.5e10', 'NaN', '2025-01-01 00:00:00.123+00', '{}', '[]', ''];

function value(next: () => number): string | null {
  const pick = next();
  if (pick < 0.15) return null;
  if (pick < 0.3) return SHAPED[Math.floor(next() * SHAPED.length)]!;
  if (pick < 0.45 && MATRIX_VALUES.length > 0) return MATRIX_VALUES[Math.floor(next() * MATRIX_VALUES.length)]!;
  let text = '';
  const length = Math.floor(next() * 12);
  for (let index = 0; index < length; index += 1) text += PIECES[Math.floor(next() * PIECES.length)]!;
  if (next() < 0.1) text += 'x'.repeat(Math.floor(next() * 300));
  return text;
}

/** A JSON string for `text`, as JSON.stringify writes it or (`odd`) with escapes it never writes: `\/`, `\uXXXX` for any code unit. */
function jsonString(text: string, next: () => number, odd: boolean): string {
  if (!odd) return JSON.stringify(text);
  let json = '"';
  for (const unit of text.split('')) {
    const code = unit.charCodeAt(0);
    if (next() < 0.3) json += `\\u${code.toString(16).padStart(4, '0')}`;
    else if (unit === '/' && next() < 0.5) json += '\\/';
    else json += JSON.stringify(unit).slice(1, -1);
  }
  return `${json}"`;
}

/** The JSON after an event's `"seq":N`, as the replicator writes it, for each operation with one row. */
const ONE_ROW_EVENT = {
  INSERT: (row: string) => `"operation":"INSERT","data":${row},"old_data":null,"unchanged_toast":[]}`,
  UPDATE: (row: string) => `"operation":"UPDATE","data":${row},"old_data":null,"unchanged_toast":[]}`,
  DELETE: (row: string) => `"operation":"DELETE","data":null,"old_data":${row},"unchanged_toast":[]}`,
};

/** A batch's JSON text with rows of random values (INSERTs unless told), members in random order and subsets. */
function batchText(seed: number, odd: boolean, operation: keyof typeof ONE_ROW_EVENT = 'INSERT'): { text: string; rows: number } {
  const next = random(seed);
  const rows = 1 + Math.floor(next() * 40);
  const events: string[] = [];
  for (let seq = 0; seq < rows; seq += 1) {
    let names = next() < 0.7 ? COLUMNS : COLUMNS.filter(() => next() < 0.7).sort(() => next() - 0.5);
    // Mostly rows that identify themselves: an UPDATE with its key, a DELETE (under FULL) with every column.
    if (operation === 'UPDATE' && !names.includes('id') && next() < 0.9) names = ['id', ...names];
    if (operation === 'DELETE' && names !== COLUMNS && next() < 0.9) names = [...COLUMNS].reverse();
    const members = names.map((name) => {
      const cell = value(next);
      return `${JSON.stringify(name)}:${cell === null ? 'null' : jsonString(cell, next, odd)}`;
    });
    events.push(`{"schema":"satellite/0","table":"objects","timestamp":"2026-12-02T10:00:00.000001Z","lsn":"0/${(100 + seq).toString(16).toUpperCase()}","commit_lsn":"0/1000","xid":7,"seq":${seq},${ONE_ROW_EVENT[operation](`{${members.join(',')}}`)}`);
  }
  const head = JSON.stringify({ version: 2, source_id: 'copy-text-test', slot: 'slot', commit_lsn: '0/1000', chunk: { index: 0, last: true }, relations: [RELATION] });
  return { text: `${head.slice(0, -1)},"events":[${events.join(',')}]}`, rows };
}

function concat(chunks: Iterable<Buffer>): Buffer {
  return Buffer.concat([...chunks]);
}

async function refusal(payload: Buffer): Promise<string | undefined> {
  try {
    await decodeBatchInSlices(payload);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return (error as ProtocolError).code;
  }
}

describe('COPY text from JSON rows', () => {
  it('is byte for byte the old encoder\'s, and the events are JSON.parse\'s (400 random batches)', async () => {
    let fromJson = 0;
    for (let seed = 1; seed <= 400; seed += 1) {
      const odd = seed % 2 === 0;
      const { text } = batchText(seed, odd);
      const payload = Buffer.from(text, 'utf8');
      const decoded = await decodeBatchInSlices(payload);
      const parsed = JSON.parse(text) as Batch;
      expect(JSON.stringify(decoded.events), `seed ${seed}`).toBe(JSON.stringify(parsed.events));
      const sources: RowSource[] = decoded.events.map((event: ChangeEvent) => jsonRowOf(event) ?? (event.data as Row));
      fromJson += decoded.events.filter((event) => jsonRowOf(event) !== undefined).length;
      // Every column order COPY may be given, with a column no row has.
      const columns = seed % 3 === 0 ? [...COLUMNS].reverse() : seed % 3 === 1 ? COLUMNS : [...COLUMNS, 'missing'];
      const chunkBytes = seed % 5 === 0 ? 64 : 64 * 1024;
      const expected = concat(oracleCopyTextChunks(parsed.events.map((event) => event.data as Row), columns));
      expect(concat(copyTextChunks(sources, columns, chunkBytes)).equals(expected), `seed ${seed}`).toBe(true);
    }
    // The scanner took the rows (not JSON.parse): the transcoder was what was compared.
    expect(fromJson).toBeGreaterThan(4_000);
  });

  it('decodes UPDATEs of an unchanged key and DELETEs as the general decoder does, or refuses them alike (400 random batches)', async () => {
    let fromJson = 0;
    for (let seed = 1; seed <= 400; seed += 1) {
      const operation = seed % 2 === 0 ? 'UPDATE' : 'DELETE';
      // A DELETE under REPLICA IDENTITY FULL carries the whole old row; under DEFAULT, an UPDATE needs its key.
      const { text } = batchText(seed, seed % 4 < 2, operation);
      const payload = Buffer.from(operation === 'DELETE' ? text.replace('"replica_identity":"default"', '"replica_identity":"full"') : text, 'utf8');
      const settle = async (decode: () => Batch | Promise<Batch>): Promise<{ batch?: Batch; error?: unknown }> => {
        try {
          return { batch: await decode() };
        } catch (error) {
          return { error };
        }
      };
      const expected = await settle(() => decodeBatch(payload));
      const actual = await settle(() => decodeBatchInSlices(payload));
      if (expected.error !== undefined) {
        const { code, message } = expected.error as ProtocolError;
        expect(actual.error, `seed ${seed}`).toMatchObject({ code, message });
        continue;
      }
      expect(JSON.stringify(actual.batch!.events), `seed ${seed}`).toBe(JSON.stringify(expected.batch!.events));
      fromJson += actual.batch!.events.filter((event) => jsonRowOf(event) !== undefined).length;
    }
    // Most rows take the JSON-bytes path (not every batch is valid: a DELETE of a column subset is refused).
    expect(fromJson).toBeGreaterThan(2_000);
  });

  it('refuses exactly what JSON.parse refuses, and otherwise decodes to what it gives (1,500 mutations)', async () => {
    const { text } = batchText(7, false);
    const payload = Buffer.from(text, 'utf8');
    const eventsAt = payload.indexOf('"events":[');
    const next = random(99);
    const bytes = [0x22, 0x5c, 0x2c, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x09, 0x0a, 0x00, 0x75, 0x6e, 0x30, 0x80, 0xff, 0x20];
    for (let round = 0; round < 1_500; round += 1) {
      const at = eventsAt + Math.floor(next() * (payload.length - eventsAt));
      const kind = next();
      const byte = bytes[Math.floor(next() * bytes.length)]!;
      const mutated = kind < 0.2 ? payload.subarray(0, at) : kind < 0.6 ? Buffer.concat([payload.subarray(0, at), Buffer.from([byte]), payload.subarray(at + 1)]) : Buffer.concat([payload.subarray(0, at), Buffer.from([byte]), payload.subarray(at)]);
      let expected: Batch | undefined;
      try {
        if (!(await import('node:buffer')).isUtf8(mutated)) throw new Error('not UTF-8');
        expected = JSON.parse(mutated.toString('utf8')) as Batch;
      } catch {
        expected = undefined;
      }
      const code = await refusal(mutated);
      if (expected === undefined) {
        expect(code, `round ${round}`).toBe('PAYLOAD_NOT_JSON');
      } else if (code === undefined) {
        const decoded = await decodeBatchInSlices(mutated);
        expect(JSON.stringify(decoded.events), `round ${round}`).toBe(JSON.stringify(expected.events));
      } else {
        // Valid JSON but not a valid batch (a name that is no column, a broken LSN...): zod's verdict.
        expect(code, `round ${round}`).toBe('PAYLOAD_INVALID');
      }
    }
  });

  it('refuses a row that is not the relation\'s, bad escapes, raw control characters and invalid UTF-8', async () => {
    const head = JSON.stringify({ version: 2, source_id: 'copy-text-test', slot: 'slot', commit_lsn: '0/1000', chunk: { index: 0, last: true }, relations: [RELATION] });
    const event = '{"schema":"satellite/0","table":"objects","timestamp":"t","lsn":"0/100","commit_lsn":"0/1000","xid":7,"seq":0,"operation":"INSERT","data":{"id":"1","a":"x"},"old_data":null,"unchanged_toast":[]}';
    const text = `${head.slice(0, -1)},"events":[${event}]}`;
    expect((await decodeBatchInSlices(Buffer.from(text, 'utf8'))).events).toHaveLength(1);
    const cases: [string, string, string][] = [
      ['member that is no column', text.replace('"data":{"id":', '"data":{"nope":'), 'PAYLOAD_INVALID'],
      ['unknown escape', text.replace(/"data":\{"id":"/, '"data":{"id":"\\q'), 'PAYLOAD_NOT_JSON'],
      ['bad \\u escape', text.replace(/"data":\{"id":"/, '"data":{"id":"\\u12G4'), 'PAYLOAD_NOT_JSON'],
      ['raw tab in a value', text.replace(/"data":\{"id":"/, '"data":{"id":"\t'), 'PAYLOAD_NOT_JSON'],
      ['truncated', text.slice(0, Math.floor(text.length / 2)), 'PAYLOAD_NOT_JSON'],
      ['a value that is a number', text.replace('"data":{"id":"1"', '"data":{"id":5'), 'PAYLOAD_INVALID'],
      ['a repeated member', text.replace('"data":{"id":"1","a":"x"}', '"data":{"id":"1","a":"x","a":"y"}'), 'accepted'],
    ];
    for (const [name, variant, code] of cases) {
      expect(variant, name).not.toBe(text);
      expect((await refusal(Buffer.from(variant, 'utf8'))) ?? 'accepted', name).toBe(code);
    }
    const notUtf8 = Buffer.from(text, 'utf8');
    notUtf8[notUtf8.indexOf('"a":"x"') + 5] = 0xff;
    expect(await refusal(notUtf8)).toBe('PAYLOAD_NOT_JSON');
  });
});
