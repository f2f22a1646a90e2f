// Scenario 9: neither service's memory grows with the size of a transaction. A small and then a
// four times larger single transaction of `objects` rows (~300 bytes each) arrive whole; each
// service's peak RSS after the large one stays within a fixed margin of its peak after the
// small one (memory follows the batch size, not the transaction's), and under a fixed bound.
// STORX_E2E_HUGE_TX_ROWS sets the large size (a soak: 1000000). Both travel as many chunks, and
// a reader of the backup never sees part of either: every count it reads while the chunks
// arrive is the count before or after a transaction.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, peakRssBytes } from '@storx-backup/test-postgres';
import { expectBackupEqualsSource } from '../src/invariant.js';
import { System } from '../src/system.js';

const SMALL_ROWS = 40_000;
const LARGE_ROWS = Number(process.env['STORX_E2E_HUGE_TX_ROWS'] ?? 160_000);
// Holding the large transaction would take well over 100 MiB more than the small one (120k more
// rows of ~300 bytes, several times that as JavaScript strings and objects). Measured under load
// average 13 at 50k / 250k rows: replicator 198 / 198 MiB, receiver 187 / 200 MiB.
const GROWTH_BOUND_BYTES = 64 * 1024 * 1024;
// Measured 205-224 MiB for either service at 1M rows (GC timing varies with machine load).
const RSS_BOUND_BYTES = 320 * 1024 * 1024;
const MiB = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

let system: System;
beforeAll(async () => {
  system = await System.start();
});
afterAll(async () => {
  await system?.stop();
});

async function oneTransaction(bucket: string, rows: number): Promise<void> {
  await system.source.query(
    `INSERT INTO objects (project_id, bucket_name, object_key, version, encrypted_metadata, total_plain_size, total_encrypted_size)
     SELECT '7f1d5ab5-0c34-4c1e-9b4f-3d9c2f1a0e55', convert_to($2, 'UTF8'), int8send(g), 1, decode(repeat(md5(g::text), 6), 'hex'), g, g
     FROM generate_series(1, $1::integer) g`,
    [rows, bucket],
  );
}

async function peaks(): Promise<{ replicator: number; receiver: number }> {
  return { replicator: await peakRssBytes(system.replicator.pid!), receiver: await peakRssBytes(system.receiver.pid!) };
}

describe('huge transaction', () => {
  it(`replicates a ${SMALL_ROWS}-row and a ${LARGE_ROWS}-row transaction with memory independent of their size`, async () => {
    // Both transactions travel as many chunks: a reader polling the backup meanwhile must only
    // ever see the row count of a transaction boundary (an absent table counts as 0 rows).
    const reader = await connect(system.backupUrl);
    const seen = new Set<number>();
    let reading = true;
    const readLoop = (async () => {
      while (reading) {
        try {
          const { rows } = await reader.query<{ n: string }>('SELECT count(*)::text AS n FROM "satellite/0".objects');
          seen.add(Number(rows[0]!.n));
        } catch (error) {
          if ((error as { code?: string }).code !== '42P01') throw error;
          seen.add(0);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
    await oneTransaction('small', SMALL_ROWS);
    await expectBackupEqualsSource(system, 20 * 60_000);
    const small = await peaks();
    await oneTransaction('large', LARGE_ROWS);
    const digests = await expectBackupEqualsSource(system, 20 * 60_000);
    expect(digests.objects.count).toBe(SMALL_ROWS + LARGE_ROWS);
    reading = false;
    await readLoop;
    const { rows: staged } = await reader.query<{ n: string }>('SELECT count(*)::text AS n FROM backuptools_state.staged_chunks');
    await reader.end();
    expect([...seen].filter((count) => ![0, SMALL_ROWS, SMALL_ROWS + LARGE_ROWS].includes(count)), `counts a reader of the backup saw: ${[...seen].join(', ')}`).toEqual([]);
    expect(staged[0]!.n, 'staged chunks left behind').toBe('0');
    const large = await peaks();
    console.log(
      `peak RSS after ${SMALL_ROWS} / ${LARGE_ROWS} rows: replicator ${MiB(small.replicator)} / ${MiB(large.replicator)}, receiver ${MiB(small.receiver)} / ${MiB(large.receiver)}`,
    );
    for (const service of ['replicator', 'receiver'] as const) {
      expect(large[service] - small[service], `${service}: growth from ${SMALL_ROWS} to ${LARGE_ROWS} rows`).toBeLessThan(GROWTH_BOUND_BYTES);
      expect(large[service], service).toBeLessThan(RSS_BOUND_BYTES);
    }
  }, 30 * 60_000);
});
