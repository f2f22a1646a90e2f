import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { type Batch, parseLsn } from '@storx-backup/protocol';
import { predecessorApplied } from '../src/apply/watermark.js';
import { PredecessorWait } from '../src/apply/predecessor-wait.js';
import { readWatermark } from '../src/apply/watermark-store.js';
import { batchOf, nextLsn, OBJECTS, objectRow, signedRequest, STATE_SCHEMA, tableText, type TestReceiver, testReceiver } from './support.js';

// A sender that keeps several batches in flight names, in each, the batch it sent before
// (`follows`); the receiver holds a verified batch until that one is applied, and only then
// applies it (docs/protocol.md, "Several batches in flight").

let receiver: TestReceiver;
beforeAll(async () => {
  receiver = await testReceiver({ predecessorWait: { maxWaiting: 3, maxWaitingBytes: 1024 * 1024, timeoutMs: 60_000, pollMs: 50 } });
});
afterAll(async () => {
  await receiver.close();
});

const insert = (index: number) => ({ operation: 'INSERT' as const, data: objectRow(index), old_data: null, unchanged_toast: [] });
const update = (index: number, size: string) => ({ operation: 'UPDATE' as const, data: objectRow(index, { total_size: size }), old_data: null, unchanged_toast: [] });
const remove = (index: number) => {
  const { project_id, object_key, version } = objectRow(index);
  return { operation: 'DELETE' as const, data: null, old_data: { project_id: project_id!, object_key: object_key!, version: version! }, unchanged_toast: [] };
};

function following(batch: Batch, predecessor: Batch | undefined): Batch {
  return predecessor === undefined ? batch : { ...batch, follows: { commit_lsn: predecessor.commit_lsn, chunk_index: predecessor.chunk.index, chunk_last: predecessor.chunk.last } };
}

async function post(batch: Batch, options: Parameters<typeof signedRequest>[2] = {}) {
  const response = await receiver.app.inject(await signedRequest(batch, receiver.keys, options));
  return { status: response.statusCode, body: response.json<Record<string, unknown>>(), retryAfter: response.headers['retry-after'] };
}

async function waiting(): Promise<number> {
  const text = await receiver.app.metrics.registry.metrics();
  return Number(/^backuptools_batches_waiting_for_predecessor (\d+)/m.exec(text)?.[1] ?? 'NaN');
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function watermarkOf(sourceId: string): Promise<string | undefined> {
  const { rows } = await sql<{ w: string }>`SELECT (commit_lsn, chunk_index, chunk_last)::text AS w FROM ${sql.id(STATE_SCHEMA, 'watermarks')} WHERE source_id = ${sourceId}`.execute(receiver.db);
  return rows[0]?.w;
}

async function rowsOf(first: number, last: number): Promise<string[]> {
  const rows = await tableText(receiver.db, 'satellite/0', 'objects');
  const keys = Array.from({ length: last - first + 1 }, (_, i) => `\\x${(first + i).toString(16).padStart(8, '0')}`);
  return rows.filter((row) => keys.some((key) => row.includes(key)));
}

describe('a batch sent while the one before it is in flight', () => {
  it('waits (verified and decrypted) for its predecessor, then applies after it: in order, each change once', async () => {
    const sourceId = 'pipelined-in-order';
    const b1 = batchOf([OBJECTS], [insert(9001), insert(9002), insert(9003)], { sourceId });
    const b2 = following(batchOf([OBJECTS], [update(9001, '7.5'), insert(9004)], { sourceId }), b1);
    const b3 = following(batchOf([OBJECTS], [remove(9002), update(9004, '8.25')], { sourceId }), b2);
    // The last two arrive first: applied now, b3 would pass b1 and b2, and b1 and b2 would be
    // "duplicates" of it.
    const late3 = post(b3);
    const late2 = post(b2);
    await until(async () => (await waiting()) === 2);
    expect(await watermarkOf(sourceId)).toBeUndefined();
    expect(await post(b1)).toMatchObject({ status: 200, body: { status: 'applied' } });
    expect(await late2).toMatchObject({ status: 200, body: { status: 'applied' } });
    expect(await late3).toMatchObject({ status: 200, body: { status: 'applied' } });
    expect(await watermarkOf(sourceId)).toBe(`(${b3.commit_lsn},0,t)`);
    const rows = await rowsOf(9001, 9004);
    expect(rows).toHaveLength(3);
    expect(rows.find((row) => row.includes('x00002329'))).toContain(',7.5000000000,');
    expect(rows.find((row) => row.includes('x0000232c'))).toContain(',8.2500000000,');
    expect(rows.some((row) => row.includes('x0000232a'))).toBe(false);
    expect(await waiting()).toBe(0);
    // Sent again (the sender restarted from its first unacknowledged batch): duplicates.
    expect((await post(b2)).body).toMatchObject({ status: 'duplicate' });
    expect((await post(b3)).body).toMatchObject({ status: 'duplicate' });
  });

  it('a chunk of a split transaction waits for the chunk before it (after_seq), the next transaction for the last chunk', async () => {
    const sourceId = 'pipelined-chunks';
    const commitLsn = nextLsn();
    const chunk = (index: number, from: number, count: number, last: boolean): Batch => {
      const batch = batchOf([OBJECTS], Array.from({ length: count }, (_, i) => insert(9100 + from + i)), { sourceId, commitLsn, chunk: index === 0 ? { index, last } : { index, last, after_seq: from - 1 } });
      return { ...batch, events: batch.events.map((event, position) => ({ ...event, seq: from + position })) };
    };
    const c0 = chunk(0, 0, 4, false);
    const c1 = following(chunk(1, 4, 4, false), c0);
    const c2 = following(chunk(2, 8, 4, true), c1);
    const next = following(batchOf([OBJECTS], [insert(9120)], { sourceId }), c2);
    const pending = [post(next), post(c2), post(c1)];
    await until(async () => (await waiting()) === 3);
    expect(await post(c0)).toMatchObject({ status: 200, body: { status: 'applied' } });
    for (const answer of await Promise.all(pending)) expect(answer).toMatchObject({ status: 200, body: { status: 'applied' } });
    expect(await rowsOf(9100, 9120)).toHaveLength(13);
    expect(await watermarkOf(sourceId)).toBe(`(${next.commit_lsn},0,t)`);
  });

  it('an unauthenticated early batch is refused at once (401) and never waits; nothing applied', async () => {
    const sourceId = 'pipelined-forged';
    const b1 = batchOf([OBJECTS], [insert(9201)], { sourceId });
    const b2 = following(batchOf([OBJECTS], [insert(9202)], { sourceId }), b1);
    // The wait is 60 s here: a forged batch that waited would not be answered within the test.
    expect(await post(b2, { signingKey: receiver.keys.forgerKey })).toMatchObject({ status: 401 });
    expect(await waiting()).toBe(0);
    expect(await rowsOf(9201, 9202)).toEqual([]);
    expect(await watermarkOf(sourceId)).toBeUndefined();
  });

  it('refuses a batch whose follows is not before it (422), and one more waiter than the bound (503 ORDER_WAIT_FULL)', async () => {
    const sourceId = 'pipelined-bounds';
    const b1 = batchOf([OBJECTS], [insert(9301)], { sourceId });
    const selfish = following(batchOf([OBJECTS], [insert(9399)], { sourceId }), batchOf([OBJECTS], [], { sourceId, commitLsn: nextLsn() }));
    expect(await post(selfish)).toMatchObject({ status: 422, body: { error: 'PAYLOAD_INVALID' } });

    const later = [2, 3, 4, 5].map((n) => batchOf([OBJECTS], [insert(9300 + n)], { sourceId }));
    const chain = later.map((batch, i) => following(batch, i === 0 ? b1 : later[i - 1]));
    const held = chain.slice(0, 3).map((batch) => post(batch));
    await until(async () => (await waiting()) === 3);
    const refused = await post(chain[3]!);
    expect(refused).toMatchObject({ status: 503, body: { error: 'ORDER_WAIT_FULL' }, retryAfter: '1' });
    expect(await rowsOf(9301, 9305)).toEqual([]);
    expect(await post(b1)).toMatchObject({ status: 200, body: { status: 'applied' } });
    for (const answer of await Promise.all(held)) expect(answer.body).toMatchObject({ status: 'applied' });
    // Sent again, the refused one applies in its place.
    expect((await post(chain[3]!)).body).toMatchObject({ status: 'applied' });
    expect(await rowsOf(9301, 9305)).toHaveLength(5);
  });
});

describe('a predecessor that commits while the waiting batch reads the watermark', () => {
  it('ends the wait at once, not at the next poll', async () => {
    const sourceId = 'pipelined-race';
    const b1 = batchOf([OBJECTS], [insert(9601)], { sourceId });
    const b2 = following(batchOf([OBJECTS], [insert(9602)], { sourceId }), b1);
    // The read runs before b1 commits and returns what it saw; b1 commits (and its applied() is
    // called, as the route does) before the read is answered.
    const wait: PredecessorWait = new PredecessorWait(
      async (source, slot) => {
        const before = await readWatermark(receiver.db, STATE_SCHEMA, source, slot);
        expect((await post(b1)).body).toMatchObject({ status: 'applied' });
        wait.applied(source, slot, (await readWatermark(receiver.db, STATE_SCHEMA, source, slot))!);
        return before;
      },
      // A poll far longer than the test: only the committed watermark can end the wait.
      { maxWaiting: 4, maxWaitingBytes: 1024 * 1024, timeoutMs: 3_600_000, pollMs: 3_600_000 },
    );
    const gone = new AbortController();
    const deadline = new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), 30_000));
    try {
      expect(await Promise.race([wait.untilPredecessorApplied(b2, 100, gone.signal).then(() => 'released' as const), deadline])).toBe('released');
    } finally {
      gone.abort();
    }
    expect((await post(b2)).body).toMatchObject({ status: 'applied' });
    expect(await rowsOf(9601, 9602)).toHaveLength(2);
  });
});

describe('a batch whose predecessor never comes', () => {
  it('is answered 503 PREDECESSOR_NOT_APPLIED after the wait, with nothing applied; sent again after it, it applies', async () => {
    const short = await testReceiver({ databaseUrl: receiver.url, predecessorWait: { timeoutMs: 300, pollMs: 50 } });
    // The same database and state; this app trusts its own (new) keys.
    try {
      const sourceId = 'pipelined-timeout';
      const b1 = batchOf([OBJECTS], [insert(9401)], { sourceId });
      const b2 = following(batchOf([OBJECTS], [insert(9402)], { sourceId }), b1);
      const send = async (batch: Batch) => {
        const response = await short.app.inject(await signedRequest(batch, short.keys));
        return { status: response.statusCode, body: response.json<Record<string, unknown>>(), retryAfter: response.headers['retry-after'] };
      };
      expect(await send(b2)).toMatchObject({ status: 503, body: { error: 'PREDECESSOR_NOT_APPLIED' }, retryAfter: '1' });
      expect(await rowsOf(9401, 9402)).toEqual([]);
      expect(await watermarkOf(sourceId)).toBeUndefined();
      expect((await send(b1)).body).toMatchObject({ status: 'applied' });
      expect((await send(b2)).body).toMatchObject({ status: 'applied' });
      expect(await rowsOf(9401, 9402)).toHaveLength(2);
    } finally {
      await short.close();
    }
  });

  it('is refused at once (503 ORDER_WAIT_FULL) when its body would pass the bytes the waiting batches may hold', async () => {
    const small = await testReceiver({ databaseUrl: receiver.url, predecessorWait: { maxWaitingBytes: 100 } });
    try {
      const sourceId = 'pipelined-bytes';
      const b1 = batchOf([OBJECTS], [insert(9501)], { sourceId });
      const b2 = following(batchOf([OBJECTS], [insert(9502)], { sourceId }), b1);
      const response = await small.app.inject(await signedRequest(b2, small.keys));
      expect({ status: response.statusCode, error: response.json<{ error: string }>().error }).toEqual({ status: 503, error: 'ORDER_WAIT_FULL' });
      expect(await rowsOf(9501, 9502)).toEqual([]);
    } finally {
      await small.close();
    }
  });
});

describe('predecessorApplied', () => {
  const mark = (commitLsn: bigint, chunkIndex: number, chunkLast: boolean, eventSeq?: number) => ({ commitLsn: commitLsn as never, chunkIndex, chunkLast, eventSeq });
  const pred = (commitLsn: bigint, chunkIndex: number, chunkLast: boolean) => ({ commitLsn: commitLsn as never, chunkIndex, chunkLast });
  it('is true once the watermark is at or past the predecessor, never before', () => {
    expect(predecessorApplied(undefined, pred(10n, 0, true), undefined)).toBe(false);
    expect(predecessorApplied(mark(9n, 0, true), pred(10n, 0, true), undefined)).toBe(false);
    expect(predecessorApplied(mark(10n, 0, true), pred(10n, 0, true), undefined)).toBe(true);
    expect(predecessorApplied(mark(11n, 0, false), pred(10n, 0, true), undefined)).toBe(true);
    // The predecessor ends a transaction the watermark has only partly applied.
    expect(predecessorApplied(mark(10n, 3, false, 30), pred(10n, 4, true), undefined)).toBe(false);
    // Chunks of one transaction: by after_seq (a re-split transaction renumbers its chunks), else by index.
    expect(predecessorApplied(mark(10n, 7, false, 19), pred(10n, 1, false), 20)).toBe(false);
    expect(predecessorApplied(mark(10n, 0, false, 20), pred(10n, 1, false), 20)).toBe(true);
    expect(predecessorApplied(mark(10n, 1, false), pred(10n, 1, false), undefined)).toBe(true);
    expect(predecessorApplied(mark(10n, 0, false), pred(10n, 1, false), undefined)).toBe(false);
  });
});

describe('PredecessorWait', () => {
  it('does not miss a commit that lands while a copy chunk reads the copy progress (no wait for the next poll)', async () => {
    const image = nextLsn();
    const chunk1: Batch = { ...batchOf([OBJECTS], [insert(9901)], { sourceId: 'race', commitLsn: image }), snapshot: { schema: OBJECTS.schema, table: OBJECTS.table, image_lsn: image, index: 1, last: false }, follows: { commit_lsn: image, chunk_index: 0, chunk_last: false } };
    let reads = 0;
    // Chunk 0 commits (and wakes waiters) while the waiter's first read is on its way and read
    // the progress before it: that wake-up finds no waiter yet. With a poll of 10 minutes the
    // waiter must notice the commit anyway.
    const progress = (nextChunk: number) => ({ schema: OBJECTS.schema, table: OBJECTS.table, imageLsn: parseLsn(image), nextChunk, done: false, rowsCopied: 0n });
    const wait: PredecessorWait = new PredecessorWait(() => Promise.resolve(undefined), { maxWaiting: 4, maxWaitingBytes: 1024, timeoutMs: 1_200_000, pollMs: 600_000 }, () => {
      reads += 1;
      if (reads > 1) return Promise.resolve(progress(1));
      wait.applied(chunk1.source_id, chunk1.slot, { commitLsn: undefined, chunkIndex: 0, chunkLast: true, eventSeq: undefined });
      return Promise.resolve(progress(0));
    });
    await wait.untilPredecessorApplied(chunk1, 100, new AbortController().signal);
    expect(reads).toBe(2);
    expect(wait.size).toBe(0);
  });
});
