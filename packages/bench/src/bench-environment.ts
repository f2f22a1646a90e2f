import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type pg from 'pg';
import { connect, freePort, parseConnectionUrl, type PgCluster, SERVICE_BINARIES as BINARIES, startCluster, waitFor } from '@storx-backup/test-postgres';
import { NativeReplication, type PublisherConnection } from './native-replication.js';
import { OurPipeline } from './our-pipeline.js';
import { processTreeCpuSeconds } from './proc-usage.js';
import { type BenchTable, qualified, SOURCE_DDL, TABLES, TARGET_DDL } from './schema.js';

const run = promisify(execFile);

/** Our replicator's slot and publication on the source. */
export const OUR_SLOT = 'bench_slot';
export const OUR_PUBLICATION = 'bench_pub';

export interface EnvironmentOptions {
  /** `key=value` options for `storx-replicator run` (`replication.batch-linger=5ms`). */
  replicatorOptions: readonly string[];
  /** `key=value` options for `backuptools-receiver serve` (`database-pool-size=4`). */
  receiverOptions: readonly string[];
  /** Give up a run when the backup applies nothing for this long (never a timing criterion). */
  stallTimeoutMs: number;
  /** Both clusters with `fsync=on` (test clusters run with it off). */
  fsync: boolean;
}

/** Which side is replicating. */
export type Side = 'native' | 'ours';

/** CPU seconds spent so far by each cluster (postmaster and every backend). */
export interface ClusterCpu {
  source: number;
  backup: number;
}

/**
 * Two embedded PostgreSQL clusters and everything both pipelines need: the source database,
 * one target database per side on the backup cluster (so they never share rows), native's
 * publication and (disabled) subscription, our publication and slot, keys and config files.
 */
export class BenchEnvironment {
  private markers = 0;

  private constructor(
    readonly sourceCluster: PgCluster,
    readonly backupCluster: PgCluster,
    /** The source database, search_path `satellite/0` (what the replicator is given). */
    readonly sourceUrl: string,
    readonly publisher: PublisherConnection,
    /** Admin connection to the source database: preparation, markers, slots. */
    readonly source: pg.Client,
    readonly targets: Readonly<Record<Side, pg.Client>>,
    readonly native: NativeReplication,
    readonly ours: OurPipeline,
    private readonly workDir: string,
    private readonly options: EnvironmentOptions,
  ) {}

  static async start(options: EnvironmentOptions): Promise<BenchEnvironment> {
    const settings: Record<string, string> = options.fsync ? { fsync: 'on' } : {};
    const clusters = await Promise.allSettled([startCluster({ name: 'bench-source', backend: 'embedded', settings }), startCluster({ name: 'bench-backup', backend: 'embedded', settings })]);
    const [sourceCluster, backupCluster] = clusters.map((result) => (result.status === 'fulfilled' ? result.value : undefined));
    if (sourceCluster === undefined || backupCluster === undefined) {
      await Promise.allSettled([sourceCluster?.stop(), backupCluster?.stop()]);
      throw (clusters.find((result) => result.status === 'rejected') as PromiseRejectedResult).reason;
    }
    const opened: pg.Client[] = [];
    const open = async (url: string): Promise<pg.Client> => {
      const client = await connect(url);
      client.on('error', () => undefined); // a lost connection also fails the query awaiting it
      opened.push(client);
      return client;
    };
    let workDir: string | undefined;
    try {
      const sourceUrl = new URL(await sourceCluster.createDatabase('storx'));
      sourceUrl.searchParams.set('options', '--search_path="satellite/0"');
      const [nativeUrl, oursUrl] = [await backupCluster.createDatabase('native'), await backupCluster.createDatabase('ours')];
      const source = await open(sourceUrl.toString());
      const targets = { native: await open(nativeUrl), ours: await open(oursUrl) };
      for (const statement of SOURCE_DDL) await source.query(statement);
      for (const target of Object.values(targets)) for (const statement of TARGET_DDL) await target.query(statement);

      const parts = parseConnectionUrl(sourceUrl.toString());
      const publisher = { host: parts.host, port: parts.port, user: parts.user, password: parts.password, database: parts.database };
      const native = await NativeReplication.create(source, targets.native, publisher, TABLES);
      // Ours: publication and slot made here, as `storx-replicator setup` would, so the first
      // run's start-up is like every other's (no slot creation inside a measurement).
      await source.query(`CREATE PUBLICATION ${OUR_PUBLICATION} FOR TABLE ${TABLES.map(qualified).join(', ')}`);
      await source.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [OUR_SLOT]);

      workDir = await mkdtemp(join(tmpdir(), 'storx-bench-'));
      await run(process.execPath, [BINARIES.receiver, 'keys', 'generate', '--out', workDir, '--bits', '2048']);
      await run(process.execPath, [BINARIES.replicator, 'keys', 'generate', '--out', workDir]);
      const { receiverConfig, replicatorConfig } = await writeConfigs(workDir, sourceUrl.toString(), oursUrl);
      const ours = new OurPipeline(
        {
          receiverConfig,
          replicatorConfig,
          replicatorFlags: options.replicatorOptions.map((option) => `--${option}`),
          receiverFlags: options.receiverOptions.map((option) => `--${option}`),
        },
        targets.ours,
      );
      return new BenchEnvironment(sourceCluster, backupCluster, sourceUrl.toString(), publisher, source, targets, native, ours, workDir, options);
    } catch (error) {
      await Promise.allSettled(opened.map((client) => client.end()));
      await Promise.allSettled([sourceCluster.stop(), backupCluster.stop()]);
      if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** `SELECT version()` of the source (both clusters run the same binaries). */
  async postgresVersion(): Promise<string> {
    const { rows } = await this.source.query<{ version: string }>('SELECT version()');
    return rows[0]!.version;
  }

  /** Server settings that matter for the comparison, as the source reports them. */
  async settings(): Promise<Record<string, string>> {
    const names = ['server_version', 'fsync', 'synchronous_commit', 'wal_level', 'shared_buffers', 'max_wal_size', 'logical_decoding_work_mem', 'max_sync_workers_per_subscription', 'wal_sender_timeout'];
    const { rows } = await this.source.query<{ name: string; setting: string }>('SELECT name, current_setting(name) AS setting FROM unnest($1::text[]) AS name', [names]);
    return Object.fromEntries(rows.map((row) => [row.name, row.setting]));
  }

  /** Runs `statement` on the source and both targets (the starting state of a workload). */
  async everywhere(statement: string, values: unknown[] = []): Promise<void> {
    await Promise.all([this.source, this.targets.native, this.targets.ours].map((client) => client.query(statement, values)));
  }

  /**
   * Moves both replication slots to the current end of WAL, so what was written to prepare a
   * workload (or replicated by the other side) is never replicated. Both must be stopped.
   */
  async parkSlots(): Promise<void> {
    const slots = [OUR_SLOT, this.native.slot];
    await waitFor(
      async () => {
        const { rows } = await this.source.query<{ busy: string }>('SELECT count(*) FILTER (WHERE active)::text AS busy FROM pg_replication_slots WHERE slot_name = ANY($1)', [slots]);
        return rows[0]?.busy === '0';
      },
      { description: 'both slots to be released', timeoutMs: 120_000, intervalMs: 10 },
    );
    for (const slot of slots) await this.source.query('SELECT pg_replication_slot_advance($1, pg_current_wal_lsn())', [slot]);
  }

  /**
   * Commits a marker row after a load and returns its id and the WAL position after it. Both
   * sides apply in commit order, so the marker on a target means everything before it is there.
   */
  async mark(): Promise<{ id: number; lsn: string }> {
    const id = ++this.markers;
    await this.source.query(`INSERT INTO ${qualified('bench_marker')} (id) VALUES ($1)`, [id]);
    const { rows } = await this.source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    return { id, lsn: rows[0]!.lsn };
  }

  /**
   * Polls `side`'s target every 10 ms until the marker is there; returns `performance.now()`
   * when it was seen. Never a deadline: a run fails only when the side crashed or applied
   * nothing at all for `stallTimeoutMs`.
   */
  async waitForMarker(side: Side, marker: number): Promise<number> {
    const target = this.targets[side];
    const progress = side === 'native' ? () => this.native.progress() : () => this.ours.progress();
    let lastProgress = await progress();
    let lastChange = performance.now();
    let lastCheck = lastChange;
    for (;;) {
      const { rows } = await target.query(`SELECT 1 FROM ${qualified('bench_marker')} WHERE id = $1`, [marker]);
      const now = performance.now();
      if (rows.length > 0) return now;
      if (now - lastCheck >= 1000) {
        lastCheck = now;
        if (side === 'ours') this.ours.checkAlive();
        const current = await progress();
        if (current !== lastProgress) {
          lastProgress = current;
          lastChange = now;
        } else if (now - lastChange > this.options.stallTimeoutMs) {
          throw new Error(`${side}: nothing applied for ${Math.round(this.options.stallTimeoutMs / 1000)} s (stalled)`);
        }
      }
      await sleep(10);
    }
  }

  /** Row count and an order-independent hash of `table`'s source columns. */
  async digest(client: pg.Client, table: BenchTable): Promise<string> {
    // ticks has one more column on the targets: hash the source's columns only.
    const row = table === 'ticks' ? 'ROW(t.id, t.committed_at, t.payload)' : 't';
    const { rows } = await client.query<{ digest: string }>(`SELECT count(*) || ':' || coalesce(sum(hashtext(${row}::text)), 0) AS digest FROM ${qualified(table)} t`);
    return rows[0]!.digest;
  }

  /** Whether `side`'s target holds exactly the source's rows of `table`. */
  async matches(side: Side, table: BenchTable): Promise<boolean> {
    const [expected, actual] = await Promise.all([this.digest(this.source, table), this.digest(this.targets[side], table)]);
    return expected === actual;
  }

  async clusterCpu(): Promise<ClusterCpu> {
    const [source, backup] = await Promise.all([processTreeCpuSeconds(this.sourceCluster.pid), processTreeCpuSeconds(this.backupCluster.pid)]);
    return { source, backup };
  }

  async stop(): Promise<void> {
    await this.ours.stop({ force: true }).catch(() => undefined);
    await Promise.allSettled([this.source.end(), this.targets.native.end(), this.targets.ours.end()]);
    await Promise.allSettled([this.sourceCluster.stop(), this.backupCluster.stop()]);
    await rm(this.workDir, { recursive: true, force: true });
  }
}

async function writeConfigs(dir: string, sourceUrl: string, backupUrl: string): Promise<{ receiverConfig: string; replicatorConfig: string }> {
  const port = await freePort();
  const receiverConfig = join(dir, 'receiver.yaml');
  const replicatorConfig = join(dir, 'replicator.yaml');
  const tables = `[${TABLES.join(', ')}]`;
  // The change workloads measure streaming: `run` must not copy existing rows on its first
  // start (the slot exists, the receiver holds nothing yet). Versions without the option
  // never copy, and refuse unknown keys.
  const { stdout: runHelp } = await run(process.execPath, [BINARIES.replicator, 'run', '--help']);
  const noInitialCopy = runHelp.includes('initial-snapshot') ? '\n  initial-snapshot: false' : '';
  await writeFile(
    receiverConfig,
    `database-url: "${backupUrl}"
listen-host: 127.0.0.1
listen-port: ${port}
private-keys: ["${join(dir, 'backuptools_private.pem')}"]
trusted-sender-keys: ["${join(dir, 'storx_signing_public.pem')}"]
tables: ${tables}
`,
  );
  await writeFile(
    replicatorConfig,
    `database: "${sourceUrl}"
replication:
  webhook-url: "http://127.0.0.1:${port}/webhook"
  webhook-public-key: "${join(dir, 'backuptools_public.pem')}"
  signing-key: "${join(dir, 'storx_signing_private.pem')}"
  slot-name: "${OUR_SLOT}"
  publication-name: "${OUR_PUBLICATION}"
  tables: ${tables}${noInitialCopy}
`,
  );
  return { receiverConfig, replicatorConfig };
}
