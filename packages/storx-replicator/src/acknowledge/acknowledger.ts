import { compareReceiverPositions, formatLsn, type Lsn, type ReceiverPosition } from '@storx-backup/protocol';
import type { ReceiverAnswer } from './receiver-answer.js';

/** A batch at the head of the session's queue, answered (or with nothing to send). */
export interface AnsweredBatch {
  /** Where the slot may go once it is durable: the end of its last transaction; undefined for a chunk that does not end one. */
  ackLsn: Lsn | undefined;
  /** Commit time (Unix ms) of its last transaction. */
  lastCommitTimeMs: number;
}

interface Waiting extends AnsweredBatch {
  /** False for a batch with nothing to send: it waits only for the batches before it. */
  sent: boolean;
  /** The receiver's watermark its answer carried: durable once a reported `durable` reaches it. */
  watermark: ReceiverPosition | undefined;
}

/** The receiver's watermark went back behind one it answered in this session: its database lost commits. */
export class AppliedBatchesLostError extends Error {
  constructor(readonly answered: ReceiverPosition, readonly now: ReceiverPosition | undefined) {
    super(
      `the receiver answered batches applied up to ${describe(answered)} but now holds only ${now === undefined ? 'nothing' : describe(now)}: the backup PostgreSQL lost commits it had not flushed yet (a crash). The slot was acknowledged only to what was durable; streaming again from it`,
    );
    this.name = 'AppliedBatchesLostError';
  }
}

/**
 * Decides how far the slot is acknowledged (invariant 1): to the end of a transaction whose batch
 * the receiver answered 2xx and has since reported durable, in queue order. The session reports
 * each head-of-queue batch once answered (`answered`), durable positions learnt from pings
 * (`learned`), and asks before moving an idle slot (`advanceIdle`). Pure: the `confirm` callback
 * sends the standby status.
 *
 * A receiver that commits asynchronously answers `applied` before the commit is on disk and
 * `durable` apart; one that answers without `durable` committed durably, so its 2xx is durable.
 * Every answer also carries the receiver's watermark: if a later one is behind an earlier one,
 * the backup lost commits it had answered (a crash before they were flushed), and the session
 * must start again from the slot: the batches it would send next follow ones that are gone.
 */
export class Acknowledger {
  private readonly waiting: Waiting[] = [];
  /** The furthest watermark an answer of this session carried. */
  private highest: ReceiverPosition | undefined;

  constructor(
    private position: Lsn,
    private readonly confirm: (lsn: Lsn, commitTimeMs: number | undefined) => void,
  ) {}

  /** Where the slot is acknowledged to. */
  get confirmed(): Lsn {
    return this.position;
  }

  /** True while batches answered applied are not known durable yet (the session then polls). */
  get awaitingDurable(): boolean {
    return this.waiting.length > 0;
  }

  /** The furthest watermark the answers reported so far carried: pass it to `learned` for a ping sent now. */
  get answeredWatermark(): ReceiverPosition | undefined {
    return this.highest;
  }

  /**
   * The head of the queue was answered 2xx (`answer`), or had nothing to send (undefined): in
   * queue order. Throws AppliedBatchesLostError when the answer shows lost commits.
   */
  answered(batch: AnsweredBatch, answer: ReceiverAnswer | undefined): void {
    if (answer !== undefined) {
      checkNotBehind(answer.watermark, this.highest);
      if (answer.watermark !== undefined && compareReceiverPositions(answer.watermark, this.highest) > 0) this.highest = answer.watermark;
    }
    this.waiting.push({ ...batch, sent: answer !== undefined, watermark: answer?.watermark });
    if (answer === undefined) this.settle(() => false);
    else this.settleBy(answer.durable);
  }

  /**
   * A ping's answer: its `durable` settles batches. `answeredBefore` is `answeredWatermark` when
   * the ping was sent: a watermark behind it throws AppliedBatchesLostError (one behind a later
   * answer is not: the ping read it before that answer's commit).
   */
  learned(answer: ReceiverAnswer, answeredBefore: ReceiverPosition | undefined): void {
    checkNotBehind(answer.watermark, answeredBefore);
    this.settleBy(answer.durable);
  }

  /**
   * Nothing is in flight and the server says it sent up to `walEnd`: the slot may move there
   * (invariant 2), but only once everything answered is durable. Returns whether it moved.
   */
  advanceIdle(walEnd: Lsn): boolean {
    if (this.waiting.length > 0 || walEnd <= this.position) return false;
    this.position = walEnd;
    this.confirm(walEnd, undefined);
    return true;
  }

  private settleBy(durable: ReceiverAnswer['durable']): void {
    // A receiver that commits durably before answering: everything it answered is on disk.
    if (durable === 'with-answer') this.settle(() => true);
    else this.settle((batch) => durable !== undefined && batch.watermark !== undefined && compareReceiverPositions(durable, batch.watermark) >= 0);
  }

  /** Takes the waiting batches from the front while each is durable (or had nothing to send); confirms the last one's end. */
  private settle(isDurable: (batch: Waiting) => boolean): void {
    let count = 0;
    while (count < this.waiting.length && (!this.waiting[count]!.sent || isDurable(this.waiting[count]!))) count += 1;
    if (count === 0) return;
    let last: Waiting | undefined;
    for (const batch of this.waiting.splice(0, count)) if (batch.ackLsn !== undefined) last = batch;
    if (last === undefined || last.ackLsn! <= this.position) return;
    this.position = last.ackLsn!;
    this.confirm(last.ackLsn!, last.lastCommitTimeMs);
  }
}

function checkNotBehind(watermark: ReceiverPosition | undefined, answered: ReceiverPosition | undefined): void {
  if (answered === undefined || watermark === undefined) return;
  if (compareReceiverPositions(watermark, answered) < 0) throw new AppliedBatchesLostError(answered, watermark);
}

function describe(position: ReceiverPosition): string {
  if (position.commitLsn === undefined) return 'nothing';
  return position.chunkLast ? `the transaction at ${formatLsn(position.commitLsn)}` : `change ${position.eventSeq ?? 'none'} of the transaction at ${formatLsn(position.commitLsn)}`;
}
