import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { batchOf, nextLsn, OBJECTS, objectRow, signedRequest, STATE_SCHEMA, tableText, type TestReceiver, testReceiver } from './support.js';

let receiver: TestReceiver;
beforeAll(async () => {
  receiver = await testReceiver();
});
afterAll(async () => {
  await receiver.close();
});

const insert = (index: number) => ({ operation: 'INSERT' as const, data: objectRow(index), old_data: null, unchanged_toast: [] });

async function state(sourceId: string): Promise<{ rows: string[]; watermark: string | undefined }> {
  const exists = await sql<{ t: string | null }>`SELECT to_regclass('"satellite/0".objects')::text AS t`.execute(receiver.db);
  const rows = exists.rows[0]?.t === null ? [] : await tableText(receiver.db, 'satellite/0', 'objects');
  const { rows: marks } = await sql<{ w: string }>`SELECT (commit_lsn, chunk_index, chunk_last)::text AS w FROM ${sql.id(STATE_SCHEMA, 'watermarks')} WHERE source_id = ${sourceId}`.execute(receiver.db);
  return { rows, watermark: marks[0]?.w };
}

describe('chunks and positions the receiver refuses', () => {
  it('409 for a chunk beyond the next one of the incomplete transaction; the missing chunks then apply in order', async () => {
    const sourceId = 'chunk-gap';
    const commitLsn = nextLsn();
    const chunk = (index: number, last: boolean, rows: number[]) => {
      const batch = batchOf([OBJECTS], rows.map(insert), { sourceId, commitLsn, chunk: { index, last } });
      // seq continues across chunks, as the sender numbers changes within one transaction
      return { ...batch, events: batch.events.map((event, position) => ({ ...event, seq: index * 10 + position })) };
    };
    expect((await receiver.app.inject(await signedRequest(chunk(0, false, [9000]), receiver.keys))).statusCode).toBe(200);
    const before = await state(sourceId);

    const skipping = await receiver.app.inject(await signedRequest(chunk(5, true, [9005]), receiver.keys));
    expect(skipping.statusCode, skipping.body).toBe(409);
    expect(skipping.json()).toMatchObject({ error: 'CHUNK_OUT_OF_ORDER', message: expect.stringContaining('chunks 1-4 are missing') as string });
    expect(await state(sourceId)).toEqual(before);

    for (const [index, last] of [[1, false], [2, true]] as const) {
      const response = await receiver.app.inject(await signedRequest(chunk(index, last, [9000 + index]), receiver.keys));
      expect(response.json()).toMatchObject({ status: 'applied', watermark: { chunk_index: index, chunk_last: last } });
    }
    const rows = await tableText(receiver.db, 'satellite/0', 'objects');
    expect(rows.filter((row) => /\\x0000232[89a]/.test(row))).toHaveLength(3);
  });

  it('422 for a commit position no server can reach (FFFFFFFF/FFFFFFFF), which leaves the next real batch applicable', async () => {
    const sourceId = 'impossible-lsn';
    const before = await state(sourceId);
    for (const commitLsn of ['FFFFFFFF/FFFFFFFF', '80000000/0']) {
      const response = await receiver.app.inject(await signedRequest(batchOf([OBJECTS], [insert(9100)], { sourceId, commitLsn }), receiver.keys));
      expect(response.statusCode, response.body).toBe(422);
      expect(response.json()).toMatchObject({ error: 'PAYLOAD_INVALID', message: expect.stringContaining('commit_lsn') as string });
      expect(await state(sourceId)).toEqual(before);
    }
    const real = await receiver.app.inject(await signedRequest(batchOf([OBJECTS], [insert(9101)], { sourceId }), receiver.keys));
    expect(real.json()).toMatchObject({ status: 'applied' });
  });

  it('422 for a change positioned after its own commit', async () => {
    const sourceId = 'change-after-commit';
    const batch = batchOf([OBJECTS], [insert(9200)], { sourceId });
    const broken = { ...batch, events: batch.events.map((event) => ({ ...event, lsn: 'FFFF/0' })) };
    const before = await state(sourceId);
    const response = await receiver.app.inject(await signedRequest(broken, receiver.keys));
    expect(response.statusCode, response.body).toBe(422);
    expect(response.json()).toMatchObject({ error: 'PAYLOAD_INVALID', message: expect.stringContaining('events[0].lsn') as string });
    expect(await state(sourceId)).toEqual(before);
  });
});
