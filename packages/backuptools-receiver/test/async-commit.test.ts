// Batches committed with synchronous_commit = off: the answer says applied at once, and, apart,
// how far is on disk. A backup PostgreSQL with a long wal_writer_delay keeps commits unflushed
// until something flushes them; its crash loses them, and the durable position never claimed them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { parseLsn } from '@storx-backup/protocol';
import { type PgCluster, startCluster, waitFor } from '@storx-backup/test-postgres';
import { migrateState } from '../src/state/migrations.js';
import { batchOf, OBJECTS, objectRow, signedRequest, STATE_SCHEMA, type TestReceiver, testReceiver } from './support.js';

let cluster: PgCluster;
let receiver: TestReceiver;
beforeAll(async () => {
  cluster = await startCluster({ name: 'async-commit', backend: 'embedded', settings: { wal_writer_delay: '10s' } });
  const url = await cluster.createDatabase('receiver');
  receiver = await testReceiver({ databaseUrl: url, synchronousCommit: false });
  await migrateState(receiver.db, STATE_SCHEMA);
});
afterAll(async () => {
  await receiver?.close();
  await cluster?.stop();
});

type Answer = { status: string; watermark: { commit_lsn: string | null } | null; durable: { commit_lsn: string | null } | null };

/** A batch whose sender acknowledges by the durable position (`acknowledges: "durable"`), as ours does. */
async function apply(index: number): Promise<{ commitLsn: string; answer: Answer }> {
  const batch = { ...batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(index), old_data: null, unchanged_toast: [] }]), acknowledges: 'durable' as const };
  const response = await receiver.app.inject(await signedRequest(batch, receiver.keys));
  expect(response.statusCode, response.body).toBe(200);
  return { commitLsn: batch.commit_lsn, answer: response.json<Answer>() };
}

async function ping(): Promise<Answer> {
  const response = await receiver.app.inject(await signedRequest(batchOf([OBJECTS], []), receiver.keys));
  if (response.statusCode !== 200) throw new Error(`ping answered ${response.statusCode}: ${response.body}`);
  return response.json<Answer>();
}

/** A synchronous commit that wrote WAL, on another connection, flushes all WAL before it (as the WAL writer would, later). */
async function flushWal(): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS public.flush_marker (n int)`.execute(receiver.db);
  await sql`INSERT INTO public.flush_marker VALUES (1)`.execute(receiver.db);
}

/** Orders LSN texts. */
const lsn = (text: string | null | undefined): bigint => (text ? parseLsn(text) : -1n);

describe('asynchronous commit with the durable position answered apart', () => {
  it('answers applied at once; durable reaches it once the WAL is flushed', async () => {
    const first = await apply(1);
    expect(first.answer).toMatchObject({ status: 'applied', watermark: { commit_lsn: first.commitLsn } });
    expect(lsn(first.answer.durable?.commit_lsn)).toBeLessThanOrEqual(lsn(first.commitLsn));
    await flushWal();
    expect((await ping()).durable?.commit_lsn).toBe(first.commitLsn);
  });

  it('commits a batch that does not say `acknowledges: "durable"` synchronously: a sender older than it takes a 2xx for on disk', async () => {
    const batch = batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(4), old_data: null, unchanged_toast: [] }], { sourceId: 'older-sender' });
    const response = await receiver.app.inject(await signedRequest(batch, receiver.keys));
    // The WAL writer sleeps 10 s: only a synchronous commit has flushed the batch already.
    expect(response.json<Answer>()).toMatchObject({ status: 'applied', watermark: { commit_lsn: batch.commit_lsn }, durable: { commit_lsn: batch.commit_lsn } });
  });

  it('with synchronous-commit on, answers every batch durable at once (the WAL writer still asleep)', async () => {
    const synchronous = await testReceiver({ databaseUrl: receiver.url, synchronousCommit: true });
    try {
      const batch = batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(5), old_data: null, unchanged_toast: [] }], { sourceId: 'synchronous' });
      const response = await synchronous.app.inject(await signedRequest(batch, synchronous.keys));
      expect(response.json<Answer>()).toMatchObject({ status: 'applied', watermark: { commit_lsn: batch.commit_lsn }, durable: { commit_lsn: batch.commit_lsn } });
    } finally {
      await synchronous.close();
    }
  });

  it('never reports durable what a crash of the backup PostgreSQL loses', async () => {
    // Several rounds: whether the WAL writer flushed a commit before the crash is up to it; what
    // must hold every time is that nothing reported durable is missing afterwards.
    let lostSome = false;
    for (let round = 0; round < 3; round += 1) {
      const applied = [await apply(10 + round * 3), await apply(11 + round * 3), await apply(12 + round * 3)];
      const durable = applied.at(-1)!.answer.durable?.commit_lsn;
      await cluster.restart({ mode: 'immediate' });
      // The pool reconnects; the first queries after the crash may still meet dead connections.
      const afterCrash = await waitFor(async () => ping().catch(() => undefined), { description: 'receiver answers after the crash', timeoutMs: 30_000 });
      const survived = lsn(afterCrash.watermark?.commit_lsn);
      expect(survived, `durable ${durable} was reported, the backup holds ${afterCrash.watermark?.commit_lsn} after the crash`).toBeGreaterThanOrEqual(lsn(durable));
      if (survived < lsn(applied.at(-1)!.commitLsn)) lostSome = true;
      // The new server's WAL moves past the lost commits' positions: they are never reported durable.
      await flushWal();
      expect(lsn((await ping()).durable?.commit_lsn)).toBeLessThanOrEqual(survived);
    }
    console.log(`async-commit crash rounds: ${lostSome ? 'a crash lost answered commits' : 'no commit was lost'}`);
  });
});
