import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { connect, freePort, type PgCluster, type PgMajor, SERVICE_BINARIES as BINARIES, ServiceProcess, startCluster, startEmbeddedStandby } from '@storx-backup/test-postgres';
import { FaultProxy } from './fault-proxy.js';
import { BACKUP_PREREQUISITE_DDL, REPLICATED_TABLES, SOURCE_SCHEMA_DDL } from './source-schema.js';

const run = promisify(execFile);

export interface SystemOptions {
  /** Extra `replication.*` settings, e.g. `{ 'max-batch-bytes': '64KiB' }`. */
  replication?: Record<string, string>;
  /** Route the replicator's requests through a `FaultProxy` (`system.proxy`). */
  throughProxy?: boolean;
  /** Leave both services stopped (the test fills the source first, then starts them). */
  servicesStopped?: boolean;
  /** PostgreSQL major of both clusters (default: test-postgres's default major). */
  version?: PgMajor;
  /**
   * A streaming standby of the source (PostgreSQL 17 failover slots: `synchronized_standby_slots`
   * on the source names its physical slot, set before the base backup, so the standby inherits
   * it as a real one would); the replicator's `database` names both hosts.
   */
  standby?: { slotName: string };
}

/**
 * The whole product on one machine: source and backup PostgreSQL (embedded, restartable),
 * keys made by the real `keys generate` commands, the receiver's `serve` and the replicator's
 * `run` as child processes with generated config files.
 */
export class System {
  private constructor(
    readonly sourceCluster: PgCluster,
    readonly backupCluster: PgCluster,
    readonly sourceUrl: string,
    readonly backupUrl: string,
    private sourceClient: pg.Client,
    readonly receiver: ServiceProcess,
    readonly replicator: ServiceProcess,
    readonly receiverPort: number,
    readonly slotName: string,
    readonly replicatorConfigPath: string,
    private readonly keyDir: string,
    private readonly faultProxy: FaultProxy | undefined,
  ) {}

  /** The source's streaming standby (only with `standby`). */
  standbyCluster: PgCluster | undefined;

  /** The source database on another cluster of the same system (a standby or a promoted one). */
  sourceUrlOn(cluster: PgCluster): string {
    const url = new URL(this.sourceUrl);
    url.port = String(cluster.port);
    return url.toString();
  }

  /** The proxy between replicator and receiver (only with `throughProxy`). */
  get proxy(): FaultProxy {
    if (!this.faultProxy) throw new Error('this System was started without throughProxy');
    return this.faultProxy;
  }

  /** A connection to the source database (`reconnectSource` after a source restart). */
  get source(): pg.Client {
    return this.sourceClient;
  }

  async reconnectSource(): Promise<void> {
    await this.sourceClient.end().catch(() => undefined);
    this.sourceClient = await connect(this.sourceUrl);
    this.sourceClient.on('error', () => undefined); // a source restart ends it; reconnect again then
  }

  /** A key file made by the `keys generate` commands. */
  keyPath(name: string): string {
    return join(this.keyDir, name);
  }

  static async start(options: SystemOptions = {}): Promise<System> {
    const version = options.version !== undefined ? { version: options.version } : {};
    const [sourceCluster, backupCluster] = await Promise.all([
      startCluster({ name: 'e2e-source', backend: 'embedded', ...version }),
      startCluster({ name: 'e2e-backup', backend: 'embedded', ...version }),
    ]);
    const sourceUrl = new URL(await sourceCluster.createDatabase('storx'));
    sourceUrl.searchParams.set('options', '--search_path="satellite/0"');
    const backupUrl = await backupCluster.createDatabase('backup');
    const source = await connect(sourceUrl.toString());
    // Crash scenarios restart the source under this connection; the test reconnects.
    source.on('error', () => undefined);
    for (const statement of SOURCE_SCHEMA_DDL) await source.query(statement);
    const backup = await connect(backupUrl);
    for (const statement of BACKUP_PREREQUISITE_DDL) await backup.query(statement);
    await backup.end();

    let standbyCluster: PgCluster | undefined;
    let databaseForReplicator = sourceUrl.toString();
    if (options.standby) {
      await source.query(`ALTER SYSTEM SET synchronized_standby_slots = '${options.standby.slotName}'`);
      await source.query('SELECT pg_reload_conf()');
      standbyCluster = await startEmbeddedStandby({ name: 'e2e-standby', primary: sourceCluster, slotName: options.standby.slotName });
      // libpq's multi-host form: the replicator streams from whichever is the primary.
      databaseForReplicator = databaseForReplicator.replace(`@${sourceCluster.host}:${sourceCluster.port}/`, `@${sourceCluster.host}:${sourceCluster.port},${standbyCluster.host}:${standbyCluster.port}/`);
    }

    const dir = await mkdtemp(join(tmpdir(), 'storx-e2e-'));
    await run(process.execPath, [BINARIES.receiver, 'keys', 'generate', '--out', dir, '--bits', '2048']);
    await run(process.execPath, [BINARIES.replicator, 'keys', 'generate', '--out', dir]);

    const receiverPort = await freePort();
    const receiverConfig = join(dir, 'receiver.yaml');
    await writeFile(
      receiverConfig,
      `database-url: "${backupUrl}"
listen-host: 127.0.0.1
listen-port: ${receiverPort}
private-keys: ["${join(dir, 'backuptools_private.pem')}"]
trusted-sender-keys: ["${join(dir, 'storx_signing_public.pem')}"]
tables: [${REPLICATED_TABLES.join(', ')}]
log-level: info
`,
    );
    const faultProxy = options.throughProxy ? await FaultProxy.start(receiverPort) : undefined;
    const webhookPort = faultProxy?.port ?? receiverPort;
    const slotName = 'backuptools_slot';
    const replicatorConfig = join(dir, 'replicator.yaml');
    const extra = Object.entries({ 'retry-delay': '100ms', 'max-retry-delay': '1s', 'status-interval': '500ms', ...options.replication })
      .map(([key, value]) => `  ${key}: "${value}"`)
      .join('\n');
    await writeFile(
      replicatorConfig,
      `database: "${databaseForReplicator}"
replication:
  webhook-url: "http://127.0.0.1:${webhookPort}/webhook"
  webhook-public-key: "${join(dir, 'backuptools_public.pem')}"
  signing-key: "${join(dir, 'storx_signing_private.pem')}"
  slot-name: "${slotName}"
  tables: [${REPLICATED_TABLES.join(', ')}]
${extra}
log-level: info
`,
    );
    const receiver = new ServiceProcess('receiver', BINARIES.receiver, ['serve', '--config', receiverConfig]);
    const replicator = new ServiceProcess('replicator', BINARIES.replicator, ['run', '--config', replicatorConfig]);
    const system = new System(sourceCluster, backupCluster, sourceUrl.toString(), backupUrl, source, receiver, replicator, receiverPort, slotName, replicatorConfig, dir, faultProxy);
    system.standbyCluster = standbyCluster;
    if (!options.servicesStopped) {
      await receiver.start(/receiver listening/);
      await replicator.start(/replication stream started/);
    }
    return system;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.replicator.stop(), this.receiver.stop()]);
    await this.faultProxy?.close();
    await this.sourceClient.end().catch(() => undefined);
    await Promise.allSettled([this.sourceCluster.stop(), this.backupCluster.stop(), this.standbyCluster?.stop()]);
    await rm(this.keyDir, { recursive: true, force: true }); // private keys never outlive the test
  }
}
