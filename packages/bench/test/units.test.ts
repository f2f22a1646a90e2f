import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../src/options.js';
import { processTreeCpuSeconds, processUsage } from '../src/proc-usage.js';
import { type CpuProfile, shortUrl, summarizeProfile } from '../src/profile-summary.js';
import { median, percentile } from '../src/stats.js';

describe('stats', () => {
  it('median and percentile (linear, as percentile_cont)', () => {
    expect(median([])).toBeUndefined();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(percentile([0, 10], 0.9)).toBe(9);
  });
});

describe('options', () => {
  it('defaults: 3 repetitions, every workload and mode; --smoke: 1 repetition', () => {
    const options = parseBenchArgs([])!;
    expect(options.reps).toBe(3);
    expect(options.workloads).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(options.modes).toEqual(['live', 'backlog']);
    expect(parseBenchArgs(['--smoke'])!.reps).toBe(1);
    expect(parseBenchArgs(['--smoke', '--reps', '2'])!.reps).toBe(2);
    expect(parseBenchArgs(['--help'])).toBeUndefined();
    expect(parseBenchArgs([])!.fsync).toBe(false);
    expect(parseBenchArgs(['--fsync'])!.fsync).toBe(true);
  });

  it('workloads in canonical order; bad values named', () => {
    expect(parseBenchArgs(['--workloads', 'e,a', '--modes', 'backlog'])).toMatchObject({ workloads: ['a', 'e'], modes: ['backlog'] });
    expect(() => parseBenchArgs(['--workloads', 'a,z'])).toThrow(/--workloads/);
    expect(() => parseBenchArgs(['--reps', '0'])).toThrow(/--reps/);
    expect(() => parseBenchArgs(['--replicator-option', 'oops'])).toThrow(/key=value/);
    expect(parseBenchArgs(['--replicator-option', 'replication.batch-linger=5ms'])!.replicatorOptions).toEqual(['replication.batch-linger=5ms']);
  });
});

describe('/proc usage', () => {
  it.runIf(process.platform === 'linux')('reads this process: peak RSS, CPU time, and its tree', async () => {
    const usage = await processUsage(process.pid);
    expect(usage!.peakRssMiB).toBeGreaterThan(1);
    expect(usage!.cpuSeconds).toBeGreaterThan(0);
    expect(await processTreeCpuSeconds(process.pid)).toBeGreaterThanOrEqual(usage!.cpuSeconds);
  });
});

describe('profile summary', () => {
  it('self time per function and area, idle apart', () => {
    const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame('(root)') },
        { id: 2, callFrame: frame('(idle)') },
        { id: 3, callFrame: frame('decode', 'file:///repo/packages/storx-replicator/dist/decode/pgoutput-decoder.js', 9) },
        { id: 4, callFrame: frame('parse', 'file:///repo/node_modules/.pnpm/pg@8/node_modules/pg/lib/parser.js', 0) },
        { id: 5, callFrame: frame('(garbage collector)') },
      ],
      samples: [3, 3, 4, 2, 5, 3],
      timeDeltas: [0, 1000, 1000, 1000, 4000, 1000],
    };
    const summary = summarizeProfile(profile);
    expect(summary.idleMs).toBe(4);
    expect(summary.busyMs).toBe(4);
    expect(summary.functions.map((entry) => [entry.name, entry.ms])).toEqual([
      ['decode storx-replicator/dist/decode/pgoutput-decoder.js:10', 2],
      ['parse pg/lib/parser.js:1', 1],
      ['(garbage collector)', 1],
    ]);
    expect(summary.areas.map((entry) => entry.area)).toEqual(['storx-replicator', 'pg', '(garbage collector)']);
    expect(shortUrl('node:internal/streams/readable')).toBe('node:internal/streams/readable');
  });
});
