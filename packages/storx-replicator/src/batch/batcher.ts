import { hasOtherWithName } from '../decode/decoded-relation.js';
import type { TransactionPart } from '../decode/transaction-assembler.js';
import { EncodedEvents } from './encoded-events.js';
import type { OutgoingBatch } from './outgoing-batch.js';

export interface BatcherOptions {
  maxEvents: number;
  maxBytes: number;
  /** How long a batch waits for more transactions; 0 flushes once the current read is processed. */
  lingerMs: number;
  /**
   * True when the delivery window has room for one more batch (nothing in flight, or fewer than
   * `max-in-flight` toward a receiver that takes `follows`): a batch then goes as soon as the
   * current read is processed instead of lingering (nothing to gain by waiting; latency to lose).
   * While the window is full it lingers and fills, and the session flushes it when a delivery is
   * done, so a backlog still goes as few large batches.
   */
  windowHasRoom?: () => boolean;
  emit: (batch: OutgoingBatch) => void;
}

/**
 * Groups whole transactions into batches, flushing on event count, size or linger time.
 * A chunk of a split transaction always travels alone, after everything before it. A
 * transaction is never split between batches by the batcher: only the assembler splits, and
 * only by size.
 */
export class Batcher {
  private current: OutgoingBatch | undefined;
  private timer: { kind: 'timeout'; handle: NodeJS.Timeout } | { kind: 'immediate'; handle: NodeJS.Immediate } | undefined;

  constructor(private readonly options: BatcherOptions) {}

  get isEmpty(): boolean {
    return this.current === undefined;
  }

  add(part: TransactionPart): void {
    if (!part.last || part.chunkIndex > 0) {
      this.flush();
      this.options.emit({
        commitLsn: part.commitLsn,
        chunk: part.afterSeq === undefined ? { index: part.chunkIndex, last: part.last } : { index: part.chunkIndex, last: part.last, after_seq: part.afterSeq },
        ackLsn: part.last ? part.endLsn : undefined,
        events: part.events,
        relations: part.relations,
        bytes: part.bytes,
        lastCommitTimeMs: part.commitTimeMs,
      });
      return;
    }
    if (this.current && (this.current.events.count + part.events.count > this.options.maxEvents || this.current.bytes + part.bytes > this.options.maxBytes || describesDifferently(this.current, part))) {
      this.flush();
    }
    if (this.current === undefined) {
      this.current = { commitLsn: part.commitLsn, chunk: { index: 0, last: true }, ackLsn: part.endLsn, events: new EncodedEvents(), relations: new Map(), bytes: 0, lastCommitTimeMs: part.commitTimeMs };
    }
    const batch = this.current;
    batch.events.append(part.events);
    part.relations.forEach((relation, id) => batch.relations.set(id, relation));
    batch.commitLsn = part.commitLsn;
    batch.ackLsn = part.endLsn;
    batch.bytes += part.bytes;
    batch.lastCommitTimeMs = part.commitTimeMs;
    if (batch.events.count >= this.options.maxEvents || batch.bytes >= this.options.maxBytes) this.flush();
    else this.armTimer();
  }

  /** Hands the current batch on now. */
  flush(): void {
    this.clearTimer();
    const batch = this.current;
    this.current = undefined;
    if (batch) this.options.emit(batch);
  }

  /** Drops what was not handed on (at shutdown or reconnect: the slot will resend it). */
  discard(): void {
    this.clearTimer();
    this.current = undefined;
  }

  private armTimer(): void {
    if (this.timer !== undefined) return;
    const linger = this.options.windowHasRoom?.() === true ? 0 : this.options.lingerMs;
    this.timer = linger > 0 ? { kind: 'timeout', handle: setTimeout(() => this.flush(), linger) } : { kind: 'immediate', handle: setImmediate(() => this.flush()) };
  }

  private clearTimer(): void {
    if (this.timer?.kind === 'timeout') clearTimeout(this.timer.handle);
    else if (this.timer?.kind === 'immediate') clearImmediate(this.timer.handle);
    this.timer = undefined;
  }
}

/**
 * True when the part describes a relation the batch already holds differently: the table was
 * altered between the two transactions (same relation id, new description), or dropped and
 * created again under the same name (a new relation id). A batch holds one description per
 * table name, so the part starts a new batch.
 */
function describesDifferently(batch: OutgoingBatch, part: TransactionPart): boolean {
  for (const [id, relation] of part.relations) {
    const known = batch.relations.get(id);
    if (known !== undefined ? known !== relation : hasOtherWithName(batch.relations, id, relation)) return true;
  }
  return false;
}
