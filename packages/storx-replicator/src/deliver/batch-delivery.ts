import type { KeyObject } from 'node:crypto';
import { type Batch, BATCH_VERSION, formatLsn, type RecipientKey, sealBatchSeedV1, sealBatchV2, type SealedRequest, signWebhook, type WireFormat } from '@storx-backup/protocol';
import type { Logger } from '@storx-backup/service-kit';
import type { OutgoingBatch } from '../batch/outgoing-batch.js';
import type { ReplicatorMetrics } from '../metrics.js';
import type { RelationMetadata } from './relation-metadata.js';
import { backoffDelay, judgeResponse, type Verdict } from './retry-policy.js';
import { sleep } from './sleep.js';
import { TransportError, type WebhookClient, type WebhookResponse } from './webhook-client.js';

export interface DeliveryOptions {
  sourceId: string;
  slot: string;
  format: WireFormat;
  recipient: RecipientKey;
  signingKeys: readonly KeyObject[];
  retryDelayMs: number;
  maxRetryDelayMs: number;
  /** Consecutive failures after which the replicator reports itself unhealthy (and keeps trying). */
  maxRetries: number;
  client: WebhookClient;
  metadata: RelationMetadata;
  metrics: ReplicatorMetrics;
  logger: Logger;
}

/**
 * Delivers batches, one at a time, until the receiver answers 2xx. It never gives up and never
 * skips: transient failures back off exponentially with jitter (Retry-After honoured); permanent
 * rejections are reported loudly and retried at the longest delay, so that fixing the receiver
 * resumes the stream by itself.
 */
export class BatchDelivery {
  private consecutiveFailures = 0;
  private blocked = false;
  private readonly sealed = new WeakMap<OutgoingBatch, Promise<SealedRequest[]>>();

  constructor(private readonly options: DeliveryOptions) {}

  /** False after `max-retries` consecutive failures or any permanent rejection, until a delivery succeeds. */
  get healthy(): boolean {
    return !this.blocked && this.consecutiveFailures < Math.max(1, this.options.maxRetries);
  }

  /**
   * Resolves once every request of the batch was answered 2xx. `signal` aborts everything;
   * `stopRetrying` (a shutdown) lets a request already on the wire finish but waits for no retry.
   */
  async deliver(batch: OutgoingBatch, signal: AbortSignal, stopRetrying?: AbortSignal): Promise<void> {
    this.prepare(batch);
    let requests: SealedRequest[];
    try {
      requests = await this.sealed.get(batch)!;
    } finally {
      this.sealed.delete(batch);
    }
    const retrySignal = stopRetrying ? AbortSignal.any([signal, stopRetrying]) : signal;
    for (const request of requests) await this.send(request, batch, signal, retrySignal);
    this.options.metrics.batchesSent.inc();
    this.options.metrics.eventsSent.inc(batch.events.length);
  }

  /**
   * Starts building and encrypting a batch before its turn (the next one, while the current is
   * on the wire). `deliver` uses the result; a failure surfaces there.
   */
  prepare(batch: OutgoingBatch): void {
    if (this.sealed.has(batch)) return;
    const requests = this.seal(batch);
    requests.catch(() => undefined); // observed by deliver
    this.sealed.set(batch, requests);
  }

  private async seal(batch: OutgoingBatch): Promise<SealedRequest[]> {
    const payload = await this.payload(batch);
    return this.options.format === 'v2' ? [await sealBatchV2(payload, this.options.recipient)] : sealBatchSeedV1(payload, this.options.recipient.key);
  }

  /** A signed, encrypted batch with no events: checks URL, keys and signature end to end. */
  async ping(signal?: AbortSignal): Promise<{ response: WebhookResponse; verdict: Verdict }> {
    const sealed = await sealBatchV2({ version: BATCH_VERSION, source_id: this.options.sourceId, slot: this.options.slot, commit_lsn: '0/0', chunk: { index: 0, last: true }, relations: [], events: [] }, this.options.recipient);
    let response: WebhookResponse;
    try {
      response = await this.post(sealed, signal);
    } catch (error) {
      if (!signal?.aborted) this.countFailure(error instanceof TransportError ? error.kind : 'network', false);
      throw error;
    }
    const verdict = judgeResponse(response);
    // A receiver that cannot be asked is as unhealthy as one that cannot be delivered to.
    if (verdict.kind === 'delivered') this.countSuccess();
    else this.countFailure(verdict.failureClass, verdict.kind === 'permanent');
    return { response, verdict };
  }

  private countSuccess(): void {
    this.consecutiveFailures = 0;
    this.blocked = false;
    this.options.metrics.healthy.set(1);
  }

  private countFailure(failureClass: string, permanent: boolean): void {
    this.consecutiveFailures += 1;
    if (permanent) this.blocked = true;
    this.options.metrics.deliveryFailures.inc({ class: failureClass });
    this.options.metrics.healthy.set(this.healthy ? 1 : 0);
  }

  private async payload(batch: OutgoingBatch): Promise<Batch> {
    const relations = await Promise.all([...batch.relations.values()].map((relation) => this.options.metadata.resolve(relation)));
    return { version: BATCH_VERSION, source_id: this.options.sourceId, slot: this.options.slot, commit_lsn: formatLsn(batch.commitLsn), chunk: batch.chunk, relations, events: batch.events, ...(batch.snapshot ? { snapshot: batch.snapshot } : {}) };
  }

  private async send(request: SealedRequest, batch: OutgoingBatch, signal: AbortSignal, retrySignal: AbortSignal): Promise<void> {
    const { metrics, logger } = this.options;
    for (let attempt = 0; ; attempt += 1) {
      let verdict: Verdict;
      const stopTimer = metrics.deliveryDuration.startTimer();
      try {
        verdict = judgeResponse(await this.post(request, signal), Date.now(), { requireAppliedBody: this.options.format === 'v2' });
      } catch (error) {
        if (signal.aborted) throw signal.reason as Error;
        const kind = error instanceof TransportError ? error.kind : 'network';
        verdict = { kind: 'transient', failureClass: kind, retryAfterMs: undefined, reason: (error as Error).message };
      } finally {
        stopTimer();
      }
      if (verdict.kind === 'delivered') {
        if (!this.healthy) logger.info({ webhookId: request.id, attempts: attempt + 1 }, 'delivery recovered');
        this.countSuccess();
        metrics.bytesSent.inc(Buffer.byteLength(request.body));
        return;
      }

      this.countFailure(verdict.failureClass, verdict.kind === 'permanent');
      metrics.retries.inc();
      const context = { webhookId: request.id, commitLsn: formatLsn(batch.commitLsn), chunk: batch.chunk, attempt: attempt + 1, reason: verdict.reason };
      let delay: number;
      if (verdict.kind === 'permanent') {
        delay = this.options.maxRetryDelayMs;
        logger.error({ ...context, retryInMs: delay }, 'the receiver rejected a batch: replication is blocked until the cause is fixed (nothing is skipped; the slot stays where it is)');
      } else {
        delay = verdict.retryAfterMs !== undefined ? Math.min(verdict.retryAfterMs, this.options.maxRetryDelayMs) : backoffDelay(attempt, this.options.retryDelayMs, this.options.maxRetryDelayMs);
        if (this.consecutiveFailures === this.options.maxRetries) logger.error({ ...context, retryInMs: delay }, `delivery failed ${this.consecutiveFailures} times in a row: reporting unhealthy, still retrying`);
        else logger.warn({ ...context, retryInMs: delay }, 'delivery failed, retrying');
      }
      await sleep(delay, retrySignal);
    }
  }

  private post(request: SealedRequest, signal?: AbortSignal): Promise<WebhookResponse> {
    // A fresh timestamp and signature per attempt; the id stays the same.
    const headers = signWebhook({ id: request.id, timestamp: Math.floor(Date.now() / 1000), body: request.body, signingKeys: this.options.signingKeys });
    return this.options.client.post({ ...headers, 'content-type': request.contentType }, request.body, signal);
  }
}
