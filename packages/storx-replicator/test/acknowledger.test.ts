// What the slot is acknowledged to, from the receiver's answers and durable reports (pure logic, fakes).
import { describe, expect, it } from 'vitest';
import type { Lsn, ReceiverPosition } from '@storx-backup/protocol';
import { Acknowledger, AppliedBatchesLostError } from '../src/acknowledge/acknowledger.js';
import { readReceiverAnswer } from '../src/acknowledge/receiver-answer.js';

const lsn = (n: number): Lsn => BigInt(n) as Lsn;
const at = (commit: number, chunkLast = true, eventSeq?: number): ReceiverPosition => ({ commitLsn: lsn(commit), chunkIndex: 0, chunkLast, eventSeq });
const batch = (end: number | undefined) => ({ ackLsn: end === undefined ? undefined : lsn(end), lastCommitTimeMs: 0 });

function acknowledger(from = 0): { ack: Acknowledger; confirmed: bigint[] } {
  const confirmed: bigint[] = [];
  return { ack: new Acknowledger(lsn(from), (position) => confirmed.push(position)), confirmed };
}

describe('Acknowledger', () => {
  it('confirms an answered batch only once the receiver reports it durable, in queue order', () => {
    const { ack, confirmed } = acknowledger();
    ack.answered(batch(110), { watermark: at(100), durable: undefined });
    ack.answered(batch(210), { watermark: at(200), durable: undefined });
    expect(confirmed).toEqual([]);
    expect(ack.awaitingDurable).toBe(true);
    ack.answered(batch(310), { watermark: at(300), durable: at(100) });
    expect(confirmed).toEqual([110n]);
    ack.learned({ watermark: at(300), durable: at(300) }, ack.answeredWatermark);
    expect(confirmed).toEqual([110n, 310n]);
    expect(ack.awaitingDurable).toBe(false);
    expect(ack.confirmed).toBe(310n);
  });

  it('treats a 2xx without `durable` (a receiver that commits durably) as durable, with everything before it', () => {
    const { ack, confirmed } = acknowledger();
    ack.answered(batch(110), { watermark: at(100), durable: undefined });
    ack.answered(batch(210), readReceiverAnswer('{"status":"applied","watermark":{"commit_lsn":"0/C8","chunk_index":0,"chunk_last":true}}'));
    expect(confirmed).toEqual([210n]);
    ack.answered(batch(250), readReceiverAnswer('{"status":"applied"}'));
    expect(confirmed).toEqual([210n, 250n]);
  });

  it('a chunk that does not end its transaction moves nothing; a filtered-out batch waits for those before it', () => {
    const { ack, confirmed } = acknowledger();
    ack.answered(batch(undefined), { watermark: at(100, false, 4), durable: undefined });
    ack.answered(batch(undefined), { watermark: at(100, false, 9), durable: at(100, false, 4) });
    expect(confirmed).toEqual([]);
    ack.answered(batch(130), { watermark: at(100), durable: at(100, false, 9) });
    ack.answered(batch(150), undefined); // nothing to send: behind the batch before it
    expect(confirmed).toEqual([]);
    ack.learned({ watermark: at(100), durable: at(100) }, ack.answeredWatermark);
    expect(confirmed).toEqual([150n]);
    ack.answered(batch(170), undefined);
    expect(confirmed).toEqual([150n, 170n]);
  });

  it('moves an idle slot only when everything answered is durable', () => {
    const { ack, confirmed } = acknowledger(50);
    expect(ack.advanceIdle(lsn(60))).toBe(true);
    ack.answered(batch(110), { watermark: at(100), durable: undefined });
    expect(ack.advanceIdle(lsn(500))).toBe(false);
    ack.learned({ watermark: at(100), durable: at(100) }, ack.answeredWatermark);
    expect(ack.advanceIdle(lsn(500))).toBe(true);
    expect(ack.advanceIdle(lsn(400))).toBe(false);
    expect(confirmed).toEqual([60n, 110n, 500n]);
  });

  it('sees commits the backup lost: a watermark behind one answered before', () => {
    const { ack, confirmed } = acknowledger();
    ack.answered(batch(110), { watermark: at(100), durable: at(100) });
    ack.answered(batch(210), { watermark: at(200), durable: at(100) });
    const before = ack.answeredWatermark;
    // A ping that read the watermark before a later answer's commit is not a loss.
    ack.answered(batch(310), { watermark: at(300), durable: at(100) });
    expect(() => ack.learned({ watermark: at(200), durable: at(100) }, before)).not.toThrow();
    expect(() => ack.learned({ watermark: at(100), durable: at(100) }, ack.answeredWatermark)).toThrow(AppliedBatchesLostError);
    expect(() => ack.learned(readReceiverAnswer('{"status":"ping","watermark":null,"durable":null}'), ack.answeredWatermark)).toThrow(/lost commits/);
    expect(() => ack.answered(batch(410), { watermark: at(150), durable: at(100) })).toThrow(AppliedBatchesLostError);
    // Never past what was durable.
    expect(confirmed).toEqual([110n]);
  });
});
