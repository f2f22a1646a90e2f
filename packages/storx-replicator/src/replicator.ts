import { createServer, type Server } from 'node:http';
import { formatLsn, type Lsn } from '@storx-backup/protocol';
import type { Logger } from '@storx-backup/service-kit';
import type { ReplicatorConfig } from './config.js';
import type { BatchDelivery } from './deliver/batch-delivery.js';
import { failureToJson } from './deliver/blockage.js';
import { deliveryFromConfig } from './deliver/delivery-from-config.js';
import { sleep } from './deliver/sleep.js';
import type { WebhookClient } from './deliver/webhook-client.js';
import { ReplicatorError } from './errors.js';
import { ReplicatorMetrics } from './metrics.js';
import { ReplicationSession } from './replication-session.js';
import { loadReplicatorKeys } from './replicator-keys.js';
import { readSlot } from './source/slot.js';
import { SourceCatalog } from './source/source-catalog.js';
import { SourceQueries } from './source/source-queries.js';
import { prepareSource } from './startup-checks.js';
import { copyProgress } from './snapshot/copy-progress.js';
import { copyTables } from './snapshot/table-copier.js';

const RECONNECT_MAX_DELAY_MS = 30_000;
const LAG_SAMPLE_INTERVAL_MS = 10_000;

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

  constructor(
    private readonly config: ReplicatorConfig,
    private readonly logger: Logger,
  ) {
    this.queries = new SourceQueries(config.databaseUrl, logger);
    this.catalog = new SourceCatalog(config.databaseUrl, logger);
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
      const prepared = await prepareSource(await this.queries.get(), config, delivery, logger, this.stopSignal.signal);
      this.confirmed = prepared.confirmed;
      if (prepared.copy) {
        await copyTables({
          databaseUrl: config.databaseUrl,
          snapshot: prepared.copy.snapshot,
          tables: prepared.copy.tables,
          delivery,
          maxBatchEvents: config.maxBatchEvents,
          maxBatchBytes: config.maxBatchBytes,
          progress: copyProgress({ logger, metrics: this.metrics }),
          signal: this.stopSignal.signal,
        });
        logger.info({ tables: prepared.copy.tables.map((table) => table.name) }, 'existing rows copied: streaming changes');
      }
      const included = new Set(prepared.tables.map((table) => `${table.schema}\0${table.table}`));
      this.startTimers();
      for (let failures = 0; !this.stopSignal.signal.aborted; ) {
        const session = new ReplicationSession({
          databaseUrl: config.databaseUrl,
          slotName: config.slotName,
          publicationName: config.publicationName,
          includedTables: included,
          maxBatchEvents: config.maxBatchEvents,
          maxBatchBytes: config.maxBatchBytes,
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
        await (await this.queries.get()).query("SELECT pg_logical_emit_message(false, 'storx-replicator', 'heartbeat')");
      };
      this.timers.push(setInterval(() => void beat().catch((error: unknown) => this.logger.warn({ err: error }, 'heartbeat failed')), this.config.heartbeatIntervalMs));
    }
    for (const timer of this.timers) timer.unref();
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
