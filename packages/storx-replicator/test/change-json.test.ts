// The JSON the assembler writes straight from pgoutput bytes, held to the path it replaced (an
// event object per change and JSON.stringify, kept in test/oracle): for random relations and
// changes, with values full of quotes, backslashes, control characters, non-ASCII and astral
// characters, NULLs, unchanged TOAST values, old keys and old rows, the bytes are the same,
// change by change and as a whole batch payload.
import { describe, expect, it } from 'vitest';
import { type Batch, type BatchHeader, encodeBatch, encodeBatchPayload, parseEventsJson } from '@storx-backup/protocol';
import { decodePgoutput } from '../src/decode/pgoutput-decoder.js';
import { type TransactionPart, TransactionAssembler } from '../src/decode/transaction-assembler.js';
import { decodePgoutput as oldDecodePgoutput } from './oracle/old-pgoutput-decoder.js';
import { TransactionAssembler as OldTransactionAssembler, type TransactionPart as OldTransactionPart } from './oracle/old-transaction-assembler.js';
import { beginBytes, type ColumnSpec, commitBytes, deleteBytes, insertBytes, relationBytes, truncateBytes, type TupleCell, UNCHANGED, updateBytes } from './pgoutput-bytes.js';

/** A small seeded generator (mulberry32): a failing case can be run again from its seed. */
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

const PIECES = ['a', 'Z', '0', ' ', '"', '\\', '\\"', '\n', '\r', '\t', '\b', '\f', '\u0000', '\u0001', '\u001f', '\u007f', 'é', 'ü', '中', '\u2028', '\u2029', '😀', '𝄞', '{', '}', ',', ':', '[', 'null', '\\u0041', '/', '<'];

function text(next: () => number): string {
  const roll = next();
  if (roll < 0.05) return '';
  // Long runs take the native copy path; mixed ones the escaping loop.
  const length = roll < 0.15 ? 40 + Math.floor(next() * 200) : Math.floor(next() * 12);
  const plain = next() < 0.3;
  let value = '';
  for (let index = 0; index < length; index += 1) value += plain ? String.fromCharCode(0x20 + Math.floor(next() * 95)) : PIECES[Math.floor(next() * PIECES.length)]!;
  return value;
}

/** A column name: any text a quoted identifier can be, rarely an array index (see below). */
function columnName(next: () => number, index: number, numericNames: boolean): string {
  if (numericNames && next() < 0.3) return String(Math.floor(next() * 20));
  return `${text(next).replaceAll('\u0000', '').slice(0, 20)}#${index}`;
}

function cell(next: () => number, unchangedAllowed: boolean): TupleCell {
  const roll = next();
  if (roll < 0.15) return null;
  if (unchangedAllowed && roll < 0.3) return UNCHANGED;
  return text(next);
}

interface Generated {
  messages: { walStart: bigint; bytes: Buffer }[];
  included: Set<string>;
}

/** Relations and transactions of random changes, as pgoutput bytes. */
function generate(seed: number, numericNames: boolean): Generated {
  const next = random(seed);
  const messages: Generated['messages'] = [];
  let lsn = 0x1000n;
  const push = (bytes: Buffer): void => {
    messages.push({ walStart: lsn, bytes });
    if (next() < 0.7) lsn += BigInt(1 + Math.floor(next() * 300));
  };
  const relations = Array.from({ length: 1 + Math.floor(next() * 3) }, (_, index) => {
    const width = 1 + Math.floor(next() * 8);
    const names = new Set<string>();
    while (names.size < width) names.add(columnName(next, names.size, numericNames));
    const identity = (['d', 'f', 'i', 'n'] as const)[Math.floor(next() * 4)]!;
    const columns: ColumnSpec[] = [...names].map((name, column) => ({ name, isKey: identity === 'f' || column === 0, typeOid: next() < 0.2 ? 16385 : 25 }));
    return { id: 100 + index, schema: next() < 0.5 ? 'satellite/0' : text(next).replaceAll('\u0000', '') || 's', table: `t"${index}\\ü`, identity, columns };
  });
  for (const relation of relations) push(relationBytes(relation.id, relation.schema, relation.table, relation.identity, relation.columns));
  const transactions = 1 + Math.floor(next() * 6);
  for (let transaction = 0; transaction < transactions; transaction += 1) {
    const commitLsn = lsn + 100_000n;
    push(beginBytes(commitLsn, BigInt(Math.floor(next() * 1e15)) - 10n ** 14n, Math.floor(next() * 2 ** 32)));
    const changes = Math.floor(next() * 12);
    for (let change = 0; change < changes; change += 1) {
      const relation = relations[Math.floor(next() * relations.length)]!;
      const row = (unchanged: boolean): TupleCell[] => relation.columns.map(() => cell(next, unchanged));
      const keyRow = (): TupleCell[] => relation.columns.map((column) => (column.isKey ? cell(next, false) : null));
      const roll = next();
      if (roll < 0.4) push(insertBytes(relation.id, row(false)));
      else if (roll < 0.75) {
        const old = next() < 0.4 ? undefined : next() < 0.5 ? { kind: 'K' as const, cells: keyRow() } : { kind: 'O' as const, cells: row(true) };
        push(updateBytes(relation.id, row(true), old));
      } else if (roll < 0.95) push(next() < 0.5 ? deleteBytes(relation.id, 'K', keyRow()) : deleteBytes(relation.id, 'O', row(true)));
      else push(truncateBytes(relations.map((each) => each.id)));
    }
    lsn = commitLsn;
    push(commitBytes(commitLsn, commitLsn + 48n, 0n));
    lsn += 200n;
  }
  const included = new Set(relations.filter(() => next() < 0.85).map((relation) => `${relation.schema}\0${relation.table}`));
  return { messages, included };
}

function assemble(generated: Generated): { parts: TransactionPart[]; oldParts: OldTransactionPart[] } {
  const parts: TransactionPart[] = [];
  const oldParts: OldTransactionPart[] = [];
  const assembler = new TransactionAssembler({ includedTables: generated.included, maxPartBytes: 1 << 30, emit: (part) => parts.push(part) });
  const oldAssembler = new OldTransactionAssembler({ includedTables: generated.included, maxPartBytes: 1 << 30, emit: (part) => oldParts.push(part) });
  for (const { walStart, bytes } of generated.messages) {
    assembler.handle(walStart, decodePgoutput(bytes, 0));
    oldAssembler.handle(walStart, oldDecodePgoutput(bytes, 0));
  }
  return { parts, oldParts };
}

function header(part: TransactionPart, index: number): BatchHeader {
  return {
    version: 2,
    source_id: 'fuzz',
    slot: 'slot_1',
    commit_lsn: '0/1000',
    chunk: index % 2 === 0 ? { index: 0, last: true } : { index: 2, last: false, after_seq: 3 },
    ...(index % 2 === 1 ? { acknowledges: 'durable' as const } : {}),
    ...(index % 3 === 0 ? { origin: { system_id: '7401234567890123456', timeline: 1, history: [] } } : {}),
    relations: [...part.relations.values()].map((relation) => ({ schema: relation.schema, table: relation.table, replica_identity: 'default', columns: relation.columns.map((column) => ({ name: column.name, type: 'text', not_null: false })), key_columns: [] })),
    ...(index % 4 === 1 ? { snapshot: { schema: 'ü"s', table: 't', image_lsn: '0/1000', index: 1, last: false } } : {}),
  };
}

describe('change JSON written from pgoutput bytes', () => {
  it('is byte for byte what JSON.stringify made of the old event objects, change by change and as a batch payload', () => {
    for (let seed = 1; seed <= 200; seed += 1) {
      const { parts, oldParts } = assemble(generate(seed, false));
      expect(parts.map((part) => [part.commitLsn, part.endLsn, part.xid, part.chunkIndex, part.last, part.events.count]), `seed ${seed}`).toEqual(oldParts.map((part) => [part.commitLsn, part.endLsn, part.xid, part.chunkIndex, part.last, part.events.length]));
      parts.forEach((part, index) => {
        const old = oldParts[index]!;
        const written = Buffer.concat(part.events.pieces).toString('utf8');
        expect(written, `seed ${seed}`).toBe(old.events.map((event) => `${JSON.stringify(event)},`).join(''));
        expect(part.bytes).toBe(Buffer.byteLength(written));
        const batchHeader = header(part, index);
        const oldBatch: Batch = { ...batchHeader, events: old.events };
        // encodeBatch of the batch built the old way, members in the schema's order.
        const { snapshot, ...rest } = oldBatch;
        expect(encodeBatchPayload(batchHeader, part.events).equals(encodeBatch({ ...rest, events: old.events, ...(snapshot ? { snapshot } : {}) })), `seed ${seed}`).toBe(true);
      });
    }
  });

  it('means the same where JSON.stringify would order members differently: column names that are array indexes', () => {
    // A JS object puts integer-like keys first, in numeric order, whatever order they were set
    // in; the payload keeps the columns in source order. JSON objects are unordered: the
    // receiver reads exactly the same row.
    for (let seed = 1; seed <= 100; seed += 1) {
      const { parts, oldParts } = assemble(generate(seed, true));
      expect(parts.map((part) => parseEventsJson(part.events)), `seed ${seed}`).toEqual(oldParts.map((part) => part.events));
    }
  });

  it('refuses a value that is not valid UTF-8 instead of replacing its bytes (the old path wrote U+FFFD)', () => {
    const assembler = new TransactionAssembler({ includedTables: new Set(['s\0t']), maxPartBytes: 1 << 20, emit: () => undefined });
    assembler.handle(1n, decodePgoutput(relationBytes(7, 's', 't', 'd', [{ name: 'id', isKey: true }, { name: 'v' }]), 0));
    assembler.handle(2n, decodePgoutput(beginBytes(100n, 0n, 1), 0));
    expect(() => assembler.handle(3n, decodePgoutput(insertBytes(7, ['1', Buffer.from([0x61, 0xff, 0x62])]), 0))).toThrow(/column "v" of "s"\."t" holds bytes that are not valid UTF-8/);
  });

  it('refuses a tuple that runs past its message, or a binary value', () => {
    const assembler = new TransactionAssembler({ includedTables: new Set(['s\0t']), maxPartBytes: 1 << 20, emit: () => undefined });
    assembler.handle(1n, decodePgoutput(relationBytes(7, 's', 't', 'd', [{ name: 'id', isKey: true }]), 0));
    assembler.handle(2n, decodePgoutput(beginBytes(100n, 0n, 1), 0));
    const insert = insertBytes(7, ['12345']);
    expect(() => assembler.handle(3n, decodePgoutput(insert.subarray(0, insert.length - 2), 0))).toThrow(/runs past the end/);
    const binary = Buffer.from(insert);
    binary[8] = 0x62; // 'b'
    expect(() => assembler.handle(4n, decodePgoutput(binary, 0))).toThrow(/binary mode is not used/);
  });
});
