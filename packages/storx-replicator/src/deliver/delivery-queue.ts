import type { ReceiverAnswer } from '../acknowledge/receiver-answer.js';
import type { Batcher } from '../batch/batcher.js';
import type { OutgoingBatch } from '../batch/outgoing-batch.js';
import type { DeliveryWindow } from './delivery-window.js';

/** The replication stream, as backpressure sees it. */
export interface StreamFlow {
  pause(): void;
  resume(): void;
}

export interface DeliveryQueueOptions {
  window: Pick<DeliveryWindow, 'maxBatches' | 'fill' | 'deliver'>;
  /** Where the next batch gathers: flushed as soon as the window has room. */
  batcher: Pick<Batcher, 'isEmpty' | 'flush'>;
  stream: StreamFlow;
  /**
   * The batch at the head was answered 2xx (`answer`), or had nothing to send (undefined): called
   * in queue order. A throw ends the session (through `fail`).
   */
  answered: (batch: OutgoingBatch, answer: ReceiverAnswer | undefined) => void;
  /** Delivery failed for good: the session ends. */
  fail: (error: Error) => void;
  /** Aborts every delivery (the session ends). */
  signal: AbortSignal;
  /** Set at stop: no more retries, but a request on the wire may finish. */
  stopRetrying: AbortSignal;
}

/**
 * A session's batches between the batcher and the receiver, in commit order: the head is
 * delivered (through the DeliveryWindow, which may have the next ones on the wire already) and
 * reported answered before the next. Backpressure: one batch more than the window holds pauses
 * the stream, and it resumes once the queue is down to what may be on the wire.
 */
export class DeliveryQueue {
  private readonly queue: OutgoingBatch[] = [];
  private running: Promise<void> | undefined;
  private paused = false;
  private stopped = false;

  constructor(private readonly options: DeliveryQueueOptions) {}

  /** Batches waiting or on the wire (the head until it is answered). */
  get length(): number {
    return this.queue.length;
  }

  /** True while backpressure holds the stream paused. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Nothing queued and no delivery loop running. */
  get isIdle(): boolean {
    return this.queue.length === 0 && this.running === undefined;
  }

  /** The delivery loop, while it runs: settles once it has nothing left (or failed). */
  get delivering(): Promise<void> | undefined {
    return this.running;
  }

  enqueue(batch: OutgoingBatch): void {
    if (this.stopped) return;
    this.queue.push(batch);
    const { window, stream } = this.options;
    // Batches after the one on the wire go out too (a receiver that takes `follows`), or the next
    // is sealed meanwhile: the receiver applies one batch while this process encrypts the next.
    if (this.running !== undefined) window.fill(this.queue);
    // Backpressure: a full window and one more batch waiting pause the stream.
    if (!this.paused && this.queue.length > window.maxBatches) {
      this.paused = true;
      stream.pause();
    }
    this.kick();
  }

  /** At a stop: takes no more batches and drops all but the head, which may finish. */
  stop(): void {
    this.stopped = true;
    this.queue.splice(1);
  }

  /** The session ended: drops everything. */
  clear(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  /**
   * Starts the delivery loop unless it runs. The loop may finish without awaiting anything
   * (batches with nothing to send), before its `finally` clears `running`; a batch enqueued
   * in that window would wait for the next one, possibly forever with the stream paused. So the
   * loop restarts itself while batches remain.
   */
  private kick(): void {
    if (this.running !== undefined) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.queue.length > 0 && !this.options.signal.aborted && !this.options.stopRetrying.aborted) this.kick();
    });
  }

  private async drain(): Promise<void> {
    const { window, batcher, stream, signal, stopRetrying } = this.options;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue[0]!;
        window.fill(this.queue);
        // A batch of only filtered-out or empty transactions has nothing to send, but its place
        // in the order still matters: it is acknowledged only after everything before it.
        const answer = batch.events.count > 0 ? await window.deliver(batch, signal, stopRetrying) : undefined;
        this.queue.shift();
        // In queue order; throws when the answer shows the backup lost batches it had answered (the session ends).
        this.options.answered(batch, answer);
        // The window has room: what gathered meanwhile goes now rather than at the end of its linger.
        if (this.queue.length < window.maxBatches && !batcher.isEmpty) batcher.flush();
        // Resume as soon as the queue is down to what may be on the wire, not once it is empty:
        // the next batch fills from the socket while the receiver applies (measured: resuming only
        // when the queue was empty left the stream paused through every other delivery of a
        // backlog, ~40% of the catch-up time).
        if (this.paused && !this.stopped && this.queue.length <= window.maxBatches) {
          this.paused = false;
          stream.resume();
        }
      }
    } catch (error) {
      if (!signal.aborted && !stopRetrying.aborted) this.options.fail(error as Error);
    }
  }
}
