// The session's outgoing queue: backpressure, answers in queue order, the delivery loop (fakes).
import { describe, expect, it, vi } from 'vitest';
import type { Lsn } from '@storx-backup/protocol';
import type { ReceiverAnswer } from '../src/acknowledge/receiver-answer.js';
import type { OutgoingBatch } from '../src/batch/outgoing-batch.js';
import { DeliveryQueue } from '../src/deliver/delivery-queue.js';

const outgoing = (commit: number, events = 1): OutgoingBatch => ({ commitLsn: BigInt(commit) as Lsn, events: { count: events } }) as unknown as OutgoingBatch;
const answerFor = (commit: number): ReceiverAnswer => ({ watermark: { commitLsn: BigInt(commit) as Lsn, chunkIndex: 0, chunkLast: true, eventSeq: undefined }, durable: 'with-answer' });
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Pending {
  resolve: (answer: ReceiverAnswer) => void;
  reject: (error: Error) => void;
  promise: Promise<ReceiverAnswer>;
}

/** A window whose deliveries are answered when the test says so. */
function fakeWindow(maxBatches: number) {
  const pending = new Map<OutgoingBatch, Pending>();
  const of = (batch: OutgoingBatch): Pending => {
    let entry = pending.get(batch);
    if (entry === undefined) {
      let resolve!: Pending['resolve'];
      let reject!: Pending['reject'];
      const promise = new Promise<ReceiverAnswer>((yes, no) => {
        resolve = yes;
        reject = no;
      });
      promise.catch(() => undefined);
      entry = { resolve, reject, promise };
      pending.set(batch, entry);
    }
    return entry;
  };
  const delivered: OutgoingBatch[] = [];
  return {
    maxBatches,
    fill: vi.fn(),
    deliver: (batch: OutgoingBatch): Promise<ReceiverAnswer> => {
      delivered.push(batch);
      return of(batch).promise;
    },
    delivered,
    answer: (batch: OutgoingBatch) => of(batch).resolve(answerFor(Number(batch.commitLsn))),
    refuse: (batch: OutgoingBatch, error: Error) => of(batch).reject(error),
  };
}

function setUp(maxBatches: number, options: { batcherEmpty?: boolean } = {}) {
  const window = fakeWindow(maxBatches);
  const flow: string[] = [];
  const answered: { commit: number; answer: ReceiverAnswer | undefined }[] = [];
  const failures: Error[] = [];
  const batcher = { isEmpty: options.batcherEmpty ?? true, flush: vi.fn() };
  const abort = new AbortController();
  const stopRetrying = new AbortController();
  const queue = new DeliveryQueue({
    window,
    batcher,
    stream: { pause: () => flow.push('pause'), resume: () => flow.push('resume') },
    answered: (batch, answer) => answered.push({ commit: Number(batch.commitLsn), answer }),
    // As the session does: it ends (else the loop would deliver the failed head again).
    fail: (error) => {
      failures.push(error);
      abort.abort(error);
    },
    signal: abort.signal,
    stopRetrying: stopRetrying.signal,
  });
  return { queue, window, flow, answered, failures, batcher, abort, stopRetrying };
}

describe('DeliveryQueue', () => {
  it('pauses the stream with one batch more than the window holds, resumes once the queue is down to the window', async () => {
    const { queue, window, flow } = setUp(2);
    const [a, b, c, d] = [10, 20, 30, 40].map((commit) => outgoing(commit));
    queue.enqueue(a!);
    queue.enqueue(b!);
    expect(flow).toEqual([]);
    queue.enqueue(c!);
    expect(flow).toEqual(['pause']);
    expect(queue.isPaused).toBe(true);
    queue.enqueue(d!);
    expect(flow).toEqual(['pause']);
    window.answer(a!);
    await settle();
    expect(queue.length).toBe(3);
    expect(flow).toEqual(['pause']);
    window.answer(b!);
    await settle();
    expect(queue.length).toBe(2);
    expect(flow).toEqual(['pause', 'resume']);
    expect(queue.isPaused).toBe(false);
    window.answer(c!);
    window.answer(d!);
    await settle();
    expect(flow).toEqual(['pause', 'resume']);
    expect(queue.isIdle).toBe(true);
  });

  it('one at a time: a second batch waiting pauses the stream', () => {
    const { queue, flow } = setUp(1);
    queue.enqueue(outgoing(10));
    expect(flow).toEqual([]);
    queue.enqueue(outgoing(20));
    expect(flow).toEqual(['pause']);
  });

  it('reports answers in queue order, whatever order the receiver answers in; a batch with nothing to send takes its place', async () => {
    const { queue, window, answered } = setUp(4);
    const [a, empty, b] = [outgoing(10), outgoing(20, 0), outgoing(30)];
    queue.enqueue(a);
    queue.enqueue(empty);
    queue.enqueue(b);
    window.answer(b);
    await settle();
    expect(answered).toEqual([]);
    window.answer(a);
    await settle();
    expect(answered).toEqual([
      { commit: 10, answer: answerFor(10) },
      { commit: 20, answer: undefined },
      { commit: 30, answer: answerFor(30) },
    ]);
    expect(window.delivered).toEqual([a, b]);
  });

  it('restarts the loop for a batch enqueued after it finished but before it cleared itself (nothing awaited)', async () => {
    const { queue, answered } = setUp(1);
    queue.enqueue(outgoing(10, 0)); // the loop runs to its end at once
    queue.enqueue(outgoing(20, 0)); // its `finally` has not run yet
    await settle();
    expect(answered.map((entry) => entry.commit)).toEqual([10, 20]);
    expect(queue.isIdle).toBe(true);
  });

  it('flushes the batcher when an answer leaves room in the window', async () => {
    const { queue, window, batcher } = setUp(1, { batcherEmpty: false });
    const a = outgoing(10);
    queue.enqueue(a);
    expect(batcher.flush).not.toHaveBeenCalled();
    window.answer(a);
    await settle();
    expect(batcher.flush).toHaveBeenCalledTimes(1);
  });

  it('a failed delivery ends the session, unless it is ending already', async () => {
    const { queue, window, failures } = setUp(1);
    const a = outgoing(10);
    queue.enqueue(a);
    window.refuse(a, new Error('blocked'));
    await settle();
    expect(failures.map((error) => error.message)).toEqual(['blocked']);

    const ending = setUp(1);
    const b = outgoing(20);
    ending.queue.enqueue(b);
    ending.abort.abort(new Error('session ends'));
    ending.window.refuse(b, new Error('aborted'));
    await settle();
    expect(ending.failures).toEqual([]);
  });

  it('at stop keeps only the head, takes no more batches and resumes nothing', async () => {
    const { queue, window, flow, answered } = setUp(1);
    const [a, b] = [outgoing(10), outgoing(20)];
    queue.enqueue(a);
    queue.enqueue(b);
    queue.stop();
    queue.enqueue(outgoing(30));
    expect(queue.length).toBe(1);
    window.answer(a);
    await queue.delivering;
    expect(answered.map((entry) => entry.commit)).toEqual([10]);
    expect(flow).toEqual(['pause']);
    expect(queue.isIdle).toBe(true);
  });
});
