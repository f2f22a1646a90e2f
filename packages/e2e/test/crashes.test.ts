// Scenarios 3 and 4: the replicator, then the receiver, killed with SIGKILL at random moments
// (mid-request, mid-transaction) while writers commit a bounded number of transactions, paced
// over the kill loop. Nothing may be lost or applied twice: once the pipeline has passed the
// source's end position the backup equals the source row for row, and the receiver's
// watermark never moved backwards meanwhile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectBackupEqualsSource } from '../src/invariant.js';
import { System } from '../src/system.js';
import { sampleWatermarks } from '../src/watermark-sampler.js';
import { runWorkload } from '../src/workload.js';

const KILLS = Number(process.env['STORX_E2E_KILLS'] ?? 20);
// Per writer, at most; the writers also stop when the kill loop ends.
const TRANSACTIONS = Number(process.env['STORX_E2E_CRASH_TRANSACTIONS'] ?? 1_000);

describe.each([
  { victim: 'replicator', ready: /replication stream started/ },
  { victim: 'receiver', ready: /receiver listening/ },
] as const)('$victim crashes', ({ victim, ready }) => {
  let system: System;
  beforeAll(async () => {
    system = await System.start({ replication: { 'max-batch-bytes': '16KiB', 'batch-linger': '5ms' } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it(`survive ${KILLS} SIGKILLs under load with nothing lost or duplicated`, async () => {
    const sampler = sampleWatermarks(system.backupUrl);
    const stopWriters = new AbortController();
    const workload = runWorkload(system.sourceUrl, { writers: 3, transactions: TRANSACTIONS, pauseMs: 20, signal: stopWriters.signal });
    workload.catch(() => stopWriters.abort()); // a failing writer ends the kill loop; awaited below
    try {
      for (let kill = 0; kill < KILLS && !stopWriters.signal.aborted; kill += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 600));
        await system[victim].kill();
        await system[victim].start(ready);
      }
    } finally {
      stopWriters.abort();
    }
    expect(await workload).toBeGreaterThan(KILLS);
    const digests = await expectBackupEqualsSource(system);
    expect(digests.objects.count).toBeGreaterThan(0);
    expect(await sampler.stop(), 'the watermark never moves backwards').toEqual([]);
  });
});
