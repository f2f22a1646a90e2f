import type { KeyObject } from 'node:crypto';
import {
  type BatchHeader,
  BATCH_VERSION,
  type CopyFormat,
  bodyDigest,
  ContentKeys,
  type FormatSetting,
  DIGEST_SIGNATURE_VERSION,
  encodeBatchPayload,
  formatLsn,
  LEGACY_RECEIVER_CAPABILITIES,
  parseEventsJson,
  preferredSignatureScheme,
  readReceiverCapabilities,
  type ReceiverCapabilities,
  type RecipientKey,
  type Relation,
  sealBatchSeedV1,
  sealBatchV2,
  sealBatchV3,
  sealCopyChunkV3,
  type SealedRequest,
  SIGNATURE_VERSION,
  type SignatureScheme,
  signWebhook,
  type SourceOrigin,
  V3_MEDIA_TYPE,
  type WireFormat,
} from '@storx-backup/protocol';
import type { Logger } from '@storx-backup/service-kit';
import type { OutgoingBatch } from '../batch/outgoing-batch.js';
import { readReceiverAnswer, type ReceiverAnswer } from '../acknowledge/receiver-answer.js';
import type { ReplicatorMetrics } from '../metrics.js';
import { type DeliveryFailure, sameFailure } from './blockage.js';
import { rejectionFix, transportFix } from './failure-fixes.js';
import type { RelationMetadata } from './relation-metadata.js';
import { backoffDelay, judgeResponse, type Verdict } from './retry-policy.js';
import { sleep } from './sleep.js';
import { TransportError, type WebhookClient, type WebhookResponse } from './webhook-client.js';

/** What DeliveryWindow hands `deliver` for a batch it sent ahead of its turn. */
export interface PipelinedAttempt {
  /** The answer to the attempt already on the wire: it counts as the first attempt. */
  first?: Promise<WebhookResponse> | undefined;
  /** Called when an attempt fails, before any retry (the window then abandons what it sent after). */
  onRetry?: () => void;
}

export interface DeliveryOptions {
  sourceId: string;
  slot: string;
  /** `auto`: v3 when the receiver's ping answer names it, else v2; or a fixed wire format. */
  format: FormatSetting;
  recipient: RecipientKey;
  signingKeys: readonly KeyObject[];
  retryDelayMs: number;
  maxRetryDelayMs: number;
  /**
   * While a batch is refused (blocked): how often the receiver is pinged, and the batch sent
   * again once the ping passes, so that a fix is picked up within seconds. The batch goes again
   * at least every `maxRetryDelayMs` whatever the ping says.
   */
  blockedRetryIntervalMs: number;
  /** The receiver's URL, named in the fixes of transport failures. */
  url: URL;
  /** Consecutive failures after which the replicator reports itself unhealthy (and keeps trying). */
  maxRetries: number;
  client: WebhookClient;
  metadata: RelationMetadata;
  metrics: ReplicatorMetrics;
  logger: Logger;
}

/**
 * Delivers batches, one at a time, until the receiver answers 2xx. It never gives up and never
 * skips: transient failures back off exponentially with jitter (Retry-After honoured); a refusal
 * (permanent 4xx) blocks replication: it is reported (log, /healthz, `storx_replicator_blocked`)
 * and the same batch is tried again, after a cheap signed ping passes, every
 * `blocked-retry-interval`, so that fixing the cause resumes the stream within seconds.
 * The log says each failure once, with its fix, when it starts and when it ends, not per attempt.
 */
export class BatchDelivery {
  private consecutiveFailures = 0;
  private current: DeliveryFailure | undefined;
  private readonly sealed = new WeakMap<OutgoingBatch, Promise<SealedRequest[]>>();
  /**
   * The system and timeline of the server the batches are read from (set by the replication
   * session from IDENTIFY_SYSTEM, and before a table copy); sent with every v2 batch.
   */
  origin: SourceOrigin | undefined;
  /**
   * What the receiver said it verifies and opens in its last ping answer (`accepts`); until one
   * is answered, what every receiver takes. Read anew at every ping, so a receiver replaced by
   * an older one is followed after its first refusal (the blocked path pings).
   */
  private receiverCapabilities: ReceiverCapabilities = LEGACY_RECEIVER_CAPABILITIES;
  /** Batches sealed with `acknowledges: "durable"`. */
  private readonly sealedAcknowledging = new WeakSet<OutgoingBatch>();
  /**
   * One content key (and its RSA-wrapped form) for many batches, rotated by count, bytes and
   * time: a receiver that caches unwrapped keys pays one RSA operation per key, not per batch.
   */
  private readonly contentKeys = new ContentKeys();

  constructor(private readonly options: DeliveryOptions) {}

  /** False after `max-retries` consecutive failures or any permanent rejection, until a delivery succeeds. */
  get healthy(): boolean {
    return this.blocked === undefined && this.consecutiveFailures < Math.max(1, this.options.maxRetries);
  }

  /** The refusal that blocks replication, if one does (cleared by the next delivery that succeeds). */
  get blocked(): DeliveryFailure | undefined {
    return this.current?.permanent ? this.current : undefined;
  }

  get blockedRetryIntervalMs(): number {
    return this.options.blockedRetryIntervalMs;
  }

  /** The failure deliveries are in now, transient or permanent; undefined while they succeed. */
  get failure(): DeliveryFailure | undefined {
    return this.current;
  }

  /**
   * Resolves once every request of the batch was answered 2xx. `signal` aborts everything;
   * `stopRetrying` (a shutdown) lets a request already on the wire finish but waits for no retry.
   */
  async deliver(batch: OutgoingBatch, signal: AbortSignal, stopRetrying?: AbortSignal, pipelined: PipelinedAttempt = {}): Promise<ReceiverAnswer> {
    this.prepare(batch);
    let requests: SealedRequest[];
    try {
      requests = await this.sealed.get(batch)!;
    } finally {
      this.sealed.delete(batch);
    }
    const retrySignal = stopRetrying ? AbortSignal.any([signal, stopRetrying]) : signal;
    let answer: ReceiverAnswer | undefined;
    for (const [index, request] of requests.entries()) answer = readReceiverAnswer((await this.send(request, batch, signal, retrySignal, () => this.seal(batch), index === 0 ? pipelined : {})).body);
    this.options.metrics.batchesSent.inc();
    this.options.metrics.eventsSent.inc(batch.copy?.rows ?? batch.events.count);
    return answer!;
  }

  /**
   * Asks the receiver, with a signed ping, how far what it applied is durable (and what its
   * watermark is); undefined when it cannot be asked now. Counts nothing toward health: the
   * batch at the head says how delivery goes.
   */
  async askDurable(signal: AbortSignal): Promise<ReceiverAnswer | undefined> {
    try {
      const response = await this.postPing(await this.pingRequest(), signal);
      return judgeResponse(response).kind === 'delivered' ? readReceiverAnswer(response.body) : undefined;
    } catch (error) {
      this.options.logger.debug({ err: error }, 'could not ask the receiver for its durable position');
      return undefined;
    }
  }

  /**
   * Whether batches may be several in flight: the receiver's ping answer said it takes `follows`
   * (a receiver that does not would refuse the member). Never for seed-v1.
   */
  get pipelining(): boolean {
    return this.options.format !== 'seed-v1' && this.receiverCapabilities.follows;
  }

  /**
   * Whether chunks of a table copy may be several in flight: the receiver's ping answer said it
   * takes `follows` on a copy chunk (`copy_follows`).
   */
  get copyPipelining(): boolean {
    return this.options.format !== 'seed-v1' && this.receiverCapabilities.copy_follows;
  }

  /**
   * Whether batches say `acknowledges: "durable"`: the receiver's ping answer said it reports a
   * durable position (the Acknowledger settles the slot by it), so it may commit them
   * asynchronously. Without it the receiver commits synchronously: its 2xx means on disk.
   */
  private get acknowledgesDurable(): boolean {
    return this.options.format !== 'seed-v1' && this.receiverCapabilities.durable;
  }

  /** Whether the batch's header says `acknowledges`; remembered, so a refusal reseals only a batch that did. */
  private markAcknowledges(batch: OutgoingBatch): boolean {
    if (this.acknowledgesDurable) this.sealedAcknowledging.add(batch);
    else this.sealedAcknowledging.delete(batch);
    return this.acknowledgesDurable;
  }

  /** Whether the batch's `follows` goes on the wire: the receiver takes it on this kind of batch. */
  private takesFollows(batch: OutgoingBatch): boolean {
    return batch.follows !== undefined && (batch.snapshot !== undefined ? this.copyPipelining : this.pipelining);
  }

  /**
   * Seals the batch (if `prepare` has not) and posts its first attempt now, ahead of its turn;
   * `deliver` takes the answer as its first attempt (DeliveryWindow). Counts nothing itself.
   */
  async startAttempt(batch: OutgoingBatch, signal: AbortSignal): Promise<WebhookResponse> {
    this.prepare(batch);
    const requests = await this.sealed.get(batch)!;
    if (requests.length !== 1) throw new Error('only a batch sent as one request is sent ahead of its turn');
    return this.post(requests[0]!, signal);
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
    const header = await this.header(batch);
    if (batch.copy !== undefined) {
      // The receiver was replaced by one that takes no copy frames (its ping said so): the copy
      // stops here, and `run` (or the command again) redoes it as JSON events.
      if (this.copyFormat !== batch.copy.format) throw new Error(`the receiver no longer takes table copies as COPY ${batch.copy.format} (its ping answer); run the copy again`);
      return [sealCopyChunkV3(header, batch.copy, this.options.recipient, this.contentKeys)];
    }
    switch (this.wireFormat) {
      case 'v3':
        return [sealBatchV3({ header, eventCount: batch.events.count, payload: encodeBatchPayload(header, batch.events) }, this.options.recipient, this.contentKeys)];
      case 'v2':
        return [await sealBatchV2({ header, eventCount: batch.events.count, payload: encodeBatchPayload(header, batch.events) }, this.options.recipient, this.contentKeys)];
      case 'seed-v1':
        // One request per event: the events as objects again (the seed format is opt-in, and
        // its RSA encryption per event costs far more than this parse).
        return sealBatchSeedV1({ ...header, events: parseEventsJson(batch.events) }, this.options.recipient.key);
    }
  }

  /**
   * The format batches are sealed in now: the configured one, or for `auto` v3 once the
   * receiver's ping answer names it (v2 until then, and for a receiver older than v3).
   */
  get wireFormat(): WireFormat {
    const { format } = this.options;
    if (format !== 'auto') return format;
    return this.receiverCapabilities.formats.includes('v3') ? 'v3' : 'v2';
  }

  /**
   * How table copies carry their rows: `text` (COPY text, untouched from the source's COPY TO)
   * when batches go as v3 and the receiver's ping answer names `"copy": ["text"]`; otherwise
   * undefined: one JSON event per row, what every receiver takes.
   */
  get copyFormat(): CopyFormat | undefined {
    return this.wireFormat === 'v3' && this.receiverCapabilities.copy.includes('text') ? 'text' : undefined;
  }

  /**
   * A signed, encrypted batch with no events: checks URL, keys and signature end to end. With
   * `relations`, it also asks whether the receiver could apply each of those tables (doctor;
   * the answer's `table_checks`, absent from receivers that predate the question).
   */
  async ping(signal?: AbortSignal, relations: readonly Relation[] = []): Promise<{ response: WebhookResponse; verdict: Verdict }> {
    const sealed = await this.pingRequest(relations);
    let response: WebhookResponse;
    try {
      response = await this.postPing(sealed, signal);
    } catch (error) {
      if (!signal?.aborted) this.countFailure(this.transportFailure(error, sealed.id, undefined));
      throw error;
    }
    const verdict = judgeResponse(response);
    // A receiver that cannot be asked is as unhealthy as one that cannot be delivered to.
    if (verdict.kind === 'delivered') this.countSuccess(sealed.id);
    else this.countFailure(this.httpFailure(verdict, sealed.id, undefined));
    return { response, verdict };
  }

  /**
   * The signature scheme batches are signed with now: `v1d` once the receiver said it verifies
   * it. seed-v1 stays on `v1a`: it is for receivers written from the seed document, and there
   * the RSA operation per event costs far more than any signature.
   */
  get signatureScheme(): SignatureScheme {
    return this.options.format === 'seed-v1' ? SIGNATURE_VERSION : preferredSignatureScheme(this.receiverCapabilities);
  }

  /**
   * Pings are always a v2 body signed `v1a`, which every receiver takes: the answer is what
   * says which formats and schemes the receiver takes beyond them.
   */
  private async postPing(sealed: SealedRequest, signal?: AbortSignal): Promise<WebhookResponse> {
    const response = await this.post(sealed, signal, SIGNATURE_VERSION);
    if (judgeResponse(response).kind === 'delivered') this.receiverCapabilities = readReceiverCapabilities(parseJsonObject(response.body));
    return response;
  }

  private pingRequest(relations: readonly Relation[] = []): Promise<SealedRequest> {
    return sealBatchV2({ version: BATCH_VERSION, source_id: this.options.sourceId, slot: this.options.slot, commit_lsn: '0/0', chunk: { index: 0, last: true }, relations: [...relations], events: [] }, this.options.recipient);
  }

  private countSuccess(webhookId: string): void {
    const previous = this.current;
    if (previous !== undefined) {
      const seconds = Math.round((Date.now() - previous.since.getTime()) / 1000);
      this.options.logger.info({ webhookId, code: previous.code, failedForSeconds: seconds, attempts: previous.attempts }, previous.permanent ? 'replication is no longer blocked: the receiver accepted the batch it refused' : 'delivery recovered');
      if (previous.permanent) this.options.metrics.blocked.remove({ code: previous.code });
    }
    this.current = undefined;
    this.consecutiveFailures = 0;
    this.options.metrics.healthy.set(1);
  }

  /**
   * Counts a failed attempt; logs it when it starts a new state, with its fix (an error once
   * max-retries consecutive attempts failed, whatever states they were in: a 404 followed by an
   * unreachable receiver is still unhealthy), and when the count crosses max-retries within one
   * state; every other attempt only at debug.
   */
  private countFailure(failure: Omit<DeliveryFailure, 'since' | 'attempts'>): void {
    const { logger, metrics, maxRetries } = this.options;
    const previous = this.current;
    const same = sameFailure(previous, failure);
    this.consecutiveFailures += 1;
    this.current = { ...failure, since: same ? previous!.since : new Date(), attempts: same ? previous!.attempts + 1 : 1 };
    metrics.deliveryFailures.inc({ class: failure.permanent ? 'http_4xx' : failure.code });
    if (previous?.permanent && previous.code !== failure.code) metrics.blocked.remove({ code: previous.code });
    if (failure.permanent) metrics.blocked.set({ code: failure.code }, 1);
    metrics.healthy.set(this.healthy ? 1 : 0);

    const context = { webhookId: failure.webhookId, commitLsn: failure.commitLsn === undefined ? undefined : formatLsn(failure.commitLsn), chunk: failure.chunkIndex, code: failure.code, reason: failure.reason, fix: failure.fix, attempts: this.current.attempts };
    if (failure.permanent) {
      if (same) logger.debug(context, 'still refused');
      else logger.error(context, `replication is blocked: the receiver refuses ${failure.commitLsn === undefined ? 'our requests' : 'a batch'} (${failure.code}); nothing is skipped and the slot stays where it is; retrying every ${this.options.blockedRetryIntervalMs} ms once the cause is fixed`);
    } else if (!same ? this.consecutiveFailures >= Math.max(1, maxRetries) : this.consecutiveFailures === Math.max(1, maxRetries)) {
      logger.error(context, `delivery failed ${this.consecutiveFailures} times in a row: reporting unhealthy, still retrying`);
    } else if (!same) {
      logger.warn(context, 'delivery failed, retrying');
    } else {
      logger.debug(context, 'delivery failed again, retrying');
    }
  }

  private httpFailure(verdict: Exclude<Verdict, { kind: 'delivered' }>, webhookId: string, batch: OutgoingBatch | undefined): Omit<DeliveryFailure, 'since' | 'attempts'> {
    const where = { webhookId, commitLsn: batch?.commitLsn, chunkIndex: batch?.chunk.index };
    if (verdict.kind === 'permanent') return { permanent: true, code: verdict.code, httpStatus: verdict.httpStatus, reason: verdict.reason, fix: rejectionFix(verdict.code, verdict.httpStatus, verdict.fix), ...where };
    const fix = verdict.failureClass === 'http_429' ? 'the receiver sheds load; run keeps retrying' : "check the receiver's log and its database (its /readyz); run keeps retrying";
    return { permanent: false, code: verdict.failureClass, httpStatus: null, reason: verdict.reason, fix, ...where };
  }

  private transportFailure(error: unknown, webhookId: string, batch: OutgoingBatch | undefined): Omit<DeliveryFailure, 'since' | 'attempts'> {
    const message = (error as Error).message;
    const code = error instanceof TransportError ? error.kind : 'network';
    return { permanent: false, code, httpStatus: null, reason: message, fix: transportFix(message, this.options.url), webhookId, commitLsn: batch?.commitLsn, chunkIndex: batch?.chunk.index };
  }

  /** Everything of the batch's payload but its events, in the order the payload has them. */
  private async header(batch: OutgoingBatch): Promise<BatchHeader> {
    const relations = await this.options.metadata.resolveFor(batch.relations.values(), batch.events.typedValues);
    return {
      version: BATCH_VERSION,
      source_id: this.options.sourceId,
      slot: this.options.slot,
      commit_lsn: formatLsn(batch.commitLsn),
      chunk: batch.chunk,
      // Only to a receiver that takes it: one that does not refuses the member (422).
      ...(this.takesFollows(batch) ? { follows: batch.follows } : {}),
      // Only to a receiver that takes it; it then may commit the batch asynchronously.
      ...(this.markAcknowledges(batch) ? { acknowledges: 'durable' as const } : {}),
      ...(this.origin ? { origin: this.origin } : {}),
      relations,
      ...(batch.snapshot ? { snapshot: batch.snapshot } : {}),
    };
  }

  private async send(request: SealedRequest, batch: OutgoingBatch, signal: AbortSignal, retrySignal: AbortSignal, reseal: () => Promise<SealedRequest[]>, pipelined: PipelinedAttempt): Promise<WebhookResponse> {
    const { metrics } = this.options;
    for (let attempt = 0; ; attempt += 1) {
      let verdict: Verdict;
      let response: WebhookResponse;
      const stopTimer = metrics.deliveryDuration.startTimer();
      try {
        response = await (attempt === 0 && pipelined.first !== undefined ? pipelined.first : this.post(request, signal));
        verdict = judgeResponse(response, Date.now(), { requireAppliedBody: this.options.format !== 'seed-v1' });
      } catch (error) {
        if (signal.aborted) throw signal.reason as Error;
        pipelined.onRetry?.();
        this.countFailure(this.transportFailure(error, request.id, batch));
        metrics.retries.inc();
        await sleep(backoffDelay(attempt, this.options.retryDelayMs, this.options.maxRetryDelayMs), retrySignal);
        continue;
      } finally {
        stopTimer();
      }
      if (verdict.kind === 'delivered') {
        this.countSuccess(request.id);
        metrics.bytesSent.inc(Buffer.byteLength(request.body));
        return response;
      }

      pipelined.onRetry?.();
      this.countFailure(this.httpFailure(verdict, request.id, batch));
      metrics.retries.inc();
      if (verdict.kind === 'permanent') {
        await this.waitWhileRefused(retrySignal);
        // The ping may have found a receiver that takes another format (one older than v3 took
        // its place): the batch goes again in what it takes now. (One request per batch here.)
        // Likewise a receiver that no longer takes `follows` or `acknowledges` gets the batch without it.
        const formatChanged = this.options.format === 'auto' && (request.contentType === V3_MEDIA_TYPE) !== (this.wireFormat === 'v3');
        if (formatChanged || (batch.follows !== undefined && !this.takesFollows(batch)) || (this.sealedAcknowledging.has(batch) && !this.acknowledgesDurable)) request = (await reseal())[0]!;
      } else {
        const delay = verdict.retryAfterMs !== undefined ? Math.min(verdict.retryAfterMs, this.options.maxRetryDelayMs) : backoffDelay(attempt, this.options.retryDelayMs, this.options.maxRetryDelayMs);
        await sleep(delay, retrySignal);
      }
    }
  }

  /**
   * After a refusal: waits until the batch is worth sending again. Every blocked-retry-interval
   * a signed ping (a few hundred bytes) asks whether the receiver takes our requests at all; a
   * refusal of the whole sender (401, 404, a proxy) is fixed when it passes. A refusal of the
   * batch's content (422, 409) cannot be seen from a ping, so once the ping passes the batch goes
   * again. A seed-format receiver may not know pings: there the batch (one event) goes each time.
   */
  private async waitWhileRefused(retrySignal: AbortSignal): Promise<void> {
    const { blockedRetryIntervalMs, maxRetryDelayMs, format } = this.options;
    const latest = Date.now() + maxRetryDelayMs;
    for (;;) {
      await sleep(Math.min(blockedRetryIntervalMs, Math.max(1, latest - Date.now())), retrySignal);
      if (format === 'seed-v1' || Date.now() >= latest) return;
      try {
        if (judgeResponse(await this.postPing(await this.pingRequest(), retrySignal)).kind === 'delivered') return;
      } catch (error) {
        if (retrySignal.aborted) throw error;
      }
      this.options.logger.debug('still blocked: the receiver does not take our ping yet');
    }
  }

  private post(request: SealedRequest, signal?: AbortSignal, scheme: SignatureScheme = this.signatureScheme): Promise<WebhookResponse> {
    // A fresh timestamp and signature per attempt; the id stays the same. The body's digest
    // (v1d) is made once per batch: an attempt signs ~330 bytes.
    if (scheme === DIGEST_SIGNATURE_VERSION) request.bodyDigest ??= bodyDigest(request.body);
    const headers = signWebhook({ id: request.id, timestamp: Math.floor(Date.now() / 1000), body: request.body, signingKeys: this.options.signingKeys, scheme, ...(request.bodyDigest ? { bodyDigest: request.bodyDigest } : {}) });
    return this.options.client.post({ ...headers, 'content-type': request.contentType }, request.body, signal);
  }
}

function parseJsonObject(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}
