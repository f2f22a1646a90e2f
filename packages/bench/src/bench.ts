import { cpus, loadavg } from 'node:os';
import { BenchEnvironment } from './bench-environment.js';
import { buildFingerprint, sourceRevision } from './build-fingerprint.js';
import { prepareCopy, runCopyRep } from './copy-run.js';
import { runLatencyRep } from './latency-run.js';
import type { BenchOptions } from './options.js';
import type { ProcessUsage } from './proc-usage.js';
import type { BenchResults, CopyMedians, CopyRep, CopyResult, CopySide, LatencyRep, LatencyResult, Percentiles, SideMedians, ThroughputMedians, ThroughputRep, ThroughputResult, ThroughputSide } from './results.js';
import { median, numbers } from './stats.js';
import { type RunContext, runThroughputRep } from './throughput-run.js';
import { FULL_SIZES, type Mode, scaleSizes, SMOKE_SIZES, type WorkloadId, workloads as defineWorkloads } from './workloads.js';

/**
 * The whole benchmark: two clusters, then repetition by repetition every selected workload
 * (native, then ours), the initial copy last (its million source rows are made once).
 * Repetitions go round the workloads rather than repeating one workload back to back, so a
 * burst of load from elsewhere on the machine spreads over workloads instead of hitting one.
 */
export async function runBench(options: BenchOptions, log: (line: string) => void): Promise<BenchResults> {
  const sizes = scaleSizes(options.smoke ? SMOKE_SIZES : FULL_SIZES, options.scale);
  const definitions = defineWorkloads(sizes);
  const startedAt = new Date().toISOString();
  const loadavgStart = loadavg();
  log('starting two embedded PostgreSQL clusters');
  const env = await BenchEnvironment.start({ replicatorOptions: options.replicatorOptions, receiverOptions: options.receiverOptions, stallTimeoutMs: options.stallTimeoutMs, fsync: options.fsync });
  try {
    const ctx: RunContext = { env, log, cpuProfDir: options.cpuProfDir };
    const postgres = { version: await env.postgresVersion(), settings: await env.settings() };
    log(postgres.version);
    const revision = await sourceRevision();
    if (revision.uncommitted.length > 0) log(`measuring uncommitted changes to ${revision.uncommitted.join(', ')}`);
    const throughputReps = new Map<string, ThroughputRep[]>();
    const latencyReps: LatencyRep[] = [];
    const copyReps: CopyRep[] = [];
    const began = performance.now();
    for (let rep = 1; rep <= options.reps; rep += 1) {
      log(`repetition ${rep}/${options.reps} (${elapsed(began)})`);
      for (const id of options.workloads) {
        const workload = definitions[id];
        if (workload.kind === 'throughput') {
          for (const mode of options.modes) {
            const reps = throughputReps.get(key(id, mode)) ?? [];
            throughputReps.set(key(id, mode), reps);
            const build = await buildFingerprint();
            reps.push({ ...(await runThroughputRep(ctx, workload, mode, rep).catch((error: unknown) => failedRep(rep, error, log, `${id} ${mode}`))), build });
          }
        } else if (workload.kind === 'latency') {
          const build = await buildFingerprint();
          latencyReps.push({ ...(await runLatencyRep(ctx, workload, rep)), build });
        }
      }
    }
    const copy = definitions.g;
    if (options.workloads.includes('g') && copy.kind === 'copy') {
      log(`initial copy: filling the source with ${copy.rows.toLocaleString('en-US')} rows (${elapsed(began)})`);
      try {
        await prepareCopy(env, copy);
        for (let rep = 1; rep <= options.reps; rep += 1) {
          const build = await buildFingerprint();
          copyReps.push({ ...(await runCopyRep(ctx, copy, rep)), build });
        }
      } catch (error) {
        const { native } = failedRep(1, error, log, 'g');
        copyReps.push({ rep: 1, build: await buildFingerprint(), loadavg: loadavg()[0]!, native, ours: native });
      }
    }
    log(`done (${elapsed(began)})`);

    const throughput: ThroughputResult[] = [];
    for (const id of options.workloads) {
      const workload = definitions[id];
      if (workload.kind !== 'throughput') continue;
      for (const mode of options.modes) {
        const reps = throughputReps.get(key(id, mode)) ?? [];
        throughput.push({ workload: id, title: workload.title, mode, rows: workload.rows, reps, median: throughputMedians(reps) });
      }
    }
    const latencyWorkload = definitions.f;
    const latency: LatencyResult | null =
      options.workloads.includes('f') && latencyWorkload.kind === 'latency'
        ? { workload: 'f', title: latencyWorkload.title, ticks: latencyWorkload.ticks, reps: latencyReps, median: { native: percentiles(latencyReps, 'native'), ours: percentiles(latencyReps, 'ours') } }
        : null;
    const copyResult: CopyResult | null = options.workloads.includes('g') && copy.kind === 'copy' ? { workload: 'g', title: copy.title, rows: copy.rows, reps: copyReps, median: copyMedians(copyReps) } : null;

    return {
      format: 1,
      startedAt,
      finishedAt: new Date().toISOString(),
      options: {
        reps: options.reps,
        smoke: options.smoke,
        scale: options.scale,
        workloads: options.workloads,
        modes: options.modes,
        replicatorOptions: options.replicatorOptions,
        receiverOptions: options.receiverOptions,
        cpuProfDir: options.cpuProfDir ?? null,
        fsync: options.fsync,
      },
      sizes,
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform} ${process.arch}`, loadavgStart, loadavgEnd: loadavg() },
      postgres,
      source: { ...revision, builds: [...new Set([...throughput.flatMap((result) => result.reps), ...latencyReps, ...copyReps].map((rep) => rep.build))] },
      throughput,
      latency,
      copy: copyResult,
    };
  } finally {
    await env.stop();
  }
}

function key(id: WorkloadId, mode: Mode): string {
  return `${id}/${mode}`;
}

function elapsed(since: number): string {
  const seconds = Math.round((performance.now() - since) / 1000);
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}

function failedRep(rep: number, error: unknown, log: (line: string) => void, what: string): ThroughputRep {
  const message = error instanceof Error ? error.message : String(error);
  log(`  ${what} rep ${rep} FAILED before measuring: ${message}`);
  const failed = { status: 'failed' as const, error: message };
  return { rep, build: '', loadavg: loadavg()[0]!, native: failed, ours: failed };
}

const orNull = (value: number | undefined): number | null => value ?? null;

/** What a measured side of a throughput or copy repetition has for the medians both report. */
interface MeasuredSide {
  rowsPerSecond: number;
  sourcePgCpuSeconds: number;
  backupPgCpuSeconds: number;
  replicator?: ProcessUsage | undefined;
  receiver?: ProcessUsage | undefined;
}

function sideMedians<Rep>(reps: readonly Rep[], native: (rep: Rep) => MeasuredSide | undefined, ours: (rep: Rep) => MeasuredSide | undefined): SideMedians {
  const of = (pick: (rep: Rep) => number | undefined): number | null => orNull(median(numbers(reps, pick)));
  return {
    nativeRowsPerSecond: of((rep) => native(rep)?.rowsPerSecond),
    oursRowsPerSecond: of((rep) => ours(rep)?.rowsPerSecond),
    ratio: of((rep) => {
      const [n, o] = [native(rep), ours(rep)];
      return n && o ? o.rowsPerSecond / n.rowsPerSecond : undefined;
    }),
    nativeSourcePgCpuSeconds: of((rep) => native(rep)?.sourcePgCpuSeconds),
    nativeBackupPgCpuSeconds: of((rep) => native(rep)?.backupPgCpuSeconds),
    oursSourcePgCpuSeconds: of((rep) => ours(rep)?.sourcePgCpuSeconds),
    oursBackupPgCpuSeconds: of((rep) => ours(rep)?.backupPgCpuSeconds),
    replicatorPeakRssMiB: of((rep) => ours(rep)?.replicator?.peakRssMiB),
    replicatorCpuSeconds: of((rep) => ours(rep)?.replicator?.cpuSeconds),
    receiverPeakRssMiB: of((rep) => ours(rep)?.receiver?.peakRssMiB),
    receiverCpuSeconds: of((rep) => ours(rep)?.receiver?.cpuSeconds),
  };
}

function throughputMedians(reps: readonly ThroughputRep[]): ThroughputMedians {
  const ok = (side: ThroughputRep['native']): ThroughputSide | undefined => (side.status === 'ok' ? side : undefined);
  const of = (pick: (rep: ThroughputRep) => number | undefined): number | null => orNull(median(numbers(reps, pick)));
  return {
    ...sideMedians(reps, (rep) => ok(rep.native), (rep) => ok(rep.ours)),
    decodeRowsPerSecond: of((rep) => (rep.decode?.status === 'ok' ? rep.decode.rowsPerSecond : undefined)),
    oursStartupSeconds: of((rep) => ok(rep.ours)?.startupSeconds),
  };
}

function percentiles(reps: readonly LatencyRep[], side: 'native' | 'ours'): Percentiles {
  const of = (pick: keyof Percentiles): number | null => {
    return orNull(median(numbers(reps, (rep) => { const stats = rep[side]; return stats.status === 'ok' ? stats[pick] : undefined; })));
  };
  return { p50Ms: of('p50Ms'), p90Ms: of('p90Ms'), p99Ms: of('p99Ms'), firstMs: of('firstMs'), warmP99Ms: of('warmP99Ms') };
}

function copyMedians(reps: readonly CopyRep[]): CopyMedians {
  const ok = (side: CopyRep['ours']): CopySide | undefined => (side.status === 'ok' ? side : undefined);
  return {
    ...sideMedians(reps, (rep) => ok(rep.native), (rep) => ok(rep.ours)),
    ours: reps.some((rep) => rep.ours.status === 'not available') ? 'not available' : 'measured',
  };
}
