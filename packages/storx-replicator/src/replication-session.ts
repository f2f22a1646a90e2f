import { formatLsn, type Lsn } from '@storx-backup/protocol';
import type { Logger } from '@storx-backup/service-kit';
import { Acknowledger } from './acknowledge/acknowledger.js';
import { DurablePoller } from './acknowledge/durable-poller.js';
import type { ReceiverAnswer } from './acknowledge/receiver-answer.js';
import { Batcher } from './batch/batcher.js';
import type { OutgoingBatch } from './batch/outgoing-batch.js';
import { decodePgoutput } from './decode/pgoutput-decoder.js';
import { TransactionAssembler } from './decode/transaction-assembler.js';
import type { BatchDelivery } from './deliver/batch-delivery.js';
import { DeliveryQueue } from './deliver/delivery-queue.js';
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
 *
 * The stages: stream → decode → TransactionAssembler → Batcher → DeliveryQueue (backpressure, the
 * delivery loop) → DeliveryWindow / BatchDelivery → Acknowledger, with DurablePoller asking for
 * the durable position while the answers do not bring it. The session wires them and owns
 * start, stop and the end on failure.
 */
export class ReplicationSession {
  /** Settles when the session ends: resolves after stop(), rejects on failure. */
  readonly done: Promise<void>;
  private readonly acknowledger: Acknowledger;
  private received: Lsn = 0n as Lsn;
  private readonly queue: DeliveryQueue;
  private readonly durable: DurablePoller;
  private readonly assembler: TransactionAssembler;
  private readonly batcher: Batcher;
  private readonly window: DeliveryWindow;
  private readonly abort = new AbortController();
  /** Set at stop(): no more retries, but a request on the wire may finish. */
  private readonly stopRetrying = new AbortController();
  private stream: ReplicationStream | undefined;
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
    this.batcher = new Batcher({ maxEvents: options.maxBatchEvents, maxBytes: options.maxBatchBytes, lingerMs: options.batchLingerMs, windowHasRoom: () => this.window.hasRoom(this.queue.length), emit: (batch) => this.queue.enqueue(batch) });
    this.durable = new DurablePoller(this.acknowledger, options.delivery, this.abort.signal, (error) => this.shutDown(error));
    this.queue = new DeliveryQueue({
      window: this.window,
      batcher: this.batcher,
      stream: { pause: () => this.stream?.pause(), resume: () => this.stream?.resume() },
      answered: (batch, answer) => this.answered(batch, answer),
      fail: (error) => this.shutDown(error),
      signal: this.abort.signal,
      stopRetrying: this.stopRetrying.signal,
    });
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
    return this.stream !== undefined && !this.queue.isPaused && !this.stopped && this.queue.isIdle;
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
    this.queue.stop();
    this.window.shutUntilDelivered();
    this.stopRetrying.abort(new Error('replicator stopping'));
    const delivering = this.queue.delivering;
    if (delivering) {
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
      if ((await Promise.race([delivering.then(() => 'done' as const), timeout])) === 'timeout') {
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
    const idle = !this.assembler.inTransaction && this.batcher.isEmpty && this.queue.isIdle;
    if (!(idle && this.acknowledger.advanceIdle(position)) && replyRequested) this.stream?.sendStatus(this.acknowledger.confirmed);
  }

  /** The head of the queue was answered (or had nothing to send), in queue order. */
  private answered(batch: OutgoingBatch, answer: ReceiverAnswer | undefined): void {
    if (answer !== undefined) this.durable.answerCame();
    // Throws when the answer shows the backup lost batches it had answered (the session ends).
    this.acknowledger.answered(batch, answer);
    this.durable.pollLater();
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
    this.queue.clear();
    this.assembler.reset();
    void this.stream?.stop(this.acknowledger.confirmed).catch(() => undefined);
    this.fail(error);
  }
}
