// A transaction split into chunks is never visible half-applied: its chunks are staged on the
// backup with the watermark's progress and applied in the batch that ends it, with the same
// effect as the changes applied one by one, whatever the number of chunks and rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Batch, ChangeEvent, Relation } from '@storx-backup/protocol';
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
  receiver = await testReceiver({ tables: ['items', 'others'], bodyLimitBytes: 16 * 1024 * 1024 });
});
afterAll(async () => {
  await receiver.close();
});

type Change = Pick<ChangeEvent, 'operation' | 'data' | 'old_data' | 'unchanged_toast'> & { table?: string };
const insert = (id: number, table = 'items'): Change => ({ table, operation: 'INSERT', data: { id: String(id), v: `row ${id}` }, old_data: null, unchanged_toast: [] });
const update = (id: number, v: string): Change => ({ operation: 'UPDATE', data: { id: String(id), v }, old_data: null, unchanged_toast: [] });
const remove = (id: number): Change => ({ operation: 'DELETE', data: null, old_data: { id: String(id) }, unchanged_toast: [] });

/** Chunk `index` of the transaction at `commitLsn`: `changes`, numbered on from `firstSeq`. */
function chunkOf(sourceId: string, commitLsn: string, index: number, last: boolean, changes: Change[], firstSeq: number, relations = [ITEMS, OTHERS]): Batch {
  const batch = batchOf(relations, changes, { sourceId, commitLsn, chunk: { index, last } });
  return { ...batch, events: batch.events.map((event, position) => ({ ...event, seq: firstSeq + position })) };
}

async function send(target: TestReceiver, batch: Batch): Promise<Record<string, unknown>> {
  const response = await target.app.inject(await signedRequest(batch, target.keys));
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

async function visible(table = 'items'): Promise<string[]> {
  const { rows } = await sql<{ t: string | null }>`SELECT to_regclass(${`"satellite/0".${table}`})::text AS t`.execute(receiver.db);
  return rows[0]!.t === null ? [] : tableText(receiver.db, 'satellite/0', table);
}

async function stagedChunks(sourceId: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM ${sql.id(STATE_SCHEMA, 'staged_chunks')} WHERE source_id = ${sourceId}`.execute(receiver.db);
  return Number(rows[0]!.n);
}

describe('a split transaction', () => {
  it('stays invisible until its last chunk, across a receiver restart and a sender restart between chunks, and leaves nothing staged', async () => {
    const sourceId = 'staged-restart';
    const commitLsn = nextLsn();
    expect(await send(receiver, chunkOf(sourceId, commitLsn, 0, false, [insert(1), insert(2)], 0))).toMatchObject({ status: 'applied', watermark: { chunk_index: 0, chunk_last: false } });
    expect(await send(receiver, chunkOf(sourceId, commitLsn, 1, false, [insert(3)], 2))).toMatchObject({ watermark: { chunk_index: 1, chunk_last: false } });
    expect(await visible()).toEqual([]);
    expect(await stagedChunks(sourceId)).toBe(2);

    // A receiver killed between chunks: a new process finds the staged chunks and the watermark together.
    const restarted = await testReceiver({ databaseUrl: receiver.url, tables: ['items', 'others'] });
    try {
      // A restarted sender starts the transaction again from its first chunk: nothing is staged twice.
      expect(await send(restarted, chunkOf(sourceId, commitLsn, 0, false, [insert(1), insert(2)], 0))).toMatchObject({ status: 'duplicate' });
      expect(await send(restarted, chunkOf(sourceId, commitLsn, 1, false, [insert(3)], 2))).toMatchObject({ status: 'duplicate' });
      expect(await stagedChunks(sourceId)).toBe(2);
      expect(await send(restarted, chunkOf(sourceId, commitLsn, 2, true, [insert(4)], 3))).toMatchObject({ status: 'applied', watermark: { chunk_index: 2, chunk_last: true } });
    } finally {
      await restarted.close();
    }
    expect(await visible()).toEqual(['(1,"row 1")', '(2,"row 2")', '(3,"row 3")', '(4,"row 4")']);
    expect(await stagedChunks(sourceId)).toBe(0);
  });

  it('is completed by a restarted sender that sends the rest whole with the next transaction, staged changes first', async () => {
    const sourceId = 'staged-then-whole';
    const first = nextLsn();
    await send(receiver, chunkOf(sourceId, first, 0, false, [insert(10)], 0));
    expect(await visible()).not.toContain('(10,"row 10")');
    // The whole transaction again (its first change a duplicate), then the next one, in one batch.
    const second = nextLsn();
    const rest = batchOf([ITEMS, OTHERS], [insert(10), update(10, 'changed by its own transaction'), insert(12, 'others')], { sourceId, commitLsn: second });
    const events = rest.events.map((event, position) => ({ ...event, commit_lsn: position < 2 ? first : second, lsn: position < 2 ? first : second, seq: position < 2 ? position : 0 }));
    expect(await send(receiver, { ...rest, events })).toMatchObject({ status: 'applied', watermark: { commit_lsn: second, chunk_last: true } });
    expect(await visible()).toContain('(10,"changed by its own transaction")');
    expect(await visible('others')).toEqual(['(12,"row 12")']);
    expect(await stagedChunks(sourceId)).toBe(0);
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
    expect(await stagedChunks(sourceId)).toBe(1);
  });

  it('of many chunks and rows has the effect of its changes applied one by one (inserts, updates and deletes across chunks)', async () => {
    const sourceId = 'staged-many';
    const commitLsn = nextLsn();
    const base = 100_000;
    const expected = new Map<number, string>();
    const chunks: Change[][] = [];
    let next = base;
    // Five chunks of 6,000 changes: later chunks update and delete rows inserted by earlier ones.
    for (let index = 0; index < 5; index++) {
      const changes: Change[] = [];
      for (let i = 0; i < 5_000; i++) changes.push(insert(++next));
      for (let i = 0; i < 1_000; i++) {
        const id = base + 1 + index * 1_000 + i;
        changes.push(index % 2 === 0 ? update(id, `v${index}`) : remove(id));
      }
      chunks.push(changes);
    }
    let seq = 0;
    for (const [index, changes] of chunks.entries()) {
      for (const change of changes) {
        const id = Number(change.operation === 'DELETE' ? change.old_data!['id'] : change.data!['id']);
        if (change.operation === 'DELETE') expected.delete(id);
        else expected.set(id, change.data!['v']!);
      }
      const batch = chunkOf(sourceId, commitLsn, index, index === chunks.length - 1, changes, seq);
      seq += changes.length;
      await send(receiver, batch);
      if (index < chunks.length - 1) expect(await countAbove(base)).toBe(0);
    }
    const { rows } = await sql<{ id: number; v: string }>`SELECT id, v FROM "satellite/0".items WHERE id > ${base} ORDER BY id`.execute(receiver.db);
    expect(rows.length).toBe(expected.size);
    expect(rows.filter((row) => expected.get(row.id) !== row.v)).toEqual([]);
    expect(await stagedChunks(sourceId)).toBe(0);
  });

  it('loses the staged changes of a table that a copy starting after it replaces, and keeps the others', async () => {
    const sourceId = 'staged-recopy';
    const commitLsn = nextLsn();
    await send(receiver, chunkOf(sourceId, commitLsn, 0, false, [insert(30), insert(31, 'others')], 0));
    await send(receiver, chunkOf(sourceId, commitLsn, 1, false, [insert(32)], 2));
    // A copy of items (from another slot: a resnapshot) at a snapshot taken after the transaction committed.
    const imageLsn = nextLsn();
    const copy = batchOf([ITEMS], [insert(40)], { sourceId, commitLsn: imageLsn });
    await send(receiver, { ...copy, slot: 'resnapshot_slot', snapshot: { schema: ITEMS.schema, table: ITEMS.table, image_lsn: imageLsn, index: 0, last: true } });
    expect(await stagedChunks(sourceId)).toBe(1);
    const { rows } = await sql<{ chunk: string }>`SELECT chunk FROM ${sql.id(STATE_SCHEMA, 'staged_chunks')} WHERE source_id = ${sourceId}`.execute(receiver.db);
    expect((JSON.parse(rows[0]!.chunk) as { events: ChangeEvent[] }).events.map((event) => `${event.table} ${event.seq}`)).toEqual(['others 1']);
  });
});

async function countAbove(id: number): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM "satellite/0".items WHERE id > ${id}`.execute(receiver.db);
  return Number(rows[0]!.n);
}
