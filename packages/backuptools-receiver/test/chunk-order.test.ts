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

describe('a transaction re-split by a restarted sender (after_seq)', () => {
  it('ends with every row exactly once when split one way, then (after a restart) another way with other chunk indexes', async () => {
    const sourceId = 'chunk-resplit';
    const commitLsn = nextLsn();
    const ids = Array.from({ length: 30 }, (_, seq) => 7000 + seq);
    /** The changes with seq in [from, to) as chunk `index`, following the change `after`. */
    const chunk = (index: number, from: number, to: number, last: boolean) => {
      const batch = batchOf([OBJECTS], ids.slice(from, to).map(insert), { sourceId, commitLsn, chunk: index === 0 ? { index, last } : { index, last, after_seq: from - 1 } });
      return { ...batch, events: batch.events.map((event, position) => ({ ...event, seq: from + position })) };
    };
    const send = async (batch: ReturnType<typeof chunk>) => {
      const response = await receiver.app.inject(await signedRequest(batch, receiver.keys));
      return { status: response.statusCode, body: response.json<Record<string, unknown>>() };
    };
    // Split by 10: chunks 0 and 1 (changes 0-19) arrive, then the sender is killed.
    expect((await send(chunk(0, 0, 10, false))).body).toMatchObject({ status: 'applied' });
    expect((await send(chunk(1, 10, 20, false))).body).toMatchObject({ status: 'applied' });
    // Restarted with a smaller max-batch-bytes: split by 4 from the start of the transaction.
    const resplit = [0, 4, 8, 12, 16, 20, 24, 28].map((from, index, starts) => chunk(index, from, Math.min(from + 4, 30), index === starts.length - 1));
    const answers = [];
    for (const batch of resplit) answers.push((await send(batch)).body['status']);
    // Chunks 0-4 repeat what was applied; chunk 5 starts exactly after it, with an index (5) that
    // proves nothing by itself (the watermark's is 1): its after_seq (19) shows it continues.
    expect(answers).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'applied', 'applied', 'applied']);
    const rows = await tableText(receiver.db, 'satellite/0', 'objects');
    const keys = ids.map((id) => `\\x${id.toString(16).padStart(8, '0')}`);
    expect(keys.map((key) => rows.filter((row) => row.includes(key)).length)).toEqual(ids.map(() => 1));
    expect((await state(sourceId)).watermark).toBe(`(${commitLsn},7,t)`);
  });

  it('409 for a chunk whose after_seq is past the changes applied, whatever its index, and nothing changes', async () => {
    const sourceId = 'chunk-after-gap';
    const commitLsn = nextLsn();
    const chunk = (index: number, from: number, count: number, afterSeq?: number) => {
      const batch = batchOf([OBJECTS], Array.from({ length: count }, (_, i) => insert(7100 + from + i)), { sourceId, commitLsn, chunk: afterSeq === undefined ? { index, last: false } : { index, last: false, after_seq: afterSeq } });
      return { ...batch, events: batch.events.map((event, position) => ({ ...event, seq: from + position })) };
    };
    expect((await receiver.app.inject(await signedRequest(chunk(0, 0, 5), receiver.keys))).statusCode).toBe(200);
    const before = await state(sourceId);
    const { rows: stagedBefore } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM ${sql.id(STATE_SCHEMA, 'staged_chunks')} WHERE source_id = ${sourceId}`.execute(receiver.db);
    // Index 1 (the next one by number), but it follows change 9: changes 5-9 were never applied.
    const skipping = await receiver.app.inject(await signedRequest(chunk(1, 10, 5, 9), receiver.keys));
    expect(skipping.statusCode, skipping.body).toBe(409);
    expect(skipping.json()).toMatchObject({ error: 'CHUNK_OUT_OF_ORDER', message: expect.stringContaining('applied only up to seq 4') as string });
    expect(await state(sourceId)).toEqual(before);
    const { rows: stagedAfter } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM ${sql.id(STATE_SCHEMA, 'staged_chunks')} WHERE source_id = ${sourceId}`.execute(receiver.db);
    expect(stagedAfter).toEqual(stagedBefore);
  });

  it('422 for an after_seq on a first chunk, or a chunk whose changes are not after its after_seq', async () => {
    const commitLsn = nextLsn();
    const first = batchOf([OBJECTS], [insert(7200)], { sourceId: 'chunk-after-invalid', commitLsn, chunk: { index: 0, last: false, after_seq: 3 } });
    const onFirst = await receiver.app.inject(await signedRequest(first, receiver.keys));
    expect(onFirst.statusCode, onFirst.body).toBe(422);
    expect(onFirst.json()).toMatchObject({ error: 'PAYLOAD_INVALID', message: expect.stringContaining('chunk.after_seq') as string });
    const repeating = batchOf([OBJECTS], [insert(7201)], { sourceId: 'chunk-after-invalid', commitLsn, chunk: { index: 1, last: false, after_seq: 3 } });
    const notAfter = await receiver.app.inject(await signedRequest({ ...repeating, events: repeating.events.map((event) => ({ ...event, seq: 3 })) }, receiver.keys));
    expect(notAfter.statusCode, notAfter.body).toBe(422);
    expect(notAfter.json()).toMatchObject({ error: 'PAYLOAD_INVALID', message: expect.stringContaining('events[0].seq') as string });
  });
});

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
