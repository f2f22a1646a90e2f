// A receiver that refuses a batch for good (4xx) blocks the stream: nothing is skipped, the
// slot stays, the replicator reports itself unhealthy, and fixing the receiver resumes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLsn } from '@storx-backup/protocol';
import { waitFor } from '@storx-backup/test-postgres';
import { startReceiver, loadReceiverConfig } from '@storx-backup/backuptools-receiver';
import { join } from 'node:path';
import { type Pair, quietLogger, runReplicator, slotConfirmed, startPair, waitForTableEqual } from './support.js';

let pair: Pair;
beforeAll(async () => {
  // This receiver allows `objects` only: a change to `segments` is refused with 422.
  pair = await startPair({ receiverFlags: { tables: 'objects' } });
});
afterAll(async () => {
  await pair.close();
});

describe('permanent rejections', () => {
  it('block the stream without skipping, and resume once the receiver is fixed', async () => {
    // No initial copy: it would be refused too (segments is not allowed) before the stream starts.
    const config = pair.config({ 'replication.source-id': 'rejected', 'replication.max-retry-delay': '300ms', 'replication.initial-snapshot': 'false' });
    const running = runReplicator(config);
    let fixed: Awaited<ReturnType<typeof startReceiver>> | undefined;
    try {
      await waitFor(async () => (await slotConfirmed(pair.source, config.slotName)) !== null, { description: 'slot created', timeoutMs: 30_000 });
      await pair.source.query("INSERT INTO objects (project_id, bucket_name, object_key, version) VALUES (gen_random_uuid(), 'b', 'before', 1)");
      await waitForTableEqual(pair, 'objects', 'object_key');

      // An upper bound for the refused transaction's commit record (see acknowledgement.test.ts).
      await pair.source.query('BEGIN');
      await pair.source.query("INSERT INTO segments (stream_id, position) VALUES (gen_random_uuid(), 1)");
      const { rows } = await pair.source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      await pair.source.query('COMMIT');
      const before = rows[0]!.lsn;
      await pair.source.query("INSERT INTO objects (project_id, bucket_name, object_key, version) VALUES (gen_random_uuid(), 'b', 'after', 1)");
      await waitFor(() => !running.replicator.healthy, { description: 'replicator reports unhealthy', timeoutMs: 20_000 });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // The later `objects` change was not applied around the refused batch, and the slot stayed.
      const { rows: after } = await pair.backup.query<{ n: string }>(`SELECT count(*)::text AS n FROM "satellite/0".objects WHERE object_key = 'after'::bytea`);
      expect(after[0]!.n).toBe('0');
      expect(parseLsn((await slotConfirmed(pair.source, config.slotName))!) <= parseLsn(before)).toBe(true);
      const metrics = await running.replicator.metrics.registry.getSingleMetricAsString('storx_replicator_delivery_failures_total');
      expect(metrics).toMatch(/class="http_4xx"\} [1-9]/);

      // Fix: the same backup database behind a receiver that allows `segments` too.
      await pair.receiver.close();
      const port = new URL(pair.receiver.url).port;
      const keyDir = pair.keyDir;
      fixed = await startReceiver(
        loadReceiverConfig({
          env: {},
          configFile: undefined,
          flags: new Map(Object.entries({ 'database-url': pair.backupUrl, 'listen-host': '127.0.0.1', 'listen-port': port, 'private-keys': join(keyDir, 'backuptools_private.pem'), 'trusted-sender-keys': join(keyDir, 'storx_signing_public.pem') })),
        }),
        quietLogger,
      );
      await waitForTableEqual(pair, 'objects', 'object_key');
      await waitForTableEqual(pair, 'segments', 'stream_id, position');
      await waitFor(() => running.replicator.healthy, { description: 'healthy again', timeoutMs: 10_000 });
    } finally {
      await running.stop();
      // pair.close() closes the original receiver again; closing twice is harmless.
      await fixed?.close();
    }
  });
});
