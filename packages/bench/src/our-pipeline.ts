import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { SERVICE_BINARIES as BINARIES, ServiceProcess } from '@storx-backup/test-postgres';
import { processUsage, type ProcessUsage } from './proc-usage.js';

const run = promisify(execFile);

export interface OurPipelineOptions {
  replicatorConfig: string;
  receiverConfig: string;
  /** Extra flags for `storx-replicator run`, e.g. `--replication.batch-linger=5ms`. */
  replicatorFlags: readonly string[];
  /** Extra flags for `backuptools-receiver serve`. */
  receiverFlags: readonly string[];
}

export interface OurUsage {
  replicator: ProcessUsage | undefined;
  receiver: ProcessUsage | undefined;
}

/**
 * Our pipeline through the real command lines: `backuptools-receiver serve` and
 * `storx-replicator run`, fresh processes for every run (so peak RSS, CPU time and a CPU
 * profile belong to that run alone), stopped with SIGTERM after it.
 */
export class OurPipeline {
  private receiver: ServiceProcess | undefined;
  private replicator: ServiceProcess | undefined;

  constructor(
    private readonly options: OurPipelineOptions,
    private readonly target: pg.Client,
  ) {}

  /** The extra replicator flags (`--replicator-option`), for `storx-replicator snapshot` too. */
  get replicatorFlags(): readonly string[] {
    return this.options.replicatorFlags;
  }

  /** Starts the receiver and waits until it listens. `cpuProfDir`: write its CPU profile there. */
  async startReceiver(cpuProfDir?: string): Promise<void> {
    this.receiver = new ServiceProcess('receiver', BINARIES.receiver, ['serve', '--config', this.options.receiverConfig, ...this.options.receiverFlags], { nodeArgs: await profileFlags(cpuProfDir, 'receiver') });
    await this.receiver.start(/receiver listening/);
  }

  /**
   * Spawns the replicator; the promise resolves once it logs that it streams. The caller
   * takes the time before calling: start-up (Node, pre-flight checks) is part of a catch-up.
   */
  async startReplicator(cpuProfDir?: string): Promise<void> {
    this.replicator = new ServiceProcess('replicator', BINARIES.replicator, ['run', '--config', this.options.replicatorConfig, ...this.options.replicatorFlags], { nodeArgs: await profileFlags(cpuProfDir, 'replicator') });
    await this.replicator.start(/replication stream started/);
  }

  /** Throws when a service that was started has exited (a crash must not look like a stall). */
  checkAlive(): void {
    for (const service of [this.receiver, this.replicator]) {
      if (service !== undefined && !service.running) throw new Error(`${service.name} exited during the run: ${service.tail()}`);
    }
  }

  async usage(): Promise<OurUsage> {
    const [replicator, receiver] = await Promise.all([usageOf(this.replicator), usageOf(this.receiver)]);
    return { replicator, receiver };
  }

  /** The receiver's count of applied events: changes whenever a batch is applied (for the stall detector). */
  async progress(): Promise<string> {
    const { rows } = await this.target.query<{ events: string }>('SELECT coalesce(sum(events_applied), 0)::text AS events FROM backuptools_state.watermarks').catch(() => ({ rows: [] }));
    return rows[0]?.events ?? '';
  }

  /** The receiver's counts of applied events and batches (requests that applied something), summed over its watermarks. */
  async applied(): Promise<{ events: number; batches: number }> {
    const { rows } = await this.target.query<{ events: string; batches: string }>('SELECT coalesce(sum(events_applied), 0)::text AS events, coalesce(sum(batches_applied), 0)::text AS batches FROM backuptools_state.watermarks').catch(() => ({ rows: [] }));
    return { events: Number(rows[0]?.events ?? 0), batches: Number(rows[0]?.batches ?? 0) };
  }

  /** Stops the replicator, then the receiver (SIGTERM; after a failure, SIGKILL). */
  async stop({ force = false }: { force?: boolean } = {}): Promise<void> {
    for (const service of [this.replicator, this.receiver]) {
      if (service === undefined) continue;
      if (force) await service.kill();
      else await service.stop();
    }
    this.replicator = undefined;
    this.receiver = undefined;
  }

  /** The replicator's config file (for other commands, such as `snapshot`). */
  get replicatorConfigPath(): string {
    return this.options.replicatorConfig;
  }
}

async function profileFlags(dir: string | undefined, name: string): Promise<string[]> {
  if (dir === undefined) return [];
  const where = join(dir, name);
  await mkdir(where, { recursive: true });
  return ['--cpu-prof', '--cpu-prof-dir', where];
}

/**
 * Whether `storx-replicator` has a `snapshot` command yet (issue #6): `snapshot --help` exits 0.
 * An unknown command exits 2 with "unknown command".
 */
export async function hasSnapshotCommand(): Promise<boolean> {
  try {
    await run(process.execPath, [BINARIES.replicator, 'snapshot', '--help']);
    return true;
  } catch {
    return false;
  }
}

/** Peak RSS and CPU time so far; undefined when the service is not running. */
function usageOf(service: ServiceProcess | undefined): Promise<ProcessUsage | undefined> {
  return service?.running ? processUsage(service.pid) : Promise.resolve(undefined);
}
