import type { OutgoingBatch } from '../batch/outgoing-batch.js';
import type { BatchDelivery } from '../deliver/batch-delivery.js';
import type { WebhookResponse } from '../deliver/webhook-client.js';

export interface CopyWindowOptions {
  /** Chunks on the wire at once (`replication.max-in-flight`); 1 sends one at a time. */
  maxChunks: number;
  /** Their payload bytes together (`replication.max-in-flight-bytes`); the first chunk always goes. */
  maxBytes: number;
}

interface Entry {
  batch: OutgoingBatch;
  /** Its first attempt, started ahead of its turn; undefined when it had none or it was abandoned. */
  attempt: Promise<WebhookResponse> | undefined;
  abort: AbortController | undefined;
  /** Settles once it was answered 2xx (or its delivery failed for good). */
  delivered: Promise<void>;
}

/**
 * Keeps up to `maxChunks` chunks of one table copy on the wire, toward a receiver whose ping
 * answer says `copy_follows`: each chunk after the first names the one before it (`follows`), and
 * the receiver holds a chunk, verified and decrypted, until that one has committed. So the backup
 * runs one chunk's `COPY FROM` while the next is sealed, posted, verified and decrypted, instead
 * of waiting for each round trip (the copy was bound by that wait, not by CPU).
 *
 * Chunks are delivered in order, as DeliveryWindow does for stream batches: only the oldest chunk
 * (the head) ever retries; the others get one attempt each, started early. When the head fails,
 * every other attempt is abandoned (its connection closed) and none starts until the head is
 * delivered, alone, with the usual retries; then the rest go again (whatever the receiver
 * applied of them meanwhile comes back `duplicate`). Toward any other receiver the window is 1:
 * one chunk delivering while the next is read.
 */
export class CopyWindow {
  private readonly queue: Entry[] = [];
  private bytes = 0;
  /** Set while the head retries: nothing else is started. */
  private shut = false;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly delivery: BatchDelivery,
    private readonly options: CopyWindowOptions,
    private readonly signal: AbortSignal,
    /** Told about each chunk once it is delivered, in order. */
    private readonly onDelivered: (batch: OutgoingBatch) => void,
  ) {}

  private get maxChunks(): number {
    return this.delivery.copyPipelining ? Math.max(1, this.options.maxChunks) : 1;
  }

  /**
   * Queues a chunk (in the copy's order) and returns once there is room for the next one: the
   * chunk is delivering, or on the wire ahead of its turn. Rejects with the failure that ended
   * an earlier chunk's delivery (the signal aborted, or its sealing failed).
   */
  async send(batch: OutgoingBatch): Promise<void> {
    const snapshot = batch.snapshot!;
    // The chunk before it of the same copy is always the one queued before it. The delivery
    // puts `follows` on the wire only to a receiver that takes it on a copy chunk.
    if (snapshot.index > 0) batch.follows = { commit_lsn: snapshot.image_lsn, chunk_index: snapshot.index - 1, chunk_last: false };
    while (this.queue.length > 0 && (this.queue.length >= this.maxChunks + 1 || this.bytes + batch.bytes > this.options.maxBytes)) await this.queue[0]!.delivered;
    const entry: Entry = { batch, attempt: undefined, abort: undefined, delivered: Promise.resolve() };
    if (this.queue.length > 0 && this.queue.length < this.maxChunks && !this.shut) this.start(entry);
    entry.delivered = this.tail.then(() => this.deliverHead(entry));
    entry.delivered.catch(() => undefined); // awaited by the next send or by `finish`
    this.tail = entry.delivered;
    this.queue.push(entry);
    this.bytes += batch.bytes;
  }

  /** Resolves once every queued chunk is delivered. */
  async finish(): Promise<void> {
    await this.tail;
  }

  /** Abandons every attempt on the wire (the copy failed). */
  close(): void {
    for (const entry of this.queue) entry.abort?.abort(new Error('abandoned: the copy stopped'));
  }

  private start(entry: Entry): void {
    entry.abort = new AbortController();
    entry.attempt = this.delivery.startAttempt(entry.batch, AbortSignal.any([this.signal, entry.abort.signal]));
    entry.attempt.catch(() => undefined); // observed by deliver, or abandoned
  }

  private async deliverHead(entry: Entry): Promise<void> {
    try {
      await this.delivery.deliver(entry.batch, this.signal, undefined, { first: entry.attempt, onRetry: () => this.shutUntilDelivered(entry) });
    } finally {
      this.queue.shift();
      this.bytes -= entry.batch.bytes;
    }
    this.shut = false;
    this.onDelivered(entry.batch);
    // Those behind it whose attempt was abandoned (or never started) go now, within the window.
    for (const [index, next] of this.queue.entries()) if (index > 0 && index < this.maxChunks && next.attempt === undefined) this.start(next);
  }

  private shutUntilDelivered(head: Entry): void {
    this.shut = true;
    for (const entry of this.queue) {
      if (entry === head || entry.abort === undefined) continue;
      entry.abort.abort(new Error('abandoned: the chunk before it is sent again first'));
      entry.abort = undefined;
      entry.attempt = undefined;
    }
  }
}
