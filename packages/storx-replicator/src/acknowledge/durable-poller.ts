import { sleep } from '../deliver/sleep.js';
import type { Acknowledger } from './acknowledger.js';
import type { ReceiverAnswer } from './receiver-answer.js';

/** Who is asked how far what it applied is durable: the receiver, with a signed ping (BatchDelivery). */
export interface DurableAsker {
  /** Undefined when it cannot be asked now. */
  askDurable(signal: AbortSignal): Promise<ReceiverAnswer | undefined>;
}

/**
 * While batches answered applied are not known durable and no answer has come for this long,
 * the receiver is asked with a ping (PostgreSQL's WAL writer flushes every wal_writer_delay,
 * 200 ms by default).
 */
export const DURABLE_POLL_MS = 200;

/** A stop waits at most this long (within its shutdown timeout) for answered batches to be reported durable. */
export const STOP_SETTLE_MS = 2_000;

/**
 * Learns the receiver's durable position for a session's Acknowledger when the answers to its
 * batches do not bring it: while answered batches are not durable yet, asks the receiver once no
 * answer has come for DURABLE_POLL_MS (a quiet stream); nothing when everything answered is
 * durable. The ping's watermark also shows commits the backup lost (AppliedBatchesLostError ends
 * the session, through `fail`).
 */
export class DurablePoller {
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private stopped = false;
  private lastAnswerAt = 0;

  constructor(
    private readonly acknowledger: Pick<Acknowledger, 'awaitingDurable' | 'answeredWatermark' | 'learned'>,
    private readonly receiver: DurableAsker,
    /** Aborts a ping (the session ends). */
    private readonly signal: AbortSignal,
    /** A ping's answer showed lost commits: the session ends. */
    private readonly fail: (error: Error) => void,
  ) {}

  /** The receiver answered a batch: the next ping waits DURABLE_POLL_MS from now. */
  answerCame(): void {
    this.lastAnswerAt = Date.now();
  }

  /** Asks DURABLE_POLL_MS after the last answer, if something answered is not durable then. */
  pollLater(): void {
    if (this.timer !== undefined || this.polling || this.stopped || !this.acknowledger.awaitingDurable) return;
    const wait = Math.max(1, this.lastAnswerAt + DURABLE_POLL_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (Date.now() - this.lastAnswerAt < DURABLE_POLL_MS) return this.pollLater();
      void this.poll();
    }, wait);
  }

  /** No more pings (the session stops or ended); an answer to one on the wire is ignored. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * At a stop: asks until what was answered is durable (the WAL writer flushes within
   * wal_writer_delay), for a short while (STOP_SETTLE_MS at most, within `timeoutMs`), so that
   * the next start does not send it again.
   */
  async settleBeforeStop(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + Math.min(timeoutMs, STOP_SETTLE_MS);
    while (this.acknowledger.awaitingDurable && Date.now() < deadline) {
      const answeredBefore = this.acknowledger.answeredWatermark;
      const answer = await this.receiver.askDurable(AbortSignal.any([this.signal, AbortSignal.timeout(Math.max(1, deadline - Date.now()))]));
      try {
        if (answer !== undefined) this.acknowledger.learned(answer, answeredBefore);
      } catch {
        return; // lost commits: the next start streams them again from the slot
      }
      if (this.acknowledger.awaitingDurable) await sleep(DURABLE_POLL_MS, this.signal).catch(() => undefined);
    }
  }

  private async poll(): Promise<void> {
    if (this.stopped || !this.acknowledger.awaitingDurable) return;
    this.polling = true;
    const answeredBefore = this.acknowledger.answeredWatermark;
    try {
      const answer = await this.receiver.askDurable(this.signal);
      if (answer !== undefined && !this.stopped) {
        try {
          this.acknowledger.learned(answer, answeredBefore);
        } catch (error) {
          this.fail(error as Error);
        }
      }
    } finally {
      this.polling = false;
      this.lastAnswerAt = Date.now();
    }
    this.pollLater();
  }
}
