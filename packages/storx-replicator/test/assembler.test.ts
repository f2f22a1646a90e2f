import { describe, expect, it } from 'vitest';
import { parseEventsJson } from '@storx-backup/protocol';
import { decodePgoutput } from '../src/decode/pgoutput-decoder.js';
import { type TransactionPart, TransactionAssembler } from '../src/decode/transaction-assembler.js';
import type { PgoutputMessage } from '../src/decode/pgoutput-messages.js';
import { insertBytes } from './pgoutput-bytes.js';

const relation = (columns: string[]): PgoutputMessage => ({
  tag: 'relation',
  relationId: 7,
  schema: 's',
  name: 't',
  replicaIdentity: 'd',
  columns: columns.map((name, index) => ({ isKey: index === 0, name, typeOid: 25, typeMod: -1 })),
});
const begin: PgoutputMessage = { tag: 'begin', finalLsn: 0x900n, commitTime: 0n, xid: 1 };
const commit: PgoutputMessage = { tag: 'commit', commitLsn: 0x900n, endLsn: 0x950n, commitTime: 0n };
const insert = (value: string, width = 1): PgoutputMessage => decodePgoutput(insertBytes(7, Array.from({ length: width }, () => value)), 0);
const eventsOf = (part: TransactionPart) => parseEventsJson(part.events);

function run(messages: PgoutputMessage[], maxPartBytes: number, included = true): TransactionPart[] {
  const parts: TransactionPart[] = [];
  const assembler = new TransactionAssembler({ includedTables: new Set(included ? ['s\0t'] : []), maxPartBytes, emit: (part) => parts.push(part) });
  messages.forEach((message, index) => assembler.handle(BigInt(0x100 + index), message));
  return parts;
}

describe('transaction assembler', () => {
  it('never ends a split transaction with an empty chunk, even when the last change fills one exactly', () => {
    const eventBytes = run([relation(['a']), begin, insert('x'), commit], 1 << 20)[0]!.bytes;
    // The limit is reached exactly by the last insert: still one whole part, not a full chunk and an empty one.
    const parts = run([relation(['a']), begin, insert('x'), insert('y'), insert('z'), commit], 3 * eventBytes);
    expect(parts.map((part) => [part.chunkIndex, part.last, eventsOf(part).length])).toEqual([[0, true, 3]]);
    const split = run([relation(['a']), begin, insert('x'), insert('y'), insert('z'), insert('w'), commit], 2 * eventBytes);
    expect(split.map((part) => [part.chunkIndex, part.last, eventsOf(part).length])).toEqual([
      [0, false, 2],
      [1, true, 2],
    ]);
    expect(split.at(-1)!.endLsn).toBe(0x950n);
  });

  it("says after which change each chunk starts: the seq of the previous chunk's last change, skipped changes of other tables counted", () => {
    const other: PgoutputMessage = { ...relation(['a']), relationId: 8, name: 'other' } as PgoutputMessage;
    const otherInsert: PgoutputMessage = decodePgoutput(insertBytes(8, ['o']), 0);
    const eventBytes = run([relation(['a']), begin, insert('x'), commit], 1 << 20)[0]!.bytes;
    const parts = run([relation(['a']), other, begin, insert('x'), insert('y'), otherInsert, insert('z'), insert('w'), otherInsert, insert('v'), commit], 2 * eventBytes);
    expect(parts.map((part) => [part.chunkIndex, part.afterSeq, eventsOf(part).map((event) => event.seq)])).toEqual([
      [0, undefined, [0, 1]],
      [1, 1, [3, 4]],
      [2, 4, [6]],
    ]);
  });

  it('numbers changes within the transaction, counting those of tables not replicated', () => {
    const parts = run([relation(['a']), begin, insert('x'), insert('y'), commit], 1 << 20);
    expect(eventsOf(parts[0]!).map((event) => event.seq)).toEqual([0, 1]);
    expect(eventsOf(run([relation(['a']), begin, insert('x'), commit], 1 << 20, false)[0]!)).toEqual([]);
  });

  it('closes the chunk when the table is altered inside the transaction', () => {
    const parts = run([relation(['a']), begin, insert('x'), relation(['a', 'b']), insert('y', 2), commit], 1 << 20);
    expect(parts.map((part) => [part.chunkIndex, part.last, eventsOf(part).map((event) => Object.keys(event.data ?? {}).join('+'))])).toEqual([
      [0, false, ['a']],
      [1, true, ['a+b']],
    ]);
    expect(parts[0]!.relations.get(7)!.columns).toHaveLength(1);
    expect(parts[1]!.relations.get(7)!.columns).toHaveLength(2);
  });
});
