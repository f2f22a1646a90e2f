import type { ProcessUsage } from './proc-usage.js';
import type { Mode, Sizes, WorkloadId } from './workloads.js';

/** A side that could not be measured in one repetition; the benchmark goes on. */
export interface Failed {
  status: 'failed';
  error: string;
}

/** A side that cannot be measured with this build (our initial copy with a replicator that has no `snapshot` command). */
export interface NotAvailable {
  status: 'not available';
  reason: string;
}

/** A service process at the end of a run (fresh processes per run). */
export interface ServiceUsage extends ProcessUsage {
  /** CPU seconds it had used when it was ready (Node start-up, checks); included in `cpuSeconds`. */
  startupCpuSeconds: number;
}

/** One side of one throughput repetition. */
export interface ThroughputSide {
  status: 'ok';
  /** Seconds from replication start (backlog) or load start (live) until the backup has applied everything. */
  seconds: number;
  /** Workload rows / seconds. */
  rowsPerSecond: number;
  /** How long the load took on the source (live: while this side replicated). */
  loadSeconds: number;
  /** CPU seconds of every PostgreSQL process during `seconds`: source (WAL sender; in live mode the load too) and backup (apply). */
  sourcePgCpuSeconds: number;
  backupPgCpuSeconds: number;
  /** The target table equals the source's (row count and hash): the run really applied everything. */
  verified: boolean;
  /** Ours only: seconds from spawning the replicator until it streamed (backlog; part of `seconds`). */
  startupSeconds?: number;
  /** Ours only: events the receiver applied in the run; at least the workload's rows when they were streamed. */
  eventsApplied?: number;
  /** Ours only: batches (requests) the receiver applied in the run: for single-row transactions, how many went together. */
  batchesApplied?: number;
  /** Ours only. */
  replicator?: ServiceUsage;
  receiver?: ServiceUsage;
}

/** pg_logical_slot_peek_binary_changes over the same WAL: what the server decodes in-process. */
export interface DecodeCeiling {
  status: 'ok';
  seconds: number;
  rowsPerSecond: number;
  /** Messages pgoutput produced (begin, relation, changes, commit). */
  messages: number;
}

export type Outcome<T> = T | Failed;

export interface ThroughputRep {
  rep: number;
  /** Fingerprint of the services' built code when the repetition started (see \`source.builds\`). */
  build: string;
  /** Load average (1 min) when the repetition started: a noisy machine shows here. */
  loadavg: number;
  native: Outcome<ThroughputSide>;
  ours: Outcome<ThroughputSide>;
  /** Backlog only. */
  decode?: Outcome<DecodeCeiling>;
}

/** Medians (over repetitions) that throughput and copy results both report. */
export interface SideMedians {
  nativeRowsPerSecond: number | null;
  oursRowsPerSecond: number | null;
  /** Median over repetitions of ours/native in the same repetition. */
  ratio: number | null;
  nativeSourcePgCpuSeconds: number | null;
  nativeBackupPgCpuSeconds: number | null;
  oursSourcePgCpuSeconds: number | null;
  oursBackupPgCpuSeconds: number | null;
  replicatorPeakRssMiB: number | null;
  replicatorCpuSeconds: number | null;
  receiverPeakRssMiB: number | null;
  receiverCpuSeconds: number | null;
}

export interface ThroughputMedians extends SideMedians {
  decodeRowsPerSecond: number | null;
  oursStartupSeconds: number | null;
}

export interface ThroughputResult {
  workload: WorkloadId;
  title: string;
  mode: Mode;
  rows: number;
  reps: ThroughputRep[];
  median: ThroughputMedians;
}

/**
 * Transactions committed this soon after the first are left out of the warm p99: the first few
 * queue behind the first one's cold path (measured: ~100 ms in our services, 2 ms native), which
 * would otherwise be the p99 of every run. The first's latency is reported on its own. With the
 * full run's 200 transactions at 50/s, ~150 remain: their p99 is about the second worst.
 */
export const WARM_UP_MS = 1_000;

export interface LatencyStats {
  status: 'ok';
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The first transaction's latency: it pays each service's cold path (first use of a table, of the session key, of the code). */
  firstMs: number;
  /** p99 of the transactions committed at least WARM_UP_MS after the first: the steady state. */
  warmP99Ms: number;
  verified: boolean;
  replicator?: ServiceUsage;
  receiver?: ServiceUsage;
}

export interface LatencyRep {
  rep: number;
  /** Fingerprint of the services' built code when the repetition started (see \`source.builds\`). */
  build: string;
  loadavg: number;
  native: Outcome<LatencyStats>;
  ours: Outcome<LatencyStats>;
}

export interface Percentiles {
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  firstMs: number | null;
  warmP99Ms: number | null;
}

export interface LatencyResult {
  workload: WorkloadId;
  title: string;
  ticks: number;
  reps: LatencyRep[];
  median: { native: Percentiles; ours: Percentiles };
}

export interface CopySide {
  status: 'ok';
  seconds: number;
  rowsPerSecond: number;
  verified: boolean;
  /**
   * CPU seconds of every PostgreSQL process around the copy: the source's COPY TO, the backup's
   * COPY FROM (native's reading also covers creating and dropping its publication and subscription).
   */
  sourcePgCpuSeconds: number;
  backupPgCpuSeconds: number;
  /** Ours only: the `snapshot` process, its whole life (peak RSS read every 50 ms while it runs). */
  replicator?: ProcessUsage;
  /** Ours only: the receiver, started before the clock (its start-up is in `cpuSeconds`, and apart in `startupCpuSeconds`). */
  receiver?: ServiceUsage;
}

export interface CopyRep {
  rep: number;
  /** Fingerprint of the services' built code when the repetition started (see \`source.builds\`). */
  build: string;
  loadavg: number;
  native: Outcome<CopySide>;
  ours: Outcome<CopySide> | NotAvailable;
}

export interface CopyResult {
  workload: WorkloadId;
  title: string;
  rows: number;
  reps: CopyRep[];
  median: CopyMedians;
}

export interface CopyMedians extends SideMedians {
  ours: 'measured' | 'not available';
}

export interface BenchResults {
  /** Bumped when the shape changes. */
  format: 1;
  startedAt: string;
  finishedAt: string;
  options: {
    reps: number;
    smoke: boolean;
    scale: number;
    workloads: WorkloadId[];
    modes: Mode[];
    replicatorOptions: string[];
    receiverOptions: string[];
    cpuProfDir: string | null;
    /** Both clusters ran with fsync=on (absent in results written before the option). */
    fsync?: boolean;
  };
  sizes: Sizes;
  machine: { cpus: number; cpuModel: string; node: string; platform: string; loadavgStart: number[]; loadavgEnd: number[] };
  postgres: { version: string; settings: Record<string, string> };
  /**
   * What was measured: the commit, product source files that differed from it, and every
   * fingerprint of the built services seen (more than one: something rebuilt them mid-run).
   */
  source: { commit: string | null; uncommitted: string[]; builds: string[] };
  throughput: ThroughputResult[];
  latency: LatencyResult | null;
  copy: CopyResult | null;
}

/**
 * What a complete run lacks: every selected workload and mode, for native and ours, has at
 * least one measured repetition (ours may be "not available" for the initial copy only).
 * Empty when complete; the smoke test asserts exactly this, never a speed.
 */
export function missingMeasurements(results: BenchResults): string[] {
  const missing: string[] = [];
  const ok = (outcome: { status: string } | undefined): boolean => outcome?.status === 'ok';
  for (const workload of results.options.workloads) {
    if (workload === 'f') {
      const latency = results.latency;
      if (!latency?.reps.some((rep) => ok(rep.native))) missing.push('f native');
      if (!latency?.reps.some((rep) => ok(rep.ours))) missing.push('f ours');
    } else if (workload === 'g') {
      const copy = results.copy;
      if (!copy?.reps.some((rep) => ok(rep.native))) missing.push('g native');
      if (!copy?.reps.some((rep) => ok(rep.ours) || rep.ours.status === 'not available')) missing.push('g ours');
    } else {
      for (const mode of results.options.modes) {
        const result = results.throughput.find((entry) => entry.workload === workload && entry.mode === mode);
        if (!result?.reps.some((rep) => ok(rep.native))) missing.push(`${workload} ${mode} native`);
        if (!result?.reps.some((rep) => ok(rep.ours))) missing.push(`${workload} ${mode} ours`);
        if (mode === 'backlog' && !result?.reps.some((rep) => ok(rep.decode))) missing.push(`${workload} ${mode} decode`);
      }
    }
  }
  return missing;
}
