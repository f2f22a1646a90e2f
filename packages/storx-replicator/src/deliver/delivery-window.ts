import { formatLsn } from '@storx-backup/protocol';
import type { OutgoingBatch } from '../batch/outgoing-batch.js';
import type { ReceiverAnswer } from '../acknowledge/receiver-answer.js';
import type { BatchDelivery } from './batch-delivery.js';
import type { WebhookResponse } from './webhook-client.js';

export interface DeliveryWindowOptions {
  /** Batches on the wire at once (`replication.max-in-flight`); 1 sends one at a time. */
  maxBatches: number;
  /** Their payload bytes together (`replication.max-in-flight-bytes`); the first batch always goes. */
  maxBytes: number;
}

/**
 * Keeps up to `maxBatches` batches of one session on the wire, so that the receiver decrypts and
 * parses a batch while it applies the one before, and this process seals the next meanwhile.
 * Only toward a receiver that takes `follows` (BatchDelivery.pipelining): every batch but the
 * session's first names the batch before it, and the receiver applies them in that order,
 * holding an early one until its predecessor commits (docs/protocol.md).
 *
 * The session still acknowledges in order: its DeliveryQueue awaits `deliver` for the batch at
 * its head, and only then for the next. Only the head ever retries. The others get one attempt
 * each, started early; when the head fails, every other attempt is abandoned (its connection
 * closed) and the window stays shut until the head is delivered, alone, with the usual retries:
 * then the rest go again (whatever the receiver applied of them meanwhile comes back
 * `duplicate`). So a failure looks exactly as it does one batch at a time.
 */
export class DeliveryWindow {
  /** First attempts started ahead of their turn. */
  private readonly started = new Map<OutgoingBatch, Promise<WebhookResponse>>();
  /** One per attempt started ahead, so that abandoning the others never cuts the head's. */
  private readonly attempts = new Map<OutgoingBatch, AbortController>();
  /** Batches already given their place in the `follows` chain. */
  private readonly placed = new WeakSet<OutgoingBatch>();
  private last: OutgoingBatch | undefined;
  private current: OutgoingBatch | undefined;
  /** Set while the head retries: nothing else is started. */
  private shut = false;

  constructor(
    private readonly delivery: BatchDelivery,
    private readonly options: DeliveryWindowOptions,
    /** Aborts every attempt (the session ends). */
    private readonly sessionSignal: AbortSignal,
  ) {}

  /**
   * Batches the session may have on the wire before the next one waits: the window toward a
   * receiver that takes `follows`, else 1. The DeliveryQueue pauses the stream with one more queued.
   */
  get maxBatches(): number {
    return this.delivery.pipelining ? Math.max(1, this.options.maxBatches) : 1;
  }

  /**
   * True when a batch made now would go on the wire at once: fewer than `maxBatches` are queued
   * (the queue holds those on the wire) and no failed head is being sent again alone. The batcher
   * then sends a transaction as soon as it is read instead of lingering: a trickle of small
   * transactions does not wait for the delivery ahead of it (measured: that wait was the whole
   * tail of the trickle latency).
   */
  hasRoom(queued: number): boolean {
    return !this.shut && queued < this.maxBatches;
  }

  /**
   * Called with the session's queue (in order) whenever it changes: places new batches in the
   * `follows` chain and starts the first attempt of those that fit the window; one at a time
   * (an older receiver, or the window shut), it seals the next batch ahead instead.
   */
  fill(queue: readonly OutgoingBatch[]): void {
    for (const batch of queue) {
      if (batch.events.count === 0 || this.placed.has(batch)) continue;
      this.placed.add(batch);
      // A batch with nothing to send holds no place: the receiver never sees it.
      const previous = this.last;
      if (previous !== undefined) batch.follows = { commit_lsn: formatLsn(previous.commitLsn), chunk_index: previous.chunk.index, chunk_last: previous.chunk.last };
      this.last = batch;
    }
    if (this.maxBatches === 1 || this.shut || !this.delivery.pipelining) {
      const next = queue[1];
      if (next !== undefined && next.events.count > 0) this.delivery.prepare(next);
      return;
    }
    let count = 0;
    let bytes = 0;
    for (const batch of queue) {
      if (batch.events.count === 0) continue;
      if (count >= this.maxBatches || (count > 0 && bytes + batch.bytes > this.options.maxBytes)) break;
      count += 1;
      bytes += batch.bytes;
      if (batch === this.current || this.started.has(batch)) continue;
      const attempt = new AbortController();
      this.attempts.set(batch, attempt);
      const response = this.delivery.startAttempt(batch, AbortSignal.any([this.sessionSignal, attempt.signal]));
      response.catch(() => undefined); // observed by deliver, or abandoned
      this.started.set(batch, response);
    }
  }

  /** Resolves with the answer once `batch` (the head of the queue) was answered 2xx, using its early attempt if it had one. */
  async deliver(batch: OutgoingBatch, signal: AbortSignal, stopRetrying?: AbortSignal): Promise<ReceiverAnswer> {
    this.current = batch;
    const first = this.started.get(batch);
    this.started.delete(batch);
    let answer: ReceiverAnswer;
    try {
      answer = await this.delivery.deliver(batch, signal, stopRetrying, { first, onRetry: () => this.shutUntilDelivered() });
    } finally {
      this.current = undefined;
      this.attempts.delete(batch);
    }
    this.shut = false;
    return answer;
  }

  /**
   * Abandons every attempt started ahead of the head (the session stops, or the head failed and
   * is sent again alone) and starts none until the head is delivered. The head's own attempt is
   * left alone: a stop lets it finish within `shutdown-timeout`.
   */
  shutUntilDelivered(): void {
    this.shut = true;
    for (const [batch, attempt] of this.attempts) {
      if (batch === this.current) continue;
      attempt.abort(new Error('abandoned: the batch before it is sent again first'));
      this.attempts.delete(batch);
      this.started.delete(batch);
    }
  }
}
