import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { findProblems } from '../src/report.js';
import { type BenchResults, missingMeasurements } from '../src/results.js';

// CI runs the benchmark in --smoke mode so it keeps working. It asserts that the results are
// complete and that every run applied exactly the source's rows: never a speed, so a slow or
// busy machine cannot fail it.
describe('scripts/bench --smoke', () => {
  let dir: string;
  let results: BenchResults;
  let code: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'storx-bench-smoke-'));
    code = await main(['--smoke', '--out', join(dir, 'results.json')]);
    results = JSON.parse(await readFile(join(dir, 'results.json'), 'utf8')) as BenchResults;
  }, 600_000);

  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('measures every workload for native and ours, and exits 0', () => {
    expect(missingMeasurements(results)).toEqual([]);
    expect(code).toBe(0);
    expect(results.options.workloads).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(results.postgres.version).toMatch(/^PostgreSQL \d+/);
  });

  it('has a rate for both sides, a ratio and the decode ceiling for every throughput workload and mode', () => {
    expect(results.throughput.map((result) => `${result.workload} ${result.mode}`)).toEqual(['a', 'b', 'c', 'd', 'e'].flatMap((id) => [`${id} live`, `${id} backlog`]));
    for (const { median, mode } of results.throughput) {
      expect(median.nativeRowsPerSecond).toBeGreaterThan(0);
      expect(median.oursRowsPerSecond).toBeGreaterThan(0);
      expect(median.ratio).toBeGreaterThan(0);
      expect(median.replicatorPeakRssMiB).toBeGreaterThan(0);
      expect(median.receiverCpuSeconds).toBeGreaterThan(0);
      if (mode === 'backlog') expect(median.decodeRowsPerSecond).toBeGreaterThan(0);
    }
  });

  it('has latency percentiles for both sides and the initial copy with its CPU and memory', () => {
    for (const side of [results.latency!.median.native, results.latency!.median.ours]) {
      expect(side.p50Ms).toBeTypeOf('number');
      expect(side.p99Ms).toBeGreaterThanOrEqual(side.p50Ms!);
      expect(side.firstMs).toBeGreaterThan(0);
    }
    const copy = results.copy!.median;
    expect(copy.nativeRowsPerSecond).toBeGreaterThan(0);
    expect(copy.ours).toBe('measured');
    // Present; a smoke-sized copy may take less than a clock tick of a cluster's CPU (a Node process never does).
    for (const seconds of [copy.nativeSourcePgCpuSeconds, copy.nativeBackupPgCpuSeconds, copy.oursSourcePgCpuSeconds, copy.oursBackupPgCpuSeconds]) expect(seconds).toBeTypeOf('number');
    expect(copy.replicatorCpuSeconds).toBeGreaterThan(0);
    expect(copy.replicatorPeakRssMiB).toBeGreaterThan(0);
    expect(copy.receiverCpuSeconds).toBeGreaterThan(0);
    expect(copy.receiverPeakRssMiB).toBeGreaterThan(0);
  });

  it('found every target equal to the source after each run', () => {
    expect(findProblems(results)).toEqual([]);
  });
});
