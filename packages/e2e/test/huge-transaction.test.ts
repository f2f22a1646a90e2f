// Scenario 9: one transaction of a million `objects` rows (~300 bytes each). It arrives whole,
// and neither service's memory grows with the transaction: both peak RSS values are recorded
// and held under a fixed bound.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectBackupEqualsSource } from '../src/invariant.js';
import { peakRssBytes } from '@storx-backup/test-postgres';
import { System } from '../src/system.js';

const ROWS = Number(process.env['STORX_E2E_HUGE_TX_ROWS'] ?? 1_000_000);
// Measured 205-224 MiB for either service (GC timing varies with machine load); holding the
// transaction would take well over 1 GiB. The bound catches growth with size, not noise.
const RSS_BOUND_BYTES = 320 * 1024 * 1024;

let system: System;
beforeAll(async () => {
  system = await System.start();
});
afterAll(async () => {
  await system?.stop();
});

describe('huge transaction', () => {
  it(`replicates one ${ROWS}-row transaction with both services under ${RSS_BOUND_BYTES / 2 ** 20} MiB`, async () => {
    await system.source.query(
      `INSERT INTO objects (project_id, bucket_name, object_key, version, encrypted_metadata, total_plain_size, total_encrypted_size)
       SELECT '7f1d5ab5-0c34-4c1e-9b4f-3d9c2f1a0e55', 'huge-bucket', int8send(g), 1, decode(repeat(md5(g::text), 6), 'hex'), g, g
       FROM generate_series(1, $1::integer) g`,
      [ROWS],
    );
    const digests = await expectBackupEqualsSource(system.sourceUrl, system.backupUrl, 15 * 60_000);
    expect(digests['objects']!.count).toBe(ROWS);
    const peaks = { replicator: await peakRssBytes(system.replicator.pid!), receiver: await peakRssBytes(system.receiver.pid!) };
    console.log(`peak RSS over a ${ROWS}-row transaction: replicator ${(peaks.replicator / 2 ** 20).toFixed(0)} MiB, receiver ${(peaks.receiver / 2 ** 20).toFixed(0)} MiB`);
    expect(peaks.replicator).toBeLessThan(RSS_BOUND_BYTES);
    expect(peaks.receiver).toBeLessThan(RSS_BOUND_BYTES);
  }, 20 * 60_000);
});
