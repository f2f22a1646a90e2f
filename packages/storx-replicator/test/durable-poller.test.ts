// When the session pings the receiver for its durable position (fake receiver, fake clock).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Lsn, ReceiverPosition } from '@storx-backup/protocol';
import { Acknowledger, AppliedBatchesLostError } from '../src/acknowledge/acknowledger.js';
import { DURABLE_POLL_MS, DurablePoller, STOP_SETTLE_MS } from '../src/acknowledge/durable-poller.js';
import type { ReceiverAnswer } from '../src/acknowledge/receiver-answer.js';

const lsn = (n: number): Lsn => BigInt(n) as Lsn;
const at = (commit: number): ReceiverPosition => ({ commitLsn: lsn(commit), chunkIndex: 0, chunkLast: true, eventSeq: undefined });
const batch = (end: number) => ({ ackLsn: lsn(end), lastCommitTimeMs: 0 });

/** A receiver whose pings answer `next` (a function of the ping's number), each after `delayMs`. */
function receiver(next: (ping: number) => ReceiverAnswer | undefined, delayMs = 0) {
  const asked: number[] = [];
  return {
    asked,
    askDurable: vi.fn(async (): Promise<ReceiverAnswer | undefined> => {
      asked.push(Date.now());
      const answer = next(asked.length);
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      return answer;
    }),
  };
}

const notDurable: ReceiverAnswer = { watermark: at(100), durable: undefined };
const durable: ReceiverAnswer = { watermark: at(100), durable: at(100) };

function setUp(ping: (count: number) => ReceiverAnswer | undefined, delayMs = 0) {
  const confirmed: bigint[] = [];
  const acknowledger = new Acknowledger(lsn(0), (position) => confirmed.push(position));
  const asker = receiver(ping, delayMs);
  const failures: Error[] = [];
  const abort = new AbortController();
  const poller = new DurablePoller(acknowledger, asker, abort.signal, (error) => failures.push(error));
  /** What the session does with each answered batch. */
  const answered = (end: number, answer: ReceiverAnswer): void => {
    poller.answerCame();
    acknowledger.answered(batch(end), answer);
    poller.pollLater();
  };
  return { acknowledger, asker, poller, failures, confirmed, answered, abort };
}

describe('DurablePoller', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('never pings while everything answered is durable', async () => {
    const { asker, answered, acknowledger } = setUp(() => durable);
    answered(110, { watermark: at(100), durable: 'with-answer' });
    expect(acknowledger.awaitingDurable).toBe(false);
    await vi.advanceTimersByTimeAsync(10 * DURABLE_POLL_MS);
    expect(asker.asked).toEqual([]);
  });

  it('pings DURABLE_POLL_MS after the last answer, again while not durable, and no more once durable', async () => {
    const start = Date.now();
    const notYet: ReceiverAnswer = { watermark: at(200), durable: at(100) };
    const { asker, answered, confirmed, acknowledger } = setUp((ping) => (ping < 3 ? notYet : { watermark: at(200), durable: at(200) }));
    answered(110, notDurable);
    await vi.advanceTimersByTimeAsync(DURABLE_POLL_MS / 2);
    answered(210, { watermark: at(200), durable: undefined }); // a later answer puts the ping off
    await vi.advanceTimersByTimeAsync(DURABLE_POLL_MS - 1);
    expect(asker.asked).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(asker.asked).toEqual([start + DURABLE_POLL_MS * 1.5]);
    expect(confirmed).toEqual([110n]);
    await vi.advanceTimersByTimeAsync(10 * DURABLE_POLL_MS);
    // Each ping counts as an answer: the next waits DURABLE_POLL_MS after it.
    expect(asker.asked).toEqual([1, 2, 3].map((count) => start + DURABLE_POLL_MS * (0.5 + count)));
    expect(confirmed).toEqual([110n, 210n]);
    expect(acknowledger.awaitingDurable).toBe(false);
  });

  it('stops pinging once what was answered is durable', async () => {
    const { asker, answered, confirmed, acknowledger } = setUp((ping) => (ping < 2 ? notDurable : durable));
    answered(110, notDurable);
    await vi.advanceTimersByTimeAsync(10 * DURABLE_POLL_MS);
    expect(asker.asked).toHaveLength(2);
    expect(confirmed).toEqual([110n]);
    expect(acknowledger.awaitingDurable).toBe(false);
  });

  it('pings no more after stop, and ignores the answer to a ping on the wire', async () => {
    const { asker, answered, poller, confirmed } = setUp(() => durable, 50);
    answered(110, notDurable);
    await vi.advanceTimersByTimeAsync(DURABLE_POLL_MS + 10);
    expect(asker.asked).toHaveLength(1);
    poller.stop();
    await vi.advanceTimersByTimeAsync(10 * DURABLE_POLL_MS);
    expect(asker.asked).toHaveLength(1);
    expect(confirmed).toEqual([]);

    const second = setUp(() => durable);
    second.answered(110, notDurable);
    second.poller.stop();
    await vi.advanceTimersByTimeAsync(10 * DURABLE_POLL_MS);
    expect(second.asker.asked).toEqual([]);
  });

  it('ends the session when a ping shows the backup lost commits it had answered', async () => {
    const { answered, failures, asker } = setUp(() => ({ watermark: at(50), durable: at(50) }));
    answered(110, notDurable);
    await vi.advanceTimersByTimeAsync(DURABLE_POLL_MS);
    expect(asker.asked).toHaveLength(1);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toBeInstanceOf(AppliedBatchesLostError);
  });

  it('settleBeforeStop asks until what was answered is durable, DURABLE_POLL_MS apart', async () => {
    const start = Date.now();
    const { answered, poller, asker, confirmed } = setUp((ping) => (ping < 3 ? notDurable : durable));
    answered(110, notDurable);
    poller.stop();
    const settled = poller.settleBeforeStop(10_000);
    await vi.advanceTimersByTimeAsync(10 * DURABLE_POLL_MS);
    await settled;
    expect(asker.asked).toEqual([start, start + DURABLE_POLL_MS, start + 2 * DURABLE_POLL_MS]);
    expect(confirmed).toEqual([110n]);
  });

  it('settleBeforeStop gives up at its deadline: the shutdown timeout, at most STOP_SETTLE_MS', async () => {
    for (const [timeoutMs, limit] of [
      [500, 500],
      [60_000, STOP_SETTLE_MS],
    ] as const) {
      const start = Date.now();
      const { answered, poller, asker } = setUp(() => notDurable);
      answered(110, notDurable);
      poller.stop();
      let done = false;
      const settled = poller.settleBeforeStop(timeoutMs).then(() => (done = true));
      await vi.advanceTimersByTimeAsync(limit - 1);
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(DURABLE_POLL_MS);
      await settled;
      expect(asker.asked.length).toBe(Math.ceil(limit / DURABLE_POLL_MS));
      expect(asker.asked.every((time) => time < start + limit)).toBe(true);
    }
  });

  it('settleBeforeStop asks nothing when everything answered is durable', async () => {
    const { poller, asker } = setUp(() => durable);
    await poller.settleBeforeStop(10_000);
    expect(asker.asked).toEqual([]);
  });
});
