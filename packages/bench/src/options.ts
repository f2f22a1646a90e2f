import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MODES, type Mode, WORKLOAD_IDS, type WorkloadId } from './workloads.js';

export interface BenchOptions {
  /** Repetitions; medians are reported. Default 3, with --smoke 1. */
  reps: number;
  /** Tiny sizes (seconds per workload), 1 repetition unless --reps says otherwise. */
  smoke: boolean;
  /** Multiplies every row count (default 1). */
  scale: number;
  workloads: WorkloadId[];
  modes: Mode[];
  /** Results JSON. Default `.bench-results/results-<time>.json` in the repository. */
  out: string;
  /** Write CPU profiles of the replicator and the receiver here, one directory per run. */
  cpuProfDir: string | undefined;
  /** `key=value` flags for `storx-replicator run`, e.g. `replication.batch-linger=5ms`. */
  replicatorOptions: string[];
  /** `key=value` flags for `backuptools-receiver serve`, e.g. `database-pool-size=4`. */
  receiverOptions: string[];
  /** A run that applies nothing at all for this long is recorded as failed (default 120 s). */
  stallTimeoutMs: number;
  /** Both clusters with `fsync=on` (default off, as every test cluster): commits pay a real flush. */
  fsync: boolean;
}

export const USAGE = `Usage: scripts/bench [options]

Compares our pipeline (storx-replicator run → backuptools-receiver serve, the real command lines)
with PostgreSQL's native logical replication between the same two embedded PostgreSQL clusters,
workload by workload. See docs/benchmark.md.

Workloads (--workloads, default all):
  a  inserts of ~300-byte objects rows, 1,000 per transaction   (200k)
  b  single-row transactions from 4 concurrent clients          (20k)
  c  updates by key, 1,000 per transaction                      (100k)
  d  deletes by key, 1,000 per transaction                      (100k)
  e  narrow-row inserts, 1,000 per transaction                  (200k)
  f  trickle latency: single-row transactions at 50/s           (200)
  g  initial copy: storx-replicator snapshot vs native copy_data  (1M)
  a–e run in both modes: live (replication runs during the load) and backlog (load first, then
  replication starts: the catch-up rate, plus the server's own decode ceiling for that WAL).

Options:
  --reps N                 repetitions, medians reported (default 3; 1 with --smoke)
  --workloads a,b,...      workloads to run (default a,b,c,d,e,f,g)
  --modes live,backlog     modes for a–e (default both)
  --smoke                  tiny sizes, every code path in about a minute (CI)
  --scale X                multiply every row count by X (e.g. 0.1 for a quick look)
  --out FILE               results JSON (default .bench-results/results-<time>.json)
  --cpu-prof DIR           run both services with --cpu-prof; profiles in DIR/<run>/{replicator,receiver}
                           and a summary of the top self-time functions at the end
  --replicator-option K=V  extra option for storx-replicator run and snapshot (repeatable), e.g. replication.batch-linger=5ms
  --receiver-option K=V    extra option for backuptools-receiver serve (repeatable)
  --stall-timeout SECONDS  a run that applies nothing for this long is recorded as failed (default 120)
  --fsync                  run both clusters with fsync=on (default off): a synchronous commit then
                           waits for the disk, as on a real server
  -h, --help               this help

The benchmark never fails on time: it reports what it measured. It exits non-zero only when a
measurement is missing (a side crashed or stalled) or the setup failed.
`;

const REPO = resolve(import.meta.dirname, '..', '..', '..');

/** Parses the command line; `undefined` means --help. Throws on a bad option. */
export function parseBenchArgs(argv: readonly string[], now = new Date()): BenchOptions | undefined {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      reps: { type: 'string' },
      workloads: { type: 'string' },
      modes: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      scale: { type: 'string' },
      out: { type: 'string' },
      'cpu-prof': { type: 'string' },
      'replicator-option': { type: 'string', multiple: true },
      'receiver-option': { type: 'string', multiple: true },
      'stall-timeout': { type: 'string' },
      fsync: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return undefined;
  const smoke = values.smoke;
  const reps = positiveNumber('--reps', values.reps ?? (smoke ? '1' : '3'), true);
  const scale = positiveNumber('--scale', values.scale ?? '1', false);
  const stallSeconds = positiveNumber('--stall-timeout', values['stall-timeout'] ?? '120', false);
  const stamp = now.toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z');
  return {
    reps,
    smoke,
    scale,
    workloads: list('--workloads', values.workloads, WORKLOAD_IDS),
    modes: list('--modes', values.modes, MODES),
    out: resolve(values.out ?? join(REPO, '.bench-results', `results-${stamp}.json`)),
    cpuProfDir: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
    replicatorOptions: keyValues('--replicator-option', values['replicator-option']),
    receiverOptions: keyValues('--receiver-option', values['receiver-option']),
    stallTimeoutMs: stallSeconds * 1000,
    fsync: values.fsync,
  };
}

function positiveNumber(flag: string, text: string, integer: boolean): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) throw new Error(`${flag} must be a positive ${integer ? 'integer' : 'number'}; got ${JSON.stringify(text)}`);
  return value;
}

function list<T extends string>(flag: string, text: string | undefined, allowed: readonly T[]): T[] {
  if (text === undefined) return [...allowed];
  const items = text.split(',').map((item) => item.trim()).filter((item) => item !== '');
  const unknown = items.filter((item) => !(allowed as readonly string[]).includes(item));
  if (unknown.length > 0 || items.length === 0) throw new Error(`${flag}: expected a comma-separated list of ${allowed.join(', ')}; got ${JSON.stringify(text)}`);
  // In the canonical order, each once.
  return allowed.filter((item) => items.includes(item));
}

function keyValues(flag: string, entries: string[] | undefined): string[] {
  for (const entry of entries ?? []) {
    if (!/^[a-z][a-z0-9.-]*=/.test(entry)) throw new Error(`${flag} expects key=value (e.g. replication.batch-linger=5ms); got ${JSON.stringify(entry)}`);
  }
  return entries ?? [];
}
