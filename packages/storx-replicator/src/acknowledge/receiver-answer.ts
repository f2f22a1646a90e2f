import { readReceiverPosition, type ReceiverPosition } from '@storx-backup/protocol';

/** What a receiver's 2xx answer (or ping answer) says about how far it applied one (source, slot). */
export interface ReceiverAnswer {
  /** What it has committed (its `watermark`); undefined when the answer has none (seed-v1). */
  watermark: ReceiverPosition | undefined;
  /**
   * What of it is on disk (its `durable`): a position, undefined for `null` (nothing known
   * durable yet), or `'with-answer'` when the answer has no such member: a receiver that commits
   * durably before it answers (older than the member, or seed-v1), so the answer is durable.
   */
  durable: ReceiverPosition | undefined | 'with-answer';
}

const NOTHING_APPLIED: ReceiverPosition = Object.freeze({ commitLsn: undefined, chunkIndex: 0, chunkLast: false, eventSeq: undefined });

/** Reads an answer's body; a body that is not a JSON object says nothing beyond its 2xx. */
export function readReceiverAnswer(body: string): ReceiverAnswer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body) as unknown;
  } catch {
    return { watermark: undefined, durable: 'with-answer' };
  }
  if (typeof parsed !== 'object' || parsed === null) return { watermark: undefined, durable: 'with-answer' };
  const answer = parsed as Record<string, unknown>;
  return {
    // `null`: the receiver holds nothing of this (source, slot) (a ping's answer).
    watermark: answer['watermark'] === null ? NOTHING_APPLIED : readReceiverPosition(answer['watermark']),
    durable: Object.hasOwn(answer, 'durable') ? readReceiverPosition(answer['durable']) : 'with-answer',
  };
}
