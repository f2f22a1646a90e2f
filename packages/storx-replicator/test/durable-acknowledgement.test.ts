// The receiver commits asynchronously: a crash of the backup PostgreSQL loses commits it had
// answered applied. The slot must never have been acknowledged past what the backup had on disk,
// and the replicator must notice the loss, stream again from the slot, and end with equal tables.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { parseLsn } from '@storx-backup/protocol';
import { connect, type PgCluster, startCluster, waitFor } from '@storx-backup/test-postgres';
import { OBJECTS_KEY, type Pair, runReplicator, slotConfirmed, startPair, waitForTableEqual } from './support.js';

let backupCluster: PgCluster;
let pair: Pair;
let original: pg.Client;
beforeAll(async () => {
  // The WAL writer sleeps 10 s: asynchronous commits stay in WAL buffers, where a crash loses them.
  backupCluster = await startCluster({ name: 'durable-ack', backend: 'embedded', settings: { wal_writer_delay: '10s' } });
  pair = await startPair({ backupServerUrl: backupCluster.url });
  original = pair.backup;
});
afterAll(async () => {
  // pair.close() ends the client it made; this test replaced it with one opened after a crash.
  if (pair !== undefined && pair.backup !== original) await pair.backup.end().catch(() => undefined);
  await pair?.close().catch(() => undefined);
  await backupCluster?.stop();
});

const insertRow = (id: number): string =>
  `INSERT INTO objects (project_id, bucket_name, object_key, version, total_plain_size) VALUES ('0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', 'durable', int8send(${id}), 1, ${id})`;

async function backupIds(backup: pg.Client): Promise<Set<number>> {
  const { rows } = await backup.query<{ id: string }>(`SELECT total_plain_size::text AS id FROM "satellite/0".objects`);
  return new Set(rows.map((row) => Number(row.id)));
}

describe('acknowledgement with asynchronous commit on the backup', () => {
  it('never acknowledges past what the backup flushed; after the backup crashes it streams again from the slot, nothing lost', async () => {
    const config = pair.config({ 'replication.source-id': 'durable-ack' });
    const running = runReplicator(config);
    try {
      await waitFor(async () => (await slotConfirmed(pair.source, config.slotName)) !== null, { description: 'slot created', timeoutMs: 30_000 });
      let next = 1;
      let lossSeen = false;
      for (let round = 0; round < 3 && !lossSeen; round += 1) {
        // Single-row transactions; before each, the WAL position, which no acknowledgement of
        // the transactions before it passes and every acknowledgement of it does.
        const before = new Map<number, bigint>();
        for (let count = 0; count < 30; count += 1, next += 1) {
          const { rows } = await pair.source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
          before.set(next, parseLsn(rows[0]!.lsn));
          await pair.source.query(insertRow(next));
        }
        await waitForTableEqual(pair, 'objects', OBJECTS_KEY);

        await pair.backup.end().catch(() => undefined);
        await backupCluster.stopServer('immediate');
        // Nothing can become durable now: what the slot is confirmed to is final for this round.
        const confirmed = parseLsn((await slotConfirmed(pair.source, config.slotName))!);
        await backupCluster.startServer();
        pair.backup = await connect(pair.backupUrl);
        pair.backup.on('error', () => undefined); // the next round crashes its server

        const present = await backupIds(pair.backup);
        const missing = [...before.keys()].filter((id) => !present.has(id));
        if (missing.length > 0) {
          lossSeen = true;
          const firstLost = Math.min(...missing);
          expect(confirmed <= before.get(firstLost)!, `slot confirmed at ${confirmed} but row ${firstLost}, committed after ${before.get(firstLost)}, was lost by the backup`).toBe(true);
        }
        // The replicator sees the watermark go back and streams again from the slot.
        await waitForTableEqual(pair, 'objects', OBJECTS_KEY, 60_000);
      }
      expect(lossSeen, 'a crash of the backup lost commits it had answered (else this test proves nothing)').toBe(true);
      const restarts = await running.replicator.metrics.registry.getSingleMetricAsString('storx_replicator_stream_restarts_total');
      expect(restarts).toMatch(/ [1-9]\d*\s*$/m);
      // Once all is durable again the slot moves on past every row (a synchronous commit on the
      // backup flushes the WAL now rather than at the WAL writer's next round).
      await pair.backup.query('CREATE TABLE flush_marker (n int); INSERT INTO flush_marker VALUES (1)');
      const { rows } = await pair.source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      await waitFor(async () => parseLsn((await slotConfirmed(pair.source, config.slotName))!) >= parseLsn(rows[0]!.lsn), { description: 'slot acknowledged past the last row', timeoutMs: 30_000 });
    } finally {
      await running.stop();
    }
  });
});
