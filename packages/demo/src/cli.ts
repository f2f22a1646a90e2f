import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, freePort } from '@storx-backup/test-postgres';
import { closeChildren } from './child-registry.js';
import { BINARIES, displayCommand, displayPath, runCommand, runCommandOk, shellQuote } from './commands.js';
import { type DemoDatabases, prepareDatabases, replicationSettings, startClusters } from './databases.js';
import * as format from './format.js';
import { type DemoOptions, parseDemoCommandLine, USAGE } from './options.js';
import { bar, ProgressLine } from './progress-line.js';
import { LagProbes } from './lag-probes.js';
import { scrape, total } from './prometheus.js';
import { ServiceProcess } from './service-process.js';
import { currentWalLsn, type SlotPosition, slotPosition } from './slot-position.js';
import { SCHEMA, TABLE_NAMES } from './storj-schema.js';
import { Teardown } from './teardown.js';
import { type TableComparison, compareTables } from './verification.js';
import { rowsWritten, Workload, type WorkloadCounts } from './workload.js';

const SLOT_NAME = 'backuptools_slot';
const WRITERS = 4;
/** Part of --rows written before the replicator starts, for its initial snapshot to copy. */
const EXISTING_SHARE = 0.2;
const MAX_EXISTING_ROWS = 10_000;
const SAMPLE_INTERVAL_MS = 250;
/** Catch-up is timed by polling the slot this often. */
const CATCH_UP_POLL_MS = 50;
/** Catch-up fails when the slot has not moved for this long. */
const STALL_TIMEOUT_MS = 120_000;
/** A second signal within this time of the first is test-postgres raising it again, not the operator. */
const REPEATED_SIGNAL_GRACE_MS = 2_000;

/** `scripts/demo`: see USAGE. Returns the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseDemoCommandLine(argv);
  switch (parsed.kind) {
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    case 'error':
      process.stderr.write(`error: ${parsed.message.split('\n')[0]!.replace(/\.$/, '')}. Run "scripts/demo --help" for the options.\n`);
      return 2;
    case 'run':
      return new Demo(parsed.options).run();
  }
}

interface Services {
  workDir: string;
  receiver: ServiceProcess;
  replicator: ServiceProcess;
  receiverConfig: string;
  replicatorConfig: string;
  receiverMetricsUrl: string;
  replicatorMetricsUrl: string;
}

interface Measurements {
  counts: WorkloadCounts;
  writeMs: number;
  catchUpMs: number;
  afterLastWriteMs: number;
  peakLagBytes: number;
  lag: LagProbes;
}

/** Thrown by a stage that notices Ctrl-C; the signal handler owns the rest. */
class Interrupted extends Error {}

class Demo {
  readonly #progress = new ProgressLine();
  readonly #teardown = new Teardown((line) => process.stderr.write(`${line}\n`));
  readonly #interrupted = new AbortController();
  /** Set while `--keep` waits: Ctrl-C then ends the wait instead of aborting a stage. */
  #keepWaiting: (() => void) | undefined;
  #firstSignalAt: number | undefined;
  #services: Services | undefined;

  constructor(private readonly options: DemoOptions) {}

  async run(): Promise<number> {
    this.#installSignalHandlers();
    try {
      const equal = await this.#stages();
      await this.#shutDown();
      return equal ? 0 : 1;
    } catch (error) {
      if (this.#interrupted.signal.aborted) return new Promise<number>(() => undefined); // the signal handler exits
      this.#progress.clear();
      process.stderr.write(`\ndemo failed: ${(error as Error).message}\n`);
      await this.#printServiceLogs();
      process.stderr.write('stopping everything and removing the temporary files\n');
      await this.#teardown.close();
      return 1;
    }
  }

  async #stages(): Promise<boolean> {
    const { rows, keep } = this.options;
    this.#say(`storx-backup demo: ${format.count(rows)} row changes from a source PostgreSQL to a backup PostgreSQL, through the real command lines`);
    const workDir = await mkdtemp(join(tmpdir(), `storx-demo-${process.pid}-`));
    this.#teardown.add('temporary files', async () => {
      // A command still running ("keys generate" writes into it) goes first.
      await closeChildren();
      await rm(workDir, { recursive: true, force: true });
    });
    // Last resort, should the process exit without its teardown (an operator's second Ctrl-C).
    process.on('exit', () => rmSync(workDir, { recursive: true, force: true }));
    this.#say(`work directory ${workDir} (keys, configs, logs${keep ? '' : '; removed at the end'})\n`);

    const databases = await this.#step('PostgreSQL', async () => {
      const started = Date.now();
      const { source, backup } = await startClusters(this.#teardown);
      this.#check();
      const prepared = await prepareDatabases(source, backup);
      const settings = await replicationSettings(prepared.sourceAdminUrl);
      return {
        value: prepared,
        lines: [
          `source and backup PostgreSQL 17 (embedded) on 127.0.0.1:${source.port} and 127.0.0.1:${backup.port}, started in ${format.seconds(Date.now() - started)}`,
          `source: database storx, schema "${SCHEMA}" with objects and segments, owned by the user storx`,
          `seed step 1: wal_level = ${settings['wal_level']}, max_replication_slots = ${settings['max_replication_slots']}, max_wal_senders = ${settings['max_wal_senders']}`,
          `seed step 2: ALTER USER storx WITH REPLICATION; GRANT CONNECT, USAGE, SELECT (as in the seed)`,
          `backup: database backup, owned by the user backuptools (tables are created by the receiver)`,
        ],
      };
    });

    // Rows that exist before the replicator's first run: it copies them (the initial snapshot)
    // in the snapshot its new slot exports, then streams what commits after.
    const existingRows = Math.min(MAX_EXISTING_ROWS, Math.max(100, Math.round(rows * EXISTING_SHARE)));
    await this.#step('existing data', async () => {
      const counts = await new Workload(databases.sourceUrl, existingRows, WRITERS).run(this.#interrupted.signal);
      return { value: undefined, lines: [`${format.count(rowsWritten(counts))} row changes written before the replicator's first run: its initial snapshot copies them`] };
    });

    const services = await this.#startServices(workDir, databases);
    const measurements = await this.#runWorkload(databases, services);
    const comparisons = await this.#verify(databases);
    const equal = comparisons.every((comparison) => comparison.equal);
    await this.#report(measurements, services);
    if (keep) await this.#keepRunning(databases, services, equal);
    return equal;
  }

  async #startServices(workDir: string, databases: DemoDatabases): Promise<Services> {
    const keys = await this.#step('keys', async () => {
      await runCommandOk(BINARIES.receiver, ['keys', 'generate', '--out', workDir]);
      await runCommandOk(BINARIES.replicator, ['keys', 'generate', '--out', workDir]);
      return {
        value: {
          receiverPrivate: join(workDir, 'backuptools_private.pem'),
          receiverPublic: join(workDir, 'backuptools_public.pem'),
          signingPrivate: join(workDir, 'storx_signing_private.pem'),
          signingPublic: join(workDir, 'storx_signing_public.pem'),
        },
        lines: [
          'backuptools-receiver keys generate: RSA 3072 key pair; the public half goes to the source host',
          'storx-replicator keys generate: Ed25519 signing key pair; the public half goes to the backup host',
        ],
      };
    });

    const [receiverPort, replicatorMetricsPort] = [await freePort(), await freePort()];
    const receiverConfig = join(workDir, 'receiver.yaml');
    const replicatorConfig = join(workDir, 'replicator.yaml');
    await this.#step('configuration', async () => {
      await writeFile(
        receiverConfig,
        [
          `database-url: ${JSON.stringify(databases.backupUrl)}`,
          'listen-host: 127.0.0.1',
          `listen-port: ${receiverPort}`,
          `private-keys: [${JSON.stringify(keys.receiverPrivate)}]`,
          `trusted-sender-keys: [${JSON.stringify(keys.signingPublic)}]`,
          'tables: [objects, segments]',
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      const setup = [
        'setup',
        '--config', replicatorConfig,
        '--database', databases.sourceUrl,
        '--replication.webhook-url', `http://127.0.0.1:${receiverPort}/webhook`,
        '--replication.webhook-public-key', keys.receiverPublic,
        '--replication.signing-key', keys.signingPrivate,
        '--replication.metrics-listen', `127.0.0.1:${replicatorMetricsPort}`,
        // Report the slot position every second rather than every 10 s: the demo watches it.
        '--replication.status-interval', '1s',
      ];
      await runCommandOk(BINARIES.replicator, setup);
      return {
        value: undefined,
        lines: [`receiver: ${displayPath(receiverConfig)} (written by the demo)`, `replicator: ${displayPath(replicatorConfig)}, written by "storx-replicator setup --database ... --replication.webhook-url ..."`],
      };
    });

    const receiver = new ServiceProcess('receiver', [BINARIES.receiver, 'serve', '--config', receiverConfig], join(workDir, 'receiver.log'));
    const replicator = new ServiceProcess('replicator', [BINARIES.replicator, 'run', '--config', replicatorConfig], join(workDir, 'replicator.log'));
    this.#services = {
      workDir,
      receiver,
      replicator,
      receiverConfig,
      replicatorConfig,
      receiverMetricsUrl: `http://127.0.0.1:${receiverPort}/metrics`,
      replicatorMetricsUrl: `http://127.0.0.1:${replicatorMetricsPort}/metrics`,
    };
    // Registered before they start, undone in reverse: the replicator stops before the receiver.
    this.#teardown.add('receiver', async () => void (await receiver.stop()));
    await this.#step('receiver', async () => {
      this.#check();
      await receiver.start(/"msg":"receiver listening"/);
      return { value: undefined, lines: [`backuptools-receiver serve: pid ${receiver.pid}, POST http://127.0.0.1:${receiverPort}/webhook, /healthz, /readyz, /metrics`] };
    });
    await this.#step('doctor', async () => {
      const doctor = await runCommand(BINARIES.replicator, ['doctor', '--config', replicatorConfig]);
      const items = doctor.stdout.split('\n').filter((line) => /^\s*[✓✗]/.test(line));
      const failed = items.filter((line) => line.trimStart().startsWith('✗'));
      if (doctor.code !== 0) throw new Error(`storx-replicator doctor found problems:\n${doctor.stdout}${doctor.stderr}`);
      return { value: undefined, lines: [`storx-replicator doctor: ${items.length - failed.length} of ${items.length} checklist items ✓ (PostgreSQL, StorXMonitor, Backuptools)`] };
    });
    this.#teardown.add('replicator', async () => void (await replicator.stop()));
    await this.#step('replicator', async () => {
      this.#check();
      const started = Date.now();
      await replicator.start(/"msg":"replication stream started"/);
      const metrics = (await scrape(this.#services!.replicatorMetricsUrl)) ?? [];
      // Labelled by the table's qualified name ("satellite/0".objects): matched on its last part.
      const copiedRows = (table: string): number =>
        total(
          metrics.filter((sample) => (/([^."]+)"?$/.exec(sample.labels['table'] ?? '')?.[1] ?? '') === table),
          'storx_replicator_snapshot_rows_copied_total',
        );
      const copied = TABLE_NAMES.map((table) => `${table} ${format.count(copiedRows(table))}`);
      return {
        value: undefined,
        lines: [
          `storx-replicator run: pid ${replicator.pid}; /metrics on 127.0.0.1:${replicatorMetricsPort}`,
          `first run: slot ${SLOT_NAME} created, existing rows copied in its snapshot (${copied.join(', ')}), streaming after ${format.seconds(Date.now() - started)}`,
        ],
      };
    });
    return this.#services;
  }

  async #runWorkload(databases: DemoDatabases, services: Services): Promise<Measurements> {
    this.#check();
    const { rows } = this.options;
    this.#say(`workload  ${WRITERS} connections write ${format.count(rows)} row changes: uploads (an object and its segments), repairs, metadata and expiry updates, deletes`);
    const monitor = await connect(databases.sourceAdminUrl);
    monitor.on('error', () => undefined);
    this.#teardown.add('monitoring connection', () => monitor.end().catch(() => undefined));
    const workload = new Workload(databases.sourceUrl, rows, WRITERS);
    let peakLagBytes = 0;
    let lagBytes = 0;
    let applied = 0;
    // The receiver's counter includes the initial snapshot's rows (copied before the workload):
    // "applied" below counts the workload's row changes only, so it ends equal to "written".
    const appliedBefore = total((await scrape(services.receiverMetricsUrl)) ?? [], 'backuptools_events_applied_total');
    const lag = new LagProbes();
    /** Reads the slot and the receiver's applied count; returns the slot's position. While writing, opens a lag probe. */
    const sample = async (target?: string, probe = false): Promise<SlotPosition | undefined> => {
      const [position, metrics] = await Promise.all([slotPosition(monitor, SLOT_NAME, target).catch(() => undefined), scrape(services.receiverMetricsUrl)]);
      if (metrics !== undefined) applied = total(metrics, 'backuptools_events_applied_total') - appliedBefore;
      if (position !== undefined) {
        lagBytes = position.lagBytes;
        peakLagBytes = Math.max(peakLagBytes, lagBytes);
        const now = Date.now();
        lag.settle(position.confirmed, now);
        if (probe) lag.open(position.current, now);
      }
      return position;
    };

    const started = Date.now();
    const writing = workload.run(this.#interrupted.signal);
    let writesDone = false;
    void writing.then(
      () => (writesDone = true),
      () => (writesDone = true),
    );
    while (!writesDone) {
      await Promise.race([writing.catch(() => undefined), delay(SAMPLE_INTERVAL_MS)]);
      this.#check();
      await sample(undefined, true);
      const written = rowsWritten(workload.counts);
      this.#progress.update(`writing     ${bar(written / rows)} ${percent(written / rows)}  ${format.count(written)}/${format.count(rows)} rows · applied on the backup ${format.count(applied)} · slot lag ${format.bytes(lagBytes)}`);
    }
    const counts = await writing;
    const writeMs = Date.now() - started;
    const written = rowsWritten(counts);
    this.#progress.finish(`writing     ${bar(1)} 100%  ${format.count(written)} rows in ${format.count(counts.transactions)} transactions, ${format.seconds(writeMs)}`);

    // Everything committed before this position is in the backup once the slot reaches it: the
    // replicator acknowledges only what the receiver has committed.
    const target = await currentWalLsn(monitor);
    let lastMove = Date.now();
    let lastConfirmed = '';
    for (;;) {
      this.#check();
      const position = await sample(target);
      if (position?.reached === true) break;
      if (position !== undefined && position.confirmed !== lastConfirmed) {
        lastConfirmed = position.confirmed;
        lastMove = Date.now();
      }
      if (Date.now() - lastMove > STALL_TIMEOUT_MS) {
        throw new Error(`the slot has not moved for ${STALL_TIMEOUT_MS / 1000} s (confirmed ${lastConfirmed || 'unknown'}, target ${target})`);
      }
      this.#progress.update(`catching up ${bar(applied / written)} ${percent(applied / written)}  applied on the backup ${format.count(applied)}/${format.count(written)} · slot lag ${format.bytes(lagBytes)}`);
      await delay(CATCH_UP_POLL_MS);
    }
    const caughtUp = Date.now();
    this.#progress.finish(`caught up   ${bar(1)} 100%  the slot is acknowledged past the last write (${target}): the backup has committed everything`);
    return { counts, writeMs, catchUpMs: caughtUp - started, afterLastWriteMs: caughtUp - started - writeMs, peakLagBytes, lag };
  }

  async #verify(databases: DemoDatabases): Promise<TableComparison[]> {
    this.#check();
    const comparisons = await compareTables(databases.sourceAdminUrl, databases.backupAdminUrl);
    this.#say('\nverification: per table, row count, ordered hash and multiset hash on the source and on the backup');
    for (const { table, source, backup, equal } of comparisons) {
      const theirs = backup === undefined ? 'backup: table missing' : `backup ${format.count(backup.rows)} rows, ordered ${backup.ordered.slice(0, 12)}, multiset ${backup.multiset.slice(0, 12)}`;
      this.#say(`  ${equal ? '✓' : '✗'} ${table.padEnd(8)}  source ${format.count(source.rows)} rows, ordered ${source.ordered.slice(0, 12)}, multiset ${source.multiset.slice(0, 12)}  ${equal ? '=' : '≠'}  ${theirs}`);
    }
    this.#say(comparisons.every((comparison) => comparison.equal) ? 'verification passed: the backup equals the source' : 'verification FAILED: the backup differs from the source');
    return comparisons;
  }

  async #report(measurements: Measurements, services: Services): Promise<void> {
    const { counts, writeMs, catchUpMs, afterLastWriteMs, peakLagBytes, lag } = measurements;
    const written = rowsWritten(counts);
    const metrics = (await scrape(services.replicatorMetricsUrl)) ?? [];
    const batches = total(metrics, 'storx_replicator_batches_sent_total');
    const sentBytes = total(metrics, 'storx_replicator_bytes_sent_total');
    const status = await runCommand(BINARIES.replicator, ['status', '--config', services.replicatorConfig, '--json']);
    const report = parseStatus(status.stdout);
    this.#say('');
    this.#say(`workload    ${format.count(written)} row changes (${format.count(counts.inserted)} inserts, ${format.count(counts.updated)} updates, ${format.count(counts.deleted)} deletes) in ${format.count(counts.transactions)} transactions, written in ${format.seconds(writeMs)}`);
    this.#say(`throughput  ${format.count(written / (catchUpMs / 1000))} rows/s end to end (first write until the backup had committed the last: ${format.seconds(catchUpMs)}); ${format.count(batches)} signed, encrypted batches, ${format.bytes(sentBytes)}`);
    const p50 = lag.quantile(0.5);
    const p99 = lag.quantile(0.99);
    const measured = p50 === undefined || p99 === undefined ? 'no probe closed' : `p50 ${format.seconds(p50)}, p99 ${format.seconds(p99)} (measured: ${format.count(lag.count)} probes of the source's WAL position, one every ${SAMPLE_INTERVAL_MS} ms, each closed when the slot was acknowledged past it)`;
    this.#say(`lag         caught up ${format.seconds(afterLastWriteMs)} after the last write; source commit to slot acknowledged (so committed on the backup): ${measured}; peak slot lag ${format.bytes(peakLagBytes)}`);
    this.#say(`status      storx-replicator status: ${report?.status ?? `exit ${status.code}`}, slot lag ${report?.lagBytes === undefined ? 'unknown' : format.bytes(report.lagBytes)}, receiver watermark ${report?.watermark ?? 'unknown'}`);
  }

  async #keepRunning(databases: DemoDatabases, services: Services, equal: boolean): Promise<void> {
    const { receiverConfig, replicatorConfig, receiverMetricsUrl, replicatorMetricsUrl, workDir } = services;
    const lines = [
      '',
      `Still running (--keep)${equal ? '' : ', although the verification failed'}. From this directory:`,
      '',
      '  # the source (write here; any PostgreSQL client works, psql shown)',
      `  psql ${shellQuote(databases.sourceUrl)}`,
      '  # the backup (look here)',
      `  psql ${shellQuote(databases.backupUrl)}`,
      '',
      `  ${displayCommand(BINARIES.replicator, ['status', '--config', replicatorConfig])}`,
      `  ${displayCommand(BINARIES.receiver, ['status', '--config', receiverConfig])}`,
      `  ${displayCommand(BINARIES.replicator, ['doctor', '--config', replicatorConfig])}`,
      '',
      `  curl -s ${receiverMetricsUrl} | grep '^backuptools_'`,
      `  curl -s ${replicatorMetricsUrl} | grep '^storx_replicator_'`,
      `  curl -s ${receiverMetricsUrl.replace(/metrics$/, 'readyz')}`,
      '',
      `  logs: ${displayPath(join(workDir, 'replicator.log'))}, ${displayPath(join(workDir, 'receiver.log'))}`,
      '',
      'Press Ctrl-C to stop everything and remove it.',
    ];
    this.#say(lines.join('\n'));
    await new Promise<void>((resolve) => {
      this.#keepWaiting = resolve;
    });
    this.#keepWaiting = undefined;
  }

  async #shutDown(): Promise<void> {
    this.#say('\nstopping: replicator (SIGTERM), receiver (SIGTERM), both PostgreSQL clusters; removing the work directory');
    const { replicator, receiver } = this.#services ?? {};
    await this.#teardown.close();
    const codes = [replicator && `replicator exited ${await replicator.stop()}`, receiver && `receiver exited ${await receiver.stop()}`].filter(Boolean);
    this.#say(`stopped (${codes.join(', ')}); nothing left behind`);
  }

  #installSignalHandlers(): void {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (this.#firstSignalAt !== undefined) {
        // test-postgres stops the clusters on the same signal and raises it once more a moment
        // later: that one is ignored. A later one is the operator insisting: exit now. The exit
        // hooks still kill the services, stop the clusters and remove the work directory.
        if (Date.now() - this.#firstSignalAt < REPEATED_SIGNAL_GRACE_MS) return;
        process.stderr.write(`\n${signal} again: exiting now\n`);
        process.exit(exitStatus(signal));
      }
      this.#firstSignalAt = Date.now();
      if (this.#keepWaiting !== undefined) {
        this.#progress.clear();
        this.#keepWaiting();
        return;
      }
      this.#interrupted.abort();
      this.#progress.clear();
      process.stderr.write(`\n${signal}: stopping everything the demo started and removing its temporary files\n`);
      void this.#teardown.close().finally(() => {
        process.stderr.write('stopped; nothing left behind\n');
        process.exit(exitStatus(signal));
      });
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  }

  /** Throws once Ctrl-C came, so that no stage starts anything new. */
  #check(): void {
    if (this.#interrupted.signal.aborted) throw new Interrupted('interrupted');
  }

  async #step<T>(name: string, run: () => Promise<{ value: T; lines: string[] }>): Promise<T> {
    this.#check();
    const started = Date.now();
    if (process.stderr.isTTY) process.stderr.write(`${name}…`);
    let result: { value: T; lines: string[] };
    try {
      result = await run();
    } finally {
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    }
    this.#check();
    const [first, ...rest] = result.lines;
    this.#say(`${name.padEnd(13)} ${first ?? ''}${rest.length === 0 ? ` (${format.seconds(Date.now() - started)})` : ''}`);
    for (const line of rest) this.#say(`${' '.repeat(14)}${line}`);
    return result.value;
  }

  #say(line: string): void {
    process.stdout.write(`${line}\n`);
  }

  async #printServiceLogs(): Promise<void> {
    for (const service of [this.#services?.replicator, this.#services?.receiver]) {
      if (service === undefined) continue;
      const tail = await service.logTail();
      if (tail !== '') process.stderr.write(`--- last lines of ${service.name}.log ---\n${tail}\n`);
    }
  }
}

function parseStatus(stdout: string): { status: string; lagBytes: number | undefined; watermark: string | undefined } | undefined {
  try {
    const report = JSON.parse(stdout) as { status?: string; slot?: { lag_bytes?: number | null }; receiver?: { watermark_lsn?: string | null } };
    return { status: report.status ?? 'unknown', lagBytes: report.slot?.lag_bytes ?? undefined, watermark: report.receiver?.watermark_lsn ?? undefined };
  } catch {
    return undefined;
  }
}

/** The shell's convention: 128 + the signal's number. */
function exitStatus(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 129;
}

function percent(fraction: number): string {
  return `${Math.floor(Math.min(1, Math.max(0, fraction)) * 100)}%`.padStart(4);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
