import { createServer, type Server } from 'node:http';
import { formatLsn, type Lsn, parseLsn } from '@storx-backup/protocol';
import type { Logger } from '@storx-backup/service-kit';
import type { ReplicatorConfig } from './config.js';
import type { BatchDelivery } from './deliver/batch-delivery.js';
import { failureToJson } from './deliver/blockage.js';
import { deliveryFromConfig } from './deliver/delivery-from-config.js';
import { sleep } from './deliver/sleep.js';
import type { WebhookClient } from './deliver/webhook-client.js';
import { ReplicatorError } from './errors.js';
import { notUtf8FromServer } from './decode/change-json.js';
import { ReplicatorMetrics } from './metrics.js';
import { ReplicationSession } from './replication-session.js';
import { loadReplicatorKeys } from './replicator-keys.js';
import { findPrimary, NoPrimaryError } from './source/primary-locator.js';
import { SourceCatalog } from './source/source-catalog.js';
import { checkUsableSlot, FAILOVER_SLOTS_VERSION, readSlot, serverVersionNum } from './source/slot.js';
import { hostOf } from './source/source-hosts.js';
import { readSourceOrigin } from './source/source-identity.js';
import { SourceQueries } from './source/source-queries.js';
import { standbySlotFix, standbySlotProblems } from './source/standby-slots-check.js';
import { StallWatch } from './source/stall-watch.js';
import { prepareSource } from './startup-checks.js';
import { copyProgress } from './snapshot/copy-progress.js';
import { copyTables } from './snapshot/table-copier.js';

const RECONNECT_MAX_DELAY_MS = 30_000;
const LAG_SAMPLE_INTERVAL_MS = 10_000;
/** A stream that has not received a heartbeat this long (and at least 3 intervals) is reported as held back. */
const MIN_STALL_MS = 5_000;
/** How often a held-back stream is reported again while it lasts. */
const STALL_REPORT_INTERVAL_MS = 60_000;

/**
 * Wires the stages and owns start and stop: checks and prepares the source, then runs
 * replication sessions until stopped, reconnecting after any failure (source restarted, network
 * cut). Errors that need an operator (ReplicatorError) end the run instead.
 */
export class Replicator {
  readonly metrics = new ReplicatorMetrics();
  private readonly queries: SourceQueries;
  /** Catalog lookups for relation metadata, on a connection of their own (see SourceCatalog). */
  private readonly catalog: SourceCatalog;
  private readonly stopSignal = new AbortController();
  private session: ReplicationSession | undefined;
  private delivery: BatchDelivery | undefined;
  private client: WebhookClient | undefined;
  private metricsServer: Server | undefined;
  private timers: NodeJS.Timeout[] = [];
  private confirmed: Lsn | undefined;
  /** The source host streamed from: the primary among `config.sourceUrls`. */
  private sourceUrl: string;
  private readonly stallWatch: StallWatch;
  private stallReportedAt = 0;

  constructor(
    private readonly config: ReplicatorConfig,
    private readonly logger: Logger,
  ) {
    this.sourceUrl = config.databaseUrl;
    this.queries = new SourceQueries(config.databaseUrl, logger);
    this.catalog = new SourceCatalog(config.databaseUrl, logger);
    this.stallWatch = new StallWatch(Math.max(MIN_STALL_MS, 3 * config.heartbeatIntervalMs));
  }

  /** Runs until `stop()` (resolves) or an error an operator must fix (rejects). */
  async run(): Promise<void> {
    const { config, logger } = this;
    const keys = await loadReplicatorKeys(config);
    if (config.webhookUrl.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(config.webhookUrl.hostname)) {
      logger.warn({ url: config.webhookUrl.href }, 'webhook-url is plain http to another host: batches are encrypted and signed, but use https so that metadata and availability are protected too');
    }
    const { delivery, client } = deliveryFromConfig(config, keys, { catalog: this.catalog, metrics: this.metrics, logger });
    this.client = client;
    this.delivery = delivery;
    await this.startMetricsServer();
    logger.info({ source: config.sourceId, slot: config.slotName, publication: config.publicationName, tables: config.tables, receiver: config.webhookUrl.href, format: config.format, signer: keys.signing.kid, recipient: keys.recipient.kid }, 'starting');

    try {
      await this.followPrimary(true);
      const prepared = await prepareSource(await this.queries.get(), { ...config, databaseUrl: this.sourceUrl }, delivery, logger, this.stopSignal.signal);
      this.confirmed = prepared.confirmed;
      if (prepared.copy) {
        await copyTables({
          databaseUrl: this.sourceUrl,
          snapshot: prepared.copy.snapshot,
          tables: prepared.copy.tables,
          delivery,
          maxBatchEvents: config.maxBatchEvents,
          maxBatchBytes: config.maxBatchBytes,
          copyChunkBytes: config.copyChunkBytes,
          maxInFlight: config.maxInFlight,
          maxInFlightBytes: config.maxInFlightBytes,
          progress: copyProgress({ logger, metrics: this.metrics }),
          signal: this.stopSignal.signal,
        });
        logger.info({ tables: prepared.copy.tables.map((table) => table.name) }, 'existing rows copied: streaming changes');
      }
      const included = new Set(prepared.tables.map((table) => `${table.schema}\0${table.table}`));
      this.startTimers();
      for (let failures = 0; !this.stopSignal.signal.aborted; ) {
        let enableFailover = false;
        try {
          await this.followPrimary(false);
          enableFailover = await this.checkSlotOnPrimary();
        } catch (error) {
          if (error instanceof ReplicatorError) throw error;
          failures += 1;
          const delay = Math.min(RECONNECT_MAX_DELAY_MS, 500 * 2 ** Math.min(failures, 6));
          logger.warn({ err: error, retryInMs: delay }, 'cannot reach the primary; trying again');
          await sleep(delay, this.stopSignal.signal).catch(() => undefined);
          continue;
        }
        this.stallWatch.reset();
        const session = new ReplicationSession({
          databaseUrl: this.sourceUrl,
          enableFailover,
          slotName: config.slotName,
          publicationName: config.publicationName,
          includedTables: included,
          maxBatchEvents: config.maxBatchEvents,
          maxBatchBytes: config.maxBatchBytes,
          maxInFlight: config.maxInFlight,
          maxInFlightBytes: config.maxInFlightBytes,
          batchLingerMs: config.batchLingerMs,
          statusIntervalMs: config.statusIntervalMs,
          confirmed: await this.slotPosition(),
          delivery,
          metrics: this.metrics,
          logger,
        });
        try {
          this.session = session;
          await session.start();
          failures = 0;
          await session.done;
        } catch (error) {
          if (this.stopSignal.signal.aborted) break;
          if (error instanceof ReplicatorError) throw error;
          const notUtf8 = notUtf8FromServer(error);
          if (notUtf8 !== undefined) throw notUtf8;
          failures += 1;
          this.metrics.streamRestarts.inc();
          const delay = Math.min(RECONNECT_MAX_DELAY_MS, 500 * 2 ** Math.min(failures, 6));
          logger.warn({ err: error, retryInMs: delay, confirmed: formatLsn(session.confirmedLsn) }, 'replication stream failed; reconnecting from the slot');
          await sleep(delay, this.stopSignal.signal).catch(() => undefined);
        } finally {
          this.confirmed = session.confirmedLsn;
          this.session = undefined;
        }
      }
    } catch (error) {
      // Stopped while preparing or copying (waiting for the receiver, say): a clean stop.
      if (!this.stopSignal.signal.aborted) throw error;
    } finally {
      await this.release();
    }
  }

  /** Stops streaming, finishes (or abandons) the batch in flight, reports the confirmed position. */
  async stop(): Promise<void> {
    this.stopSignal.abort(new Error('stopping'));
    await this.session?.stop(this.config.shutdownTimeoutMs);
  }

  get healthy(): boolean {
    return this.delivery?.healthy ?? true;
  }

  /**
   * What /healthz answers (503 unless ok), and `storx-replicator status` reads: `blocked` with the
   * refusal while the receiver refuses a batch, `unhealthy` with the failure after max-retries.
   */
  health(): { status: 'ok' | 'unhealthy' | 'blocked'; failure: Record<string, unknown> | null } {
    const failure = this.delivery?.failure;
    const status = this.delivery?.blocked ? 'blocked' : this.healthy ? 'ok' : 'unhealthy';
    return { status, failure: failure === undefined ? null : failureToJson(failure) };
  }

  /** `http://host:port` of /metrics and /healthz, once listening (metrics-listen). */
  get metricsAddress(): string | undefined {
    const address = this.metricsServer?.address();
    return address && typeof address === 'object' ? `http://${address.address}:${address.port}` : undefined;
  }

  /** The slot's confirmed position; on a fresh session after a failure, re-read from the server. */
  private async slotPosition(): Promise<Lsn> {
    try {
      const slot = await readSlot(await this.queries.get(), this.config.slotName);
      if (slot?.confirmedFlushLsn !== undefined) return slot.confirmedFlushLsn;
    } catch (error) {
      this.logger.debug({ err: error }, 'could not read the slot position; using the last known one');
    }
    return this.confirmed ?? (0n as Lsn);
  }

  private startTimers(): void {
    const sampleLag = async (): Promise<void> => {
      const slot = await readSlot(await this.queries.get(), this.config.slotName);
      if (slot) this.metrics.slotLagBytes.set(Number(slot.lagBytes));
    };
    this.timers.push(setInterval(() => void sampleLag().catch(() => undefined), LAG_SAMPLE_INTERVAL_MS));
    void sampleLag().catch(() => undefined);
    if (this.config.heartbeatIntervalMs > 0) {
      const beat = async (): Promise<void> => {
        this.checkStall();
        const { rows } = await (await this.queries.get()).query<{ lsn: string }>("SELECT pg_logical_emit_message(false, 'storx-replicator', 'heartbeat')::text AS lsn");
        this.stallWatch.heartbeatWritten(parseLsn(rows[0]!.lsn), Date.now());
      };
      this.timers.push(setInterval(() => void beat().catch((error: unknown) => this.logger.warn({ err: error }, 'heartbeat failed')), this.config.heartbeatIntervalMs));
    }
    for (const timer of this.timers) timer.unref();
  }

  /**
   * Finds the primary among the source hosts and moves there (queries included) when it changed.
   * At start, waits for one; later, a missing primary is a failure the caller retries.
   */
  private async followPrimary(atStart: boolean): Promise<void> {
    const { config, logger } = this;
    if (config.sourceUrls.length === 1) return;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const primary = await findPrimary(config.sourceUrls, logger);
        if (primary !== this.sourceUrl || atStart) {
          if (primary !== this.sourceUrl) logger.warn({ from: hostOf(this.sourceUrl), to: hostOf(primary) }, 'the primary moved: following it (the stream continues from its copy of the slot)');
          this.sourceUrl = primary;
          await this.queries.retarget(primary);
          await this.catalog.retarget(primary);
          await this.warnAboutStandbySlots();
        }
        return;
      } catch (error) {
        if (!atStart || this.stopSignal.signal.aborted) throw error;
        logger.warn({ err: error instanceof NoPrimaryError ? error.message : error, attempt }, 'no primary among the source hosts yet; waiting');
        await sleep(Math.min(30_000, 1000 * attempt), this.stopSignal.signal);
      }
    }
  }

  /**
   * Before each session: the slot must be on the primary, usable, and (PostgreSQL 17+) a
   * failover slot. A slot present at start and missing now was lost in a failover to a standby
   * that had no synced copy: stopping with SLOT_MISSING_AFTER_USE is the only safe answer
   * (recreating it would skip every change in between). Returns whether to turn failover on.
   */
  private async checkSlotOnPrimary(): Promise<boolean> {
    const client = await this.queries.get();
    const slot = await readSlot(client, this.config.slotName);
    if (slot === undefined) {
      const origin = await readSourceOrigin(this.sourceUrl).catch(() => undefined);
      throw new ReplicatorError(
        'SLOT_MISSING_AFTER_USE',
        `replication slot ${this.config.slotName} does not exist on ${hostOf(this.sourceUrl)}${origin && origin.timeline > 1 ? ` (timeline ${origin.timeline}: a promoted standby)` : ''}, but the stream used it up to ${formatLsn(this.confirmed ?? (0n as Lsn))}: this server was promoted without a synced copy of the slot (PostgreSQL 17 failover slots need sync_replication_slots = on, hot_standby_feedback = on, primary_slot_name and dbname in primary_conninfo on the standby; storx-replicator doctor checks them)`,
      );
    }
    const { rows } = await client.query<{ database: string }>('SELECT current_database() AS database');
    checkUsableSlot(slot, this.config.slotName, rows[0]!.database);
    return slot.failover === false && (await serverVersionNum(client)) >= FAILOVER_SLOTS_VERSION;
  }

  /** `synchronized_standby_slots` naming a slot this primary lacks holds logical decoding back: say so at once. */
  private async warnAboutStandbySlots(): Promise<void> {
    const problems = await standbySlotProblems(await this.queries.get()).catch(() => []);
    if (problems.length > 0) this.logger.warn({ host: hostOf(this.sourceUrl), problems }, `logical decoding may be held back: ${standbySlotFix(problems)}`);
  }

  /** Reports a stream held back by the server (see StallWatch), with the cause when it is synchronized_standby_slots. */
  private checkStall(): void {
    const session = this.session;
    const since = session ? this.stallWatch.stalledSince(session.receivedLsn, session.waitingForServer, Date.now()) : undefined;
    this.metrics.streamStalled.set(since === undefined ? 0 : 1);
    if (since === undefined || Date.now() - this.stallReportedAt < STALL_REPORT_INTERVAL_MS) return;
    this.stallReportedAt = Date.now();
    void (async () => {
      const problems = await standbySlotProblems(await this.queries.get()).catch(() => []);
      const seconds = Math.round((Date.now() - since) / 1000);
      if (problems.length > 0) {
        this.logger.error({ host: hostOf(this.sourceUrl), stalledSeconds: seconds, problems, fix: standbySlotFix(problems) }, `STREAM_HELD_BACK: the stream has received nothing for ${seconds} s while the source wrote WAL: ${standbySlotFix(problems)}`);
      } else {
        this.logger.error({ host: hostOf(this.sourceUrl), stalledSeconds: seconds }, `STREAM_HELD_BACK: the stream has received nothing for ${seconds} s while the source wrote WAL (heartbeats not seen); check the source's log for WARNINGs about replication slots`);
      }
    })();
  }

  private async startMetricsServer(): Promise<void> {
    const listen = this.config.metricsListen;
    if (listen === undefined) return;
    const server = createServer((request, response) => {
      if (request.url === '/metrics') {
        void this.metrics.registry.metrics().then((text) => {
          response.writeHead(200, { 'content-type': this.metrics.registry.contentType });
          response.end(text);
        });
      } else if (request.url === '/healthz') {
        response.writeHead(this.healthy ? 200 : 503, { 'content-type': 'application/json' });
        response.end(JSON.stringify(this.health()));
      } else {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => resolve());
    });
    this.metricsServer = server;
    this.logger.info({ metrics: `http://${listen.host}:${(server.address() as { port: number }).port}/metrics` }, 'metrics listening');
  }

  private async release(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.client?.close();
    await this.queries.close();
    await this.catalog.close();
    await new Promise<void>((resolve) => (this.metricsServer ? this.metricsServer.close(() => resolve()) : resolve()));
  }
}
