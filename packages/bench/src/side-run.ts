import { join } from 'node:path';
import type { BenchEnvironment, ClusterCpu, Side } from './bench-environment.js';
import type { OurUsage } from './our-pipeline.js';
import type { ProcessUsage } from './proc-usage.js';
import type { ServiceUsage } from './results.js';
import type { BenchTable } from './schema.js';

/** Starting and stopping one side, the same way for native and ours. */
export interface SideControl {
  readonly side: Side;
  /** What must run before the clock starts (ours: the receiver). */
  before(): Promise<void>;
  /** Starts replicating; resolves once it streams. */
  start(): Promise<void>;
  /** Service processes (ours), or undefined. */
  usage(): Promise<OurUsage | undefined>;
  /** Events and batches the receiver has applied so far (ours), or undefined. */
  applied(): Promise<{ events: number; batches: number } | undefined>;
  stop(options?: { force?: boolean }): Promise<void>;
}

export function nativeControl(env: BenchEnvironment): SideControl {
  return {
    side: 'native',
    before: () => Promise.resolve(),
    start: async () => {
      await env.native.start();
      await env.native.waitStreaming();
    },
    usage: () => Promise.resolve(undefined),
    applied: () => Promise.resolve(undefined),
    stop: () => env.native.stop(),
  };
}

/** `profileDir`: write both services' CPU profiles under it (`replicator/`, `receiver/`). */
export function oursControl(env: BenchEnvironment, profileDir: string | undefined): SideControl {
  return {
    side: 'ours',
    before: () => env.ours.startReceiver(profileDir),
    start: () => env.ours.startReplicator(profileDir),
    usage: () => env.ours.usage(),
    applied: () => env.ours.applied(),
    stop: (options) => env.ours.stop(options),
  };
}

export function profileDirFor(base: string | undefined, name: string): string | undefined {
  return base === undefined ? undefined : join(base, name);
}

export interface SideMeasurement {
  seconds: number;
  loadSeconds: number;
  sourcePgCpuSeconds: number;
  backupPgCpuSeconds: number;
  verified: boolean;
  startupSeconds?: number;
  /** Ours: events the receiver applied during the run (the workload's rows and the marker when it streamed them). */
  eventsApplied?: number;
  /** Ours: batches (requests) the receiver applied during the run. */
  batchesApplied?: number;
  replicator?: ServiceUsage;
  receiver?: ServiceUsage;
}

export type SideTiming =
  /** Replication runs first; the clock starts with the load. */
  | { mode: 'live'; load: () => Promise<void> }
  /** The load is done (it took `loadSeconds`); the clock starts with replication. */
  | { mode: 'backlog'; marker: number; loadSeconds: number };

/**
 * One side replicating one load: from the start of the load (live) or of replication
 * (backlog) until the backup has applied the marker committed after the load. Reads the
 * PostgreSQL CPU of both clusters around that window and the services' usage at its end,
 * stops the side, then checks the target table equals the source's.
 */
export async function measureSide(env: BenchEnvironment, control: SideControl, table: BenchTable, timing: SideTiming): Promise<SideMeasurement> {
  const appliedBefore = await control.applied();
  await control.before();
  const receiverReady = (await control.usage())?.receiver;
  let replicatorReady: ProcessUsage | undefined;
  let marker: number;
  let loadSeconds: number;
  let startupSeconds: number | undefined;
  let cpuBefore: ClusterCpu;
  let started: number;
  if (timing.mode === 'live') {
    await control.start();
    replicatorReady = (await control.usage())?.replicator;
    cpuBefore = await env.clusterCpu();
    started = performance.now();
    await timing.load();
    loadSeconds = (performance.now() - started) / 1000;
    marker = (await env.mark()).id;
  } else {
    cpuBefore = await env.clusterCpu();
    started = performance.now();
    await control.start();
    startupSeconds = (performance.now() - started) / 1000;
    replicatorReady = (await control.usage())?.replicator;
    marker = timing.marker;
    loadSeconds = timing.loadSeconds;
  }
  const seen = await env.waitForMarker(control.side, marker);
  const cpuAfter = await env.clusterCpu();
  const usage = await control.usage();
  const appliedAfter = await control.applied();
  await control.stop();
  const verified = await env.matches(control.side, table);
  const replicator = serviceUsage(usage?.replicator, replicatorReady);
  const receiver = serviceUsage(usage?.receiver, receiverReady);
  return {
    seconds: (seen - started) / 1000,
    loadSeconds,
    ...clusterCpuBetween(cpuBefore, cpuAfter),
    verified,
    ...(control.side === 'ours' && timing.mode === 'backlog' ? { startupSeconds } : {}),
    ...(appliedBefore !== undefined && appliedAfter !== undefined ? { eventsApplied: appliedAfter.events - appliedBefore.events, batchesApplied: appliedAfter.batches - appliedBefore.batches } : {}),
    ...(replicator ? { replicator } : {}),
    ...(receiver ? { receiver } : {}),
  };
}

/** A service at the end of a run, with the CPU it had used when it was ready; undefined when it was not running. */
export function serviceUsage(end: ProcessUsage | undefined, ready: ProcessUsage | undefined): ServiceUsage | undefined {
  return end === undefined ? undefined : { ...end, startupCpuSeconds: ready?.cpuSeconds ?? Number.NaN };
}

/** What each cluster spent between two readings. */
export function clusterCpuBetween(before: ClusterCpu, after: ClusterCpu): { sourcePgCpuSeconds: number; backupPgCpuSeconds: number } {
  return { sourcePgCpuSeconds: after.source - before.source, backupPgCpuSeconds: after.backup - before.backup };
}
