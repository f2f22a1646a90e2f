// Scenarios 5, 7 and 8: the backup database down (the receiver answers 503) for a while, the
// source PostgreSQL crashed (-m immediate) and restarted mid-stream, the backup PostgreSQL
// restarted mid-stream. Each time the backup catches up with nothing lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@storx-backup/test-postgres';
import { expectBackupEqualsSource } from '../src/invariant.js';
import { System } from '../src/system.js';
import { runWorkload } from '../src/workload.js';

const OUTAGE_MS = Number(process.env['STORX_E2E_OUTAGE_SECONDS'] ?? 60) * 1000;

let system: System;
beforeAll(async () => {
  system = await System.start({ replication: { 'max-batch-bytes': '64KiB' } });
});
afterAll(async () => {
  await system?.stop();
});

async function bulkInsert(rows: number): Promise<void> {
  await system.source.query(
    `INSERT INTO objects (project_id, bucket_name, object_key, version, encrypted_metadata, total_plain_size)
     SELECT gen_random_uuid(), 'outage', int8send(g), 1, decode(repeat(md5(g::text), 4), 'hex'), g FROM generate_series(1, $1::integer) g`,
    [rows],
  );
}

describe('outages', () => {
  it(`catches up after the receiver answered 503 for ${OUTAGE_MS / 1000} s (backup database down)`, async () => {
    await system.backupCluster.stopServer('fast');
    const writers = runWorkload(system.sourceUrl, { writers: 2, durationMs: Math.min(OUTAGE_MS, 10_000) });
    const probe = await waitFor(async () => {
      const response = await fetch(`http://127.0.0.1:${system.receiverPort}/readyz`);
      return response.status === 503 ? response : undefined;
    }, { description: 'receiver to report the database unavailable', timeoutMs: 10_000 });
    expect(probe.headers.get('retry-after')).toBe('5');
    await writers;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - 10_000)));
    await system.backupCluster.startServer();
    await expectBackupEqualsSource(system.sourceUrl, system.backupUrl);
  });

  it('catches up after the source PostgreSQL crashed (-m immediate) mid-stream', async () => {
    await bulkInsert(20_000);
    // Crash while the replicator is still delivering those rows.
    await system.source.end();
    await system.sourceCluster.restart({ mode: 'immediate' });
    await system.reconnectSource();
    await runWorkload(system.sourceUrl, { writers: 2, durationMs: 2_000 });
    await expectBackupEqualsSource(system.sourceUrl, system.backupUrl);
    expect(system.replicator.running).toBe(true);
  });

  it('catches up after the backup PostgreSQL restarted mid-stream', async () => {
    await bulkInsert(20_000);
    await system.backupCluster.restart({ mode: 'immediate' });
    await runWorkload(system.sourceUrl, { writers: 2, durationMs: 2_000 });
    await expectBackupEqualsSource(system.sourceUrl, system.backupUrl);
    expect(system.receiver.running).toBe(true);
  });
});
