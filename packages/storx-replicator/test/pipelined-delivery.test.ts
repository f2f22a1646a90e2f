// Several batches in flight (replication.max-in-flight): the receiver applies them in order, the
// slot is acknowledged only up to the highest batch answered with all before it, and a failure
// or a crash with batches in flight loses and duplicates nothing. Likewise several chunks of a
// table copy in flight.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLsn } from '@storx-backup/protocol';
import { waitFor } from '@storx-backup/test-postgres';
import { GateProxy } from './gate-proxy.js';
import { OBJECTS_KEY, type Pair, runReplicator, slotConfirmed, startPair, waitForTableEqual } from './support.js';

let pair: Pair;
let gate: GateProxy;
beforeAll(async () => {
  pair = await startPair();
  gate = await GateProxy.start(`${pair.receiver.url}/webhook`);
});
afterAll(async () => {
  await gate.close();
  await pair.close();
});

/** Small batches (20 events), four in flight, through the gate. */
const pipelined = (sourceId: string) => pair.config({ 'replication.webhook-url': gate.url, 'replication.source-id': sourceId, 'replication.max-batch-events': '20', 'replication.max-in-flight': '4', 'replication.initial-snapshot': 'false', 'shutdown-timeout': '200ms' });

async function currentWal(): Promise<bigint> {
  const { rows } = await pair.source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  return parseLsn(rows[0]!.lsn);
}

async function watermark(sourceId: string): Promise<string | undefined> {
  const { rows } = await pair.backup.query<{ w: string }>('SELECT (commit_lsn, chunk_index, chunk_last)::text AS w FROM backuptools_state.watermarks WHERE source_id = $1', [sourceId]);
  return rows[0]?.w;
}

/**
 * `transactions` transactions whose effect depends on their order: each inserts 7 rows and sets
 * `status` of every earlier row of its bucket to its own number; applied out of order, or one
 * skipped as a "duplicate", the backup's statuses differ from the source's.
 */
async function orderedWorkload(bucket: string, from: number, transactions: number): Promise<void> {
  for (let n = from; n < from + transactions; n += 1) {
    await pair.source.query('BEGIN');
    await pair.source.query(
      `INSERT INTO objects (project_id, bucket_name, object_key, version, total_plain_size)
       SELECT '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', $1, int8send($2 * 100 + g), 1, g FROM generate_series(1, 7) g`,
      [bucket, n],
    );
    await pair.source.query('UPDATE objects SET status = $2 WHERE bucket_name = $1', [bucket, n % 100]);
    if (n % 5 === 0) await pair.source.query('DELETE FROM objects WHERE bucket_name = $1 AND object_key = int8send($2 * 100 + 1)', [bucket, n - 1]);
    await pair.source.query('COMMIT');
  }
}

async function caughtUp(config: ReturnType<typeof pipelined>, sourceId: string): Promise<void> {
  const end = await currentWal();
  await waitForTableEqual(pair, 'objects', OBJECTS_KEY, 60_000);
  await waitFor(async () => parseLsn((await slotConfirmed(pair.source, config.slotName))!) >= end, { description: 'slot confirmed past the last write', timeoutMs: 60_000 });
  expect(await watermark(sourceId)).toMatch(/,0,t\)$/);
}

describe('several batches in flight', () => {
  it('are on the wire together and applied in order: equal tables, watermark and slot right', async () => {
    const config = pipelined('inflight-order');
    const running = runReplicator(config);
    try {
      await waitFor(async () => (await slotConfirmed(pair.source, config.slotName)) !== null, { description: 'slot created', timeoutMs: 30_000 });
      gate.maxConcurrent = 0;
      // Held at the gate while the workload commits, the batches pile up; released, they go
      // four at a time.
      gate.setMode('hang');
      await orderedWorkload('inflight-a', 1, 120);
      await waitFor(() => gate.concurrent >= 4, { description: 'four batches held at the gate at once', timeoutMs: 30_000 });
      gate.setMode('pass');
      await caughtUp(config, 'inflight-order');
      expect(gate.maxConcurrent).toBeGreaterThanOrEqual(4);
      expect(running.replicator.healthy).toBe(true);
    } finally {
      await running.stop();
    }
  });

  it('a transaction committed while a batch is on the wire goes at once, not after it: the trickle does not wait', async () => {
    // A linger far longer than the test: with the old rule (wait for the delivery in flight) the
    // second transaction would stay in the batcher while the first batch is held at the gate.
    const config = pair.config({ 'replication.webhook-url': gate.url, 'replication.source-id': 'inflight-trickle', 'replication.max-in-flight': '4', 'replication.batch-linger': '10m', 'replication.initial-snapshot': 'false', 'shutdown-timeout': '200ms' });
    const running = runReplicator(config);
    try {
      await waitFor(async () => (await slotConfirmed(pair.source, config.slotName)) !== null, { description: 'slot created', timeoutMs: 30_000 });
      gate.setMode('hang');
      await orderedWorkload('inflight-trickle', 1, 1);
      await waitFor(() => gate.concurrent >= 1, { description: 'the first batch held at the gate', timeoutMs: 30_000 });
      const confirmedWhileHeld = parseLsn((await slotConfirmed(pair.source, config.slotName))!);
      await orderedWorkload('inflight-trickle', 2, 1);
      await waitFor(() => gate.concurrent >= 2, { description: 'the second transaction on the wire while the first is still held', timeoutMs: 30_000 });
      // Nothing is acknowledged while both are unanswered.
      expect(parseLsn((await slotConfirmed(pair.source, config.slotName))!)).toBe(confirmedWhileHeld);
      gate.setMode('pass');
      await caughtUp(config, 'inflight-trickle');
    } finally {
      gate.setMode('pass');
      await running.stop();
    }
  });

  it('a failure with batches in flight, then a crash with batches in flight: nothing lost, nothing twice', async () => {
    const config = pipelined('inflight-failure');
    let running = runReplicator(config);
    try {
      await waitFor(async () => (await slotConfirmed(pair.source, config.slotName)) !== null, { description: 'slot created', timeoutMs: 30_000 });
      // The receiver takes three requests, then refuses everything (503) while more are in
      // flight: the sender sends again from the first unanswered batch.
      gate.forwarded = 0;
      gate.closeAfter = 3;
      await orderedWorkload('inflight-b', 1, 60);
      await waitFor(() => gate.refused >= 6, { description: 'requests refused while several were in flight', timeoutMs: 30_000 });
      const confirmedWhileRefused = parseLsn((await slotConfirmed(pair.source, config.slotName))!);
      gate.closeAfter = undefined;
      await caughtUp(config, 'inflight-failure');
      expect(parseLsn((await slotConfirmed(pair.source, config.slotName))!)).toBeGreaterThan(confirmedWhileRefused);

      // Batches held at the gate (on the wire, unanswered) when the replicator stops without
      // waiting for them (shutdown-timeout 200 ms): the next run starts from the slot and sends
      // them again, while the abandoned requests, released, reach the receiver beside its own.
      gate.setMode('hang');
      await orderedWorkload('inflight-b', 100, 60);
      await waitFor(() => gate.concurrent >= 2, { description: 'several batches on the wire', timeoutMs: 30_000 });
      await running.stop();
      running = runReplicator(config);
      gate.setMode('pass');
      await caughtUp(config, 'inflight-failure');
    } finally {
      gate.setMode('pass');
      await running.stop();
    }
  });
});

describe('several chunks of a table copy in flight', () => {
  async function copyProgress(sourceId: string): Promise<{ done: boolean; rows_copied: string } | undefined> {
    const { rows } = await pair.backup.query<{ done: boolean; rows_copied: string }>("SELECT done, rows_copied::text FROM backuptools_state.table_copies WHERE source_id = $1 AND table_name = 'objects'", [sourceId]);
    return rows[0];
  }

  it('go together and apply in order; a stop and a failure with chunks on the wire lose and repeat nothing', async () => {
    const sourceId = 'copy-in-flight';
    await pair.source.query(
      `INSERT INTO objects (project_id, bucket_name, object_key, version, total_plain_size)
       SELECT '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', 'copy-in-flight', int8send(g), 1, g FROM generate_series(1, 8000) g`,
    );
    const { rows } = await pair.source.query<{ count: string }>('SELECT count(*)::text AS count FROM objects');
    // Chunks of ~16 KiB (~100 rows), four in flight, through the gate.
    const config = pair.config({ 'replication.webhook-url': gate.url, 'replication.source-id': sourceId, 'replication.copy-chunk-bytes': '16KiB', 'replication.max-in-flight': '4', 'replication.initial-snapshot': 'true', 'shutdown-timeout': '200ms' });
    gate.maxConcurrent = 0;
    gate.forwarded = 0;
    // The ping and a few chunks pass; then the gate holds what comes: the head and the chunks
    // sent ahead of it pile up there.
    gate.hangAfter = 6;
    let running = runReplicator(config);
    try {
      await waitFor(() => gate.mode === 'hang' && gate.concurrent >= 4, { description: 'four copy chunks held at the gate at once', timeoutMs: 30_000 });
      // A stop with chunks on the wire: the next run copies the table again in a new snapshot,
      // while the abandoned chunks, released, reach the receiver beside the new copy's.
      await running.stop().catch(() => undefined);
      expect((await copyProgress(sourceId))?.done ?? false).toBe(false);
      running = runReplicator(config);
      gate.setMode('pass');
      // A failure with chunks in flight: the receiver refuses everything (503) for a while.
      gate.closeAfter = gate.forwarded + 8;
      await waitFor(() => gate.refused >= 3, { description: 'copy chunks refused while several were in flight', timeoutMs: 30_000 });
      gate.closeAfter = undefined;
      await waitFor(async () => (await copyProgress(sourceId))?.done === true, { description: 'the copy done', timeoutMs: 60_000 });
      expect(await copyProgress(sourceId)).toEqual({ done: true, rows_copied: rows[0]!.count });
      expect(gate.maxConcurrent).toBeGreaterThanOrEqual(4);
      // The stream joins the copy with no gap and no double effect.
      const end = await currentWal();
      await orderedWorkload('copy-in-flight-after', 1, 10);
      await waitForTableEqual(pair, 'objects', OBJECTS_KEY, 60_000);
      await waitFor(async () => parseLsn((await slotConfirmed(pair.source, config.slotName))!) >= end, { description: 'slot confirmed past the last write', timeoutMs: 60_000 });
    } finally {
      gate.setMode('pass');
      gate.closeAfter = undefined;
      await running.stop().catch(() => undefined);
    }
  });
});
