// Scenarios 5, 7 and 8: the backup database down (the receiver answers 503) for a while, the
// source PostgreSQL crashed (-m immediate) and restarted mid-stream, the backup PostgreSQL
// restarted mid-stream. Each time the backup catches up with nothing lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@storx-backup/test-postgres';
import { expectBackupEqualsSource } from '../src/invariant.js';
import { System } from '../src/system.js';
import { runWorkload } from '../src/workload.js';

// The backup database stays down until the receiver has refused this many deliveries (the
// replicator retried each time and moved nothing past them); STORX_E2E_OUTAGE_SECONDS keeps it
// down at least that long too (a soak: 3600).
const REFUSALS = 5;
const OUTAGE_MS = Number(process.env['STORX_E2E_OUTAGE_SECONDS'] ?? 0) * 1000;

let system: System;
beforeAll(async () => {
  system = await System.start({ replication: { 'max-batch-bytes': '64KiB' } });
});
afterAll(async () => {
  await system?.stop();
});

/** How many webhook requests the receiver has answered with 503 (its metrics). */
async function refusedDeliveries(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${system.receiverPort}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('backuptools_requests_total{') && line.includes('status="503"'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

async function bulkInsert(rows: number): Promise<void> {
  await system.source.query(
    `INSERT INTO objects (project_id, bucket_name, object_key, version, encrypted_metadata, total_plain_size)
     SELECT gen_random_uuid(), 'outage', int8send(g), 1, decode(repeat(md5(g::text), 4), 'hex'), g FROM generate_series(1, $1::integer) g`,
    [rows],
  );
}

describe('outages', () => {
  it(`catches up after the receiver answered 503 to ${REFUSALS} deliveries in a row (backup database down)`, async () => {
    const before = await refusedDeliveries();
    await system.backupCluster.stopServer('fast');
    const writers = runWorkload(system.sourceUrl, { writers: 2, transactions: 200 });
    const probe = await waitFor(async () => {
      const response = await fetch(`http://127.0.0.1:${system.receiverPort}/readyz`);
      return response.status === 503 ? response : undefined;
    }, { description: 'receiver to report the database unavailable', timeoutMs: 60_000 });
    expect(probe.headers.get('retry-after')).toBe('5');
    await writers;
    let refused = 0;
    await waitFor(async () => (refused = (await refusedDeliveries()) - before) >= REFUSALS, {
      description: () => `the receiver to refuse ${REFUSALS} deliveries (refused ${refused})`,
      timeoutMs: 120_000,
      intervalMs: 250,
    });
    if (OUTAGE_MS > 0) await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    await system.backupCluster.startServer();
    await expectBackupEqualsSource(system);
  });

  it('catches up after the source PostgreSQL crashed (-m immediate) mid-stream', async () => {
    await bulkInsert(20_000);
    // Crash while the replicator is still delivering those rows.
    await system.source.end();
    await system.sourceCluster.restart({ mode: 'immediate' });
    await system.reconnectSource();
    await runWorkload(system.sourceUrl, { writers: 2, transactions: 100 });
    await expectBackupEqualsSource(system);
    expect(system.replicator.running).toBe(true);
  });

  it('catches up after the backup PostgreSQL restarted mid-stream', async () => {
    await bulkInsert(20_000);
    await system.backupCluster.restart({ mode: 'immediate' });
    await runWorkload(system.sourceUrl, { writers: 2, transactions: 100 });
    await expectBackupEqualsSource(system);
    expect(system.receiver.running).toBe(true);
  });
});
