import { formatLsn, type Lsn } from '@storx-backup/protocol';
import type { Logger } from '@storx-backup/service-kit';
import { Acknowledger } from './acknowledge/acknowledger.js';
import { DurablePoller } from './acknowledge/durable-poller.js';
import { Batcher } from './batch/batcher.js';
import type { OutgoingBatch } from './batch/outgoing-batch.js';
import { decodePgoutput } from './decode/pgoutput-decoder.js';
import { TransactionAssembler } from './decode/transaction-assembler.js';
import type { BatchDelivery } from './deliver/batch-delivery.js';
import { DeliveryWindow } from './deliver/delivery-window.js';
import type { ReplicatorMetrics } from './metrics.js';
import { ReplicationStream } from './source/replication-stream.js';


export interface SessionOptions {
  databaseUrl: string;
  slotName: string;
  publicationName: string;
  includedTables: ReadonlySet<string>;
  maxBatchEvents: number;
  maxBatchBytes: number;
  batchLingerMs: number;
  statusIntervalMs: number;
  /** The slot's confirmed position when the session starts. */
  confirmed: Lsn;
  /** Turn the slot into a failover slot before streaming (PostgreSQL 17+, when it is not one). */
  enableFailover?: boolean;
  delivery: BatchDelivery;
  /** Batches on the wire at once toward a receiver that takes `follows` (`replication.max-in-flight`); default 1. */
  maxInFlight?: number;
  /** Their payload bytes together (`replication.max-in-flight-bytes`); default unbounded. */
  maxInFlightBytes?: number;
  metrics: ReplicatorMetrics;
  logger: Logger;
}

/**
 * One replication connection, from START_REPLICATION to its end. Decoding, batching and
 * delivery happen in WAL order; the slot is acknowledged (Acknowledger) only to the end of a
 * transaction whose batch the receiver answered 2xx and reported durable, or, when nothing at all is in flight, to the position the
 * server says it has sent (as PostgreSQL's own subscriber does). On any failure the whole
 * session is thrown away: the next one restarts from the slot, and the receiver's watermark
 * turns what is sent again into duplicates.
 */
export class ReplicationSession {
  /** Settles when the session ends: resolves after stop(), rejects on failure. */
  readonly done: Promise<void>;
  private readonly acknowledger: Acknowledger;
  private received: Lsn = 0n as Lsn;
  private readonly queue: OutgoingBatch[] = [];
  private readonly durable: DurablePoller;
  private readonly assembler: TransactionAssembler;
  private readonly batcher: Batcher;
  private readonly window: DeliveryWindow;
  private readonly abort = new AbortController();
  /** Set at stop(): no more retries, but a request on the wire may finish. */
  private readonly stopRetrying = new AbortController();
  private stream: ReplicationStream | undefined;
  private delivering: Promise<void> | undefined;
  private paused = false;
  private stopped = false;
  private statusTimer: NodeJS.Timeout | undefined;
  private fail!: (error: Error) => void;
  private finish!: () => void;

  constructor(private readonly options: SessionOptions) {
    this.acknowledger = new Acknowledger(options.confirmed, (lsn, commitTimeMs) => this.confirm(lsn, commitTimeMs));
    this.done = new Promise<void>((resolve, reject) => {
      this.finish = resolve;
      this.fail = reject;
    });
    this.done.catch(() => undefined);
    this.window = new DeliveryWindow(options.delivery, { maxBatches: options.maxInFlight ?? 1, maxBytes: options.maxInFlightBytes ?? Number.POSITIVE_INFINITY }, this.abort.signal);
    this.batcher = new Batcher({ maxEvents: options.maxBatchEvents, maxBytes: options.maxBatchBytes, lingerMs: options.batchLingerMs, windowHasRoom: () => this.window.hasRoom(this.queue.length), emit: (batch) => this.enqueue(batch) });
    this.durable = new DurablePoller(this.acknowledger, options.delivery, this.abort.signal, (error) => this.shutDown(error));
    this.assembler = new TransactionAssembler({ includedTables: options.includedTables, maxPartBytes: options.maxBatchBytes, emit: (part) => this.batcher.add(part) });
  }

  /** Where the slot has been acknowledged to. */
  get confirmedLsn(): Lsn {
    return this.acknowledger.confirmed;
  }

  /** The furthest WAL position the server has sent on this stream (data or keepalive). */
  get receivedLsn(): Lsn {
    return this.received;
  }

  /**
   * True when the stream is read and nothing waits for the receiver: if the server's WAL moves
   * on and nothing arrives, the server is holding the stream back (see `StallWatch`).
   */
  get waitingForServer(): boolean {
    return this.stream !== undefined && !this.paused && !this.stopped && this.queue.length === 0 && this.delivering === undefined;
  }

  async start(): Promise<void> {
    this.stream = await ReplicationStream.start(
      this.options.databaseUrl,
      this.options.slotName,
      this.options.publicationName,
      {
        onData: (walStart, buffer, offset) => this.guard(() => this.onData(walStart, buffer, offset)),
        onKeepalive: (walEnd, replyRequested) => this.guard(() => this.onKeepalive(walEnd as Lsn, replyRequested)),
      },
      { enableFailover: this.options.enableFailover ?? false },
    );
    // Every batch of this session says which system and timeline it was read from.
    this.options.delivery.origin = this.stream.origin;
    this.stream.ended.then(
      () => this.finish(),
      (error: Error) => this.shutDown(error),
    );
    this.statusTimer = setInterval(() => this.stream?.sendStatus(this.acknowledger.confirmed), this.options.statusIntervalMs);
    this.options.logger.info({ slot: this.options.slotName, from: formatLsn(this.acknowledger.confirmed) }, 'replication stream started');
  }

  /**
   * Stops reading, lets the batch in flight finish for up to `timeoutMs` (then abandons it,
   * unacknowledged), reports the confirmed position and closes the connection.
   */
  async stop(timeoutMs: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.durable.stop();
    this.stream?.pause();
    this.batcher.discard();
    this.queue.splice(1);
    this.window.shutUntilDelivered();
    this.stopRetrying.abort(new Error('replicator stopping'));
    if (this.delivering) {
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
      if ((await Promise.race([this.delivering.then(() => 'done' as const), timeout])) === 'timeout') {
        this.options.logger.warn({ timeoutMs }, 'the batch in flight did not finish in time: abandoned unacknowledged (it will be sent again)');
      }
    }
    await this.durable.settleBeforeStop(timeoutMs);
    this.abort.abort(new Error('replicator stopping'));
    clearInterval(this.statusTimer);
    await this.stream?.stop(this.acknowledger.confirmed);
    this.finish();
  }

  private onData(walStart: bigint, buffer: Buffer, offset: number): void {
    if (walStart > this.received) this.received = walStart as Lsn;
    const message = decodePgoutput(buffer, offset);
    if (message.tag === 'message' && !message.transactional) {
      // A heartbeat (pg_logical_emit_message outside a transaction): a position the slot may
      // move to if nothing is in flight.
      this.advanceIfIdle(walStart as Lsn, false);
      return;
    }
    this.assembler.handle(walStart, message);
  }

  private onKeepalive(walEnd: Lsn, replyRequested: boolean): void {
    if (walEnd > this.received) this.received = walEnd;
    this.advanceIfIdle(walEnd, replyRequested);
  }

  private advanceIfIdle(position: Lsn, replyRequested: boolean): void {
    // The acknowledger moves it only once everything answered is durable too.
    const idle = !this.assembler.inTransaction && this.batcher.isEmpty && this.queue.length === 0 && this.delivering === undefined;
    if (!(idle && this.acknowledger.advanceIdle(position)) && replyRequested) this.stream?.sendStatus(this.acknowledger.confirmed);
  }

  private enqueue(batch: OutgoingBatch): void {
    if (this.stopped) return;
    this.queue.push(batch);
    // Batches after the one on the wire go out too (a receiver that takes `follows`), or the next
    // is sealed meanwhile: the receiver applies one batch while this process encrypts the next.
    if (this.delivering !== undefined) this.window.fill(this.queue);
    // Backpressure: a full window and one more batch waiting pause the stream.
    if (!this.paused && this.queue.length > this.window.maxBatches) {
      this.paused = true;
      this.stream?.pause();
    }
    this.kick();
  }

  /**
   * Starts the delivery loop unless it runs. The loop may finish without awaiting anything
   * (batches with nothing to send), before its `finally` clears `delivering`; a batch enqueued
   * in that window would wait for the next one, possibly forever with the stream paused. So the
   * loop restarts itself while batches remain.
   */
  private kick(): void {
    if (this.delivering !== undefined) return;
    this.delivering = this.drain().finally(() => {
      this.delivering = undefined;
      if (this.queue.length > 0 && !this.abort.signal.aborted && !this.stopRetrying.signal.aborted) this.kick();
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue[0]!;
        this.window.fill(this.queue);
        // A batch of only filtered-out or empty transactions has nothing to send, but its place
        // in the order still matters: it is acknowledged only after everything before it.
        const answer = batch.events.count > 0 ? await this.window.deliver(batch, this.abort.signal, this.stopRetrying.signal) : undefined;
        this.queue.shift();
        if (answer !== undefined) this.durable.answerCame();
        // Throws when the answer shows the backup lost batches it had answered (the session ends).
        this.acknowledger.answered(batch, answer);
        this.durable.pollLater();
        // The window has room: what gathered meanwhile goes now rather than at the end of its linger.
        if (this.queue.length < this.window.maxBatches && !this.batcher.isEmpty) this.batcher.flush();
        // Resume as soon as the queue is down to what may be on the wire, not once it is empty:
        // the next batch fills from the socket while the receiver applies (measured: resuming only
        // when the queue was empty left the stream paused through every other delivery of a
        // backlog, ~40% of the catch-up time).
        if (this.paused && !this.stopped && this.queue.length <= this.window.maxBatches) {
          this.paused = false;
          this.stream?.resume();
        }
      }
    } catch (error) {
      if (!this.abort.signal.aborted && !this.stopRetrying.signal.aborted) this.shutDown(error as Error);
    }
  }

  /** The acknowledger moved the slot's position: tell the server. `commitTimeMs` undefined: an idle advance. */
  private confirm(lsn: Lsn, commitTimeMs: number | undefined): void {
    this.stream?.sendStatus(lsn);
    this.options.metrics.confirmedLsn.set(Number(lsn));
    if (commitTimeMs !== undefined) this.options.metrics.commitToConfirm.observe(Math.max(0, Date.now() - commitTimeMs) / 1000);
  }

  /** Any error in the stream handlers ends the session (never a half-processed transaction). */
  private guard(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.shutDown(error as Error);
    }
  }

  private shutDown(error: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort(error);
    clearInterval(this.statusTimer);
    this.durable.stop();
    this.batcher.discard();
    this.queue.length = 0;
    this.assembler.reset();
    void this.stream?.stop(this.acknowledger.confirmed).catch(() => undefined);
    this.fail(error);
  }
}
