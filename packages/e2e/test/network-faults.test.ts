// Scenario 6: a TCP proxy between replicator and receiver that resets connections, resets them
// after the receiver applied a batch but before the answer arrives, hangs them and slows them,
// while writers commit a bounded number of transactions, paced over the rounds. Redelivery must neither lose nor duplicate anything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectBackupEqualsSource } from '../src/invariant.js';
import type { FaultMode } from '../src/fault-proxy.js';
import { System } from '../src/system.js';
import { sampleWatermarks } from '../src/watermark-sampler.js';
import { runWorkload } from '../src/workload.js';

const ROUNDS = Number(process.env['STORX_E2E_PROXY_ROUNDS'] ?? 3);
const FAULTS: FaultMode[] = ['reset', 'reset-response', 'hang', 'slow'];

let system: System;
beforeAll(async () => {
  system = await System.start({ throughProxy: true, replication: { 'webhook-timeout': '2s', 'max-batch-bytes': '64KiB', 'batch-linger': '5ms' } });
});
afterAll(async () => {
  await system?.stop();
});

describe('network faults', () => {
  it(`loses and duplicates nothing through ${ROUNDS} rounds of resets, lost answers, hangs and slowness`, async () => {
    const sampler = sampleWatermarks(system.backupUrl);
    const stopWriters = new AbortController();
    const workload = runWorkload(system.sourceUrl, { writers: 3, transactions: 1_000, pauseMs: 20, signal: stopWriters.signal });
    workload.catch(() => stopWriters.abort());
    try {
      for (let round = 0; round < ROUNDS && !stopWriters.signal.aborted; round += 1) {
        for (const fault of FAULTS) {
          system.proxy.mode = fault;
          await new Promise((resolve) => setTimeout(resolve, fault === 'hang' ? 3_000 : 1_500));
          system.proxy.mode = 'pass';
          await new Promise((resolve) => setTimeout(resolve, 500 + Math.random() * 1_000));
        }
      }
    } finally {
      stopWriters.abort();
    }
    await workload;
    await expectBackupEqualsSource(system);
    expect(await sampler.stop(), 'the watermark never moves backwards').toEqual([]);
    for (const fault of FAULTS) expect(system.proxy.acted[fault], `the proxy acted in mode ${fault}`).toBeGreaterThan(0);
    expect(system.replicator.running && system.receiver.running).toBe(true);
  });
});
