// The slot is acknowledged only up to what the receiver has committed: never by a timer, never
// on receipt, never inside a transaction, never past a change that was not delivered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '@storx-backup/protocol';
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

async function currentWal(): Promise<string> {
  const { rows } = await pair.source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  return rows[0]!.lsn;
}

async function receiverWatermark(sourceId: string): Promise<{ commit_lsn: string; chunk_index: number; chunk_last: boolean } | undefined> {
  const { rows } = await pair.backup.query<{ commit_lsn: string; chunk_index: number; chunk_last: boolean }>(
    'SELECT commit_lsn::text, chunk_index, chunk_last FROM backuptools_state.watermarks WHERE source_id = $1',
    [sourceId],
  );
  return rows[0];
}

const insertObjects = (from: number, to: number): string =>
  `INSERT INTO objects (project_id, bucket_name, object_key, version, total_plain_size)
   SELECT '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', 'ack', int8send(g), 1, g FROM generate_series(${from}, ${to}) g`;

describe('acknowledgement', () => {
  it('does not move the slot while the receiver cannot commit, however long it waits; resumes with nothing lost', async () => {
    gate.setMode('pass');
    const config = pair.config({ 'replication.webhook-url': gate.url, 'replication.source-id': 'ack-outage' });
    let running = runReplicator(config);
    await waitFor(async () => (await slotConfirmed(pair.source, config.slotName)) !== null, { description: 'slot created', timeoutMs: 30_000 });
    await pair.source.query(insertObjects(1, 100));
    await waitForTableEqual(pair, 'objects', OBJECTS_KEY);

    gate.setMode('unavailable');
    // An upper bound for the undelivered transaction's commit record: the slot must never be
    // acknowledged past that (it may move into the transaction's own WAL before the commit,
    // which is safe: PostgreSQL sends every transaction whose commit is at or after it).
    await pair.source.query('BEGIN');
    await pair.source.query(insertObjects(101, 200));
    const { rows: bound } = await pair.source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    await pair.source.query('COMMIT');
    const before = bound[0]!.lsn;
    await pair.source.query('UPDATE objects SET status = 3 WHERE total_plain_size < 50');
    // Many status intervals (200 ms) and keepalives pass; a library timer would have acknowledged
    // the received-but-undelivered changes by now.
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline) {
      const confirmed = await slotConfirmed(pair.source, config.slotName);
      expect(parseLsn(confirmed!) <= parseLsn(before), `confirmed ${confirmed} passed ${before}`).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(running.replicator.healthy).toBe(false);

    // Kill it (no graceful stop: abandon everything in flight), then start again.
    await running.stop();
    expect(parseLsn((await slotConfirmed(pair.source, config.slotName))!) <= parseLsn(before)).toBe(true);
    gate.setMode('pass');
    running = runReplicator(config);
    try {
      await waitForTableEqual(pair, 'objects', OBJECTS_KEY);
      await waitFor(async () => parseLsn((await slotConfirmed(pair.source, config.slotName))!) > parseLsn(before), { description: 'slot advances after delivery', timeoutMs: 20_000 });
      expect(running.replicator.healthy).toBe(true);
    } finally {
      await running.stop();
    }
  });

  it('never acknowledges inside a split transaction: a crash between chunks resumes from its start', async () => {
    gate.setMode('pass');
    gate.forwarded = 0;
    const config = pair.config({ 'replication.webhook-url': gate.url, 'replication.source-id': 'ack-chunks', 'replication.max-batch-bytes': '16KiB' });
    let running = runReplicator(config);
    await waitFor(async () => (await slotConfirmed(pair.source, config.slotName)) !== null, { description: 'slot created', timeoutMs: 30_000 });
    await pair.source.query('DELETE FROM objects');
    await waitForTableEqual(pair, 'objects', OBJECTS_KEY);

    gate.forwarded = 0;
    gate.closeAfter = 3; // three chunks get through, then the receiver is unreachable
    await pair.source.query(insertObjects(1000, 2999));
    await waitFor(async () => (await receiverWatermark('ack-chunks'))?.chunk_index === 2, { description: 'three chunks applied', timeoutMs: 20_000 });
    const watermark = (await receiverWatermark('ack-chunks'))!;
    expect(watermark.chunk_last).toBe(false);
    // Not past the split transaction's commit record, however long we wait.
    for (let check = 0; check < 10; check += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const confirmed = (await slotConfirmed(pair.source, config.slotName))!;
      expect(parseLsn(confirmed) <= parseLsn(watermark.commit_lsn), `confirmed ${confirmed}, commit ${watermark.commit_lsn}`).toBe(true);
    }

    await running.stop();
    gate.closeAfter = undefined;
    running = runReplicator(config);
    try {
      await waitForTableEqual(pair, 'objects', OBJECTS_KEY);
      const final = (await receiverWatermark('ack-chunks'))!;
      expect(final).toMatchObject({ commit_lsn: watermark.commit_lsn, chunk_last: true });
      expect(final.chunk_index).toBeGreaterThan(2);
    } finally {
      await running.stop();
    }
  });

  it('moves an idle slot to the end of the WAL when nothing is in flight', async () => {
    gate.setMode('pass');
    const config = pair.config({ 'replication.source-id': 'ack-idle' });
    const running = runReplicator(config);
    try {
      await waitFor(async () => (await slotConfirmed(pair.source, config.slotName)) !== null, { description: 'slot created', timeoutMs: 30_000 });
      // WAL that the publication does not cover (another table) must not hold the slot back.
      await pair.source.query('CREATE TABLE IF NOT EXISTS unrelated (id integer)');
      await pair.source.query('INSERT INTO unrelated SELECT generate_series(1, 1000)');
      const end = await currentWal();
      await waitFor(async () => parseLsn((await slotConfirmed(pair.source, config.slotName))!) >= parseLsn(end), {
        description: `idle slot to reach ${end}`,
        timeoutMs: 60_000,
        intervalMs: 200,
      });
      const { rows } = await pair.source.query<{ lag: string }>('SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::text AS lag FROM pg_replication_slots WHERE slot_name = $1', [config.slotName]);
      expect(Number(rows[0]!.lag)).toBeLessThan(64 * 1024);
      expect(formatLsn(parseLsn(end))).toBe(end);
    } finally {
      await running.stop();
    }
  });
});
