// A transaction split into chunks is never visible half-applied: its chunks are staged on the
// backup with the watermark's progress and moved into the tables in the batch that ends it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Relation } from '@storx-backup/protocol';
import { batchOf, nextLsn, signedRequest, STATE_SCHEMA, tableText, type TestReceiver, testReceiver } from './support.js';

const ITEMS: Relation = {
  schema: 'satellite/0',
  table: 'items',
  replica_identity: 'default',
  columns: [
    { name: 'id', type: 'integer', not_null: true },
    { name: 'v', type: 'text', not_null: false },
  ],
  key_columns: ['id'],
};
const OTHERS: Relation = { ...ITEMS, table: 'others' };

let receiver: TestReceiver;
beforeAll(async () => {
  receiver = await testReceiver({ tables: ['items', 'others'] });
});
afterAll(async () => {
  await receiver.close();
});

const insert = (id: number, table = 'items') => ({ table, operation: 'INSERT' as const, data: { id: String(id), v: `row ${id}` }, old_data: null, unchanged_toast: [] });

/** Chunk `index` of the transaction at `commitLsn`: `ids` as its changes, numbered on from `firstSeq`. */
function chunk(sourceId: string, commitLsn: string, index: number, last: boolean, ids: number[], firstSeq: number, relations = [ITEMS]) {
  const batch = batchOf(relations, ids.map((id) => insert(id)), { sourceId, commitLsn, chunk: { index, last } });
  return { ...batch, events: batch.events.map((event, position) => ({ ...event, seq: firstSeq + position })) };
}

async function send(target: TestReceiver, batch: ReturnType<typeof batchOf>): Promise<Record<string, unknown>> {
  const response = await target.app.inject(await signedRequest(batch, target.keys));
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

async function visible(table = 'items'): Promise<string[]> {
  const { rows } = await sql<{ t: string | null }>`SELECT to_regclass(${`"satellite/0".${table}`})::text AS t`.execute(receiver.db);
  return rows[0]!.t === null ? [] : tableText(receiver.db, 'satellite/0', table);
}

async function stagedCount(sourceId: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM ${sql.id(STATE_SCHEMA, 'staged_changes')} WHERE source_id = ${sourceId}`.execute(receiver.db);
  return Number(rows[0]!.n);
}

describe('a split transaction', () => {
  it('stays invisible until its last chunk, across a receiver restart between chunks, and leaves nothing staged', async () => {
    const sourceId = 'staged-restart';
    const commitLsn = nextLsn();
    expect(await send(receiver, chunk(sourceId, commitLsn, 0, false, [1, 2], 0))).toMatchObject({ watermark: { chunk_index: 0, chunk_last: false } });
    expect(await send(receiver, chunk(sourceId, commitLsn, 1, false, [3], 2))).toMatchObject({ watermark: { chunk_index: 1, chunk_last: false } });
    expect(await visible()).toEqual([]);
    expect(await stagedCount(sourceId)).toBe(3);

    // A receiver killed between chunks: a new process finds the staged changes and the watermark together.
    const restarted = await testReceiver({ databaseUrl: receiver.url, tables: ['items', 'others'] });
    try {
      expect(await send(restarted, chunk(sourceId, commitLsn, 1, false, [3], 2))).toMatchObject({ status: 'duplicate' });
      expect(await send(restarted, chunk(sourceId, commitLsn, 2, true, [4], 3))).toMatchObject({ status: 'applied', watermark: { chunk_index: 2, chunk_last: true } });
    } finally {
      await restarted.close();
    }
    expect(await visible()).toEqual(['(1,"row 1")', '(2,"row 2")', '(3,"row 3")', '(4,"row 4")']);
    expect(await stagedCount(sourceId)).toBe(0);
  });

  it('is completed by a restarted sender that sends the rest whole with the next transaction, staged changes first', async () => {
    const sourceId = 'staged-then-whole';
    const first = nextLsn();
    await send(receiver, { ...chunk(sourceId, first, 0, false, [10], 0), relations: [ITEMS, OTHERS] });
    expect(await visible()).not.toContain('(10,"row 10")');
    // The whole transaction again (its first change a duplicate), then the next one, in one batch.
    const second = nextLsn();
    const rest = batchOf([ITEMS, OTHERS], [insert(10), insert(11), insert(12, 'others')], { sourceId, commitLsn: second });
    const events = rest.events.map((event, position) => ({ ...event, commit_lsn: position < 2 ? first : second, lsn: position < 2 ? first : second, seq: position < 2 ? position : 0 }));
    expect(await send(receiver, { ...rest, events })).toMatchObject({ status: 'applied', watermark: { commit_lsn: second, chunk_last: true } });
    expect(await visible()).toEqual(expect.arrayContaining(['(10,"row 10")', '(11,"row 11")']));
    expect(await visible('others')).toEqual(['(12,"row 12")']);
    expect(await stagedCount(sourceId)).toBe(0);
  });

  it('applies whole transactions ahead of a first chunk in the same batch at once, and stages only the chunk', async () => {
    const sourceId = 'whole-then-chunk';
    const whole = nextLsn();
    const split = nextLsn();
    const batch = batchOf([ITEMS], [insert(20), insert(21)], { sourceId, commitLsn: split, chunk: { index: 0, last: false } });
    const events = batch.events.map((event, position) => ({ ...event, commit_lsn: position === 0 ? whole : split, lsn: position === 0 ? whole : split, seq: 0 }));
    await send(receiver, { ...batch, events });
    expect(await visible()).toContain('(20,"row 20")');
    expect(await visible()).not.toContain('(21,"row 21")');
    expect(await stagedCount(sourceId)).toBe(1);
  });
});
