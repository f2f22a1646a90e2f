import { type Batch, formatLsn, parseLsn } from '@storx-backup/protocol';
import { ReceiverError } from '../errors.js';
import { type CopyState, copyPredecessorApplied } from './table-copy.js';
import { type Predecessor, predecessorApplied, predecessorOf, type Watermark } from './watermark.js';

/** How many verified batches may wait for their predecessors, and for how long. */
export interface PredecessorWaitLimits {
  /** Batches waiting at once, all sources together. Default 16. */
  maxWaiting: number;
  /** Their bodies' bytes together. Default 64 MiB. */
  maxWaitingBytes: number;
  /** How long one batch waits before it is answered 503 PREDECESSOR_NOT_APPLIED. Default 10 s (below the sender's 30 s webhook-timeout). */
  timeoutMs: number;
  /** How often a waiting batch reads the watermark again (another receiver process may apply the predecessor). Default 250 ms. */
  pollMs: number;
}

export const DEFAULT_PREDECESSOR_WAIT: PredecessorWaitLimits = Object.freeze({ maxWaiting: 16, maxWaitingBytes: 64 * 1024 * 1024, timeoutMs: 10_000, pollMs: 250 });

/**
 * Holds a batch that arrives while the batch it `follows` is still on its way (the sender keeps
 * several in flight), until that one is applied, instead of refusing it: so the receiver decrypts
 * and parses a batch while the one before it is applied.
 *
 * Only a batch whose signature verified gets here (the route calls this after the verifier), so
 * an unauthenticated caller can make nothing wait; and what waits is bounded in number, bytes
 * and time: over a bound the batch is answered 503 (the sender retries), never held.
 *
 * This is the fast path, not the guard: the applier checks `follows` again under the watermark
 * row lock (PREDECESSOR_NOT_APPLIED), which is what makes applying out of order impossible.
 */
export class PredecessorWait {
  private waiting = 0;
  private waitingBytes = 0;
  /** The last watermark this process committed per (source, slot): most waits end without a query. */
  private readonly committed = new Map<string, Watermark>();
  private readonly wakers = new Map<string, Set<() => void>>();
  /** Commits (and duplicates) seen per (source, slot): a waiter notices one that came while it read. */
  private readonly commits = new Map<string, number>();

  constructor(
    private readonly readWatermark: (sourceId: string, slot: string) => Promise<Watermark | undefined>,
    private readonly limits: PredecessorWaitLimits = DEFAULT_PREDECESSOR_WAIT,
    /** The copy progress of one table, for a table copy chunk that follows the chunk before it. */
    private readonly readCopyState: (sourceId: string, slot: string, schema: string, table: string) => Promise<CopyState | undefined> = () => Promise.resolve(undefined),
  ) {}

  /** Batches waiting now (for metrics and tests). */
  get size(): number {
    return this.waiting;
  }

  /**
   * Resolves once the batch's predecessor is applied (at once for a batch without `follows`).
   * Rejects with ORDER_WAIT_FULL when the bounds are reached, PREDECESSOR_NOT_APPLIED after the
   * timeout or when `signal` aborts (the sender closed the connection).
   */
  async untilPredecessorApplied(batch: Batch, bytes: number, signal: AbortSignal): Promise<void> {
    if (batch.follows === undefined) return;
    const predecessor = predecessorOf(batch.follows);
    const key = keyOf(batch.source_id, batch.slot);
    const { snapshot } = batch;
    const committedHere = (): boolean => predecessorApplied(this.committed.get(key), predecessor, batch.chunk.after_seq);
    // A table copy chunk follows the chunk before it of its copy: judged by the copy's progress.
    // A stream batch looks at the committed watermark again after the read: a predecessor that
    // committed here while the query ran woke nobody yet (this batch was not waiting), and the
    // read may predate its commit. Without that second look the batch slept a whole poll
    // interval (measured: 250 ms in the tail of the trickle latency).
    const reached =
      snapshot !== undefined
        ? async (): Promise<boolean> => copyPredecessorApplied(await this.readCopyState(batch.source_id, batch.slot, snapshot.schema, snapshot.table), { imageLsn: parseLsn(snapshot.image_lsn), index: snapshot.index })
        : async (): Promise<boolean> => committedHere() || predecessorApplied(await this.readWatermark(batch.source_id, batch.slot), predecessor, batch.chunk.after_seq) || committedHere();
    // A commit while `reached` reads the database must not be missed (its wake-up finds no
    // waiter yet): the loop waits only if no commit of this source came since the last check.
    let seen = this.commits.get(key) ?? 0;
    if (await reached()) return;
    const { maxWaiting, maxWaitingBytes, timeoutMs, pollMs } = this.limits;
    if (this.waiting >= maxWaiting || this.waitingBytes + bytes > maxWaitingBytes) {
      throw new ReceiverError('ORDER_WAIT_FULL', `${this.waiting} batches (${this.waitingBytes} bytes) already wait for their predecessors; ${describe(batch, predecessor)} is not held`);
    }
    this.waiting += 1;
    this.waitingBytes += bytes;
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if ((this.commits.get(key) ?? 0) === seen) await this.nextCommitOrPoll(key, Math.max(1, Math.min(pollMs, deadline - Date.now())), signal);
        seen = this.commits.get(key) ?? 0;
        if (await reached()) return;
        if (Date.now() >= deadline) throw new ReceiverError('PREDECESSOR_NOT_APPLIED', `${describe(batch, predecessor)}, which was not applied within ${timeoutMs} ms; send again from the first unacknowledged batch`);
      }
    } finally {
      this.waiting -= 1;
      this.waitingBytes -= bytes;
    }
  }

  /** A batch of (source, slot) committed (or was found a duplicate) with this watermark: wakes its waiters. */
  applied(sourceId: string, slot: string, watermark: Watermark): void {
    const key = keyOf(sourceId, slot);
    this.committed.set(key, watermark);
    this.commits.set(key, (this.commits.get(key) ?? 0) + 1);
    const wakers = this.wakers.get(key);
    if (wakers === undefined) return;
    this.wakers.delete(key);
    for (const wake of wakers) wake();
  }

  private nextCommitOrPoll(key: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let wakers = this.wakers.get(key);
      if (wakers === undefined) this.wakers.set(key, (wakers = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', aborted);
        wakers.delete(done);
        resolve();
      };
      const aborted = (): void => {
        clearTimeout(timer);
        wakers.delete(done);
        reject(new ReceiverError('PREDECESSOR_NOT_APPLIED', 'the sender closed the connection while the batch waited for its predecessor'));
      };
      const timer = setTimeout(done, ms);
      if (signal.aborted) return aborted();
      signal.addEventListener('abort', aborted, { once: true });
      wakers.add(done);
    });
  }
}

function keyOf(sourceId: string, slot: string): string {
  return `${sourceId}\u0000${slot}`;
}

function describe(batch: Batch, predecessor: Predecessor): string {
  if (batch.snapshot !== undefined) return `source ${batch.source_id}, slot ${batch.slot}: chunk ${batch.snapshot.index} of the copy of ${batch.snapshot.schema}.${batch.snapshot.table} at ${batch.snapshot.image_lsn} follows its chunk ${predecessor.chunkIndex}`;
  return `source ${batch.source_id}, slot ${batch.slot}: chunk ${batch.chunk.index} of the transaction at ${batch.commit_lsn} follows chunk ${predecessor.chunkIndex} of the transaction at ${formatLsn(predecessor.commitLsn)}`;
}
