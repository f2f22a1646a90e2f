import { formatLsn, isLsnText, type Lsn, parseLsn } from './lsn.js';

/**
 * How far a receiver has applied one (source, slot): its watermark, as its answers carry it
 * (`watermark`, `durable`: `{ "commit_lsn", "chunk_index", "chunk_last", "event_seq" }`).
 */
export interface ReceiverPosition {
  /** Commit LSN of the last transaction applied (or being applied, chunk by chunk); undefined before the first. */
  commitLsn: Lsn | undefined;
  chunkIndex: number;
  /** False while a split transaction is only partly applied. */
  chunkLast: boolean;
  /** `seq` of the last change applied from the transaction at `commitLsn`. */
  eventSeq: number | undefined;
}

/**
 * Orders two positions of one (source, slot) by what they hold applied: the commit LSN, then a
 * complete transaction after any part of it, then (both incomplete) the last change's `seq`.
 * Chunk indexes do not count: a restarted sender may split the same transaction elsewhere.
 */
export function compareReceiverPositions(a: ReceiverPosition | undefined, b: ReceiverPosition | undefined): -1 | 0 | 1 {
  const aLsn = a?.commitLsn;
  const bLsn = b?.commitLsn;
  if (aLsn === undefined || bLsn === undefined) return aLsn === bLsn ? 0 : aLsn === undefined ? -1 : 1;
  if (aLsn !== bLsn) return aLsn < bLsn ? -1 : 1;
  if (a!.chunkLast || b!.chunkLast) return a!.chunkLast === b!.chunkLast ? 0 : a!.chunkLast ? 1 : -1;
  const aSeq = a!.eventSeq ?? -1;
  const bSeq = b!.eventSeq ?? -1;
  return aSeq === bSeq ? 0 : aSeq < bSeq ? -1 : 1;
}

/** The later of two positions (either may be missing). */
export function laterReceiverPosition<T extends ReceiverPosition>(a: T | undefined, b: T | undefined): T | undefined {
  return compareReceiverPositions(a, b) >= 0 ? (a ?? b) : b;
}

/** The JSON of a receiver position; `null` commit_lsn and event_seq when there is none. */
export function receiverPositionToJson(position: ReceiverPosition): { commit_lsn: string | null; chunk_index: number; chunk_last: boolean; event_seq: number | null } {
  const { commitLsn, chunkIndex, chunkLast, eventSeq } = position;
  return { commit_lsn: commitLsn === undefined ? null : formatLsn(commitLsn), chunk_index: chunkIndex, chunk_last: chunkLast, event_seq: eventSeq ?? null };
}

/**
 * Reads a position from an answer; undefined when the member is absent, null or malformed (an
 * answer without it, or from a receiver older than `event_seq`, whose chunk progress then
 * counts as none). The answer is not authenticated: the sender uses it only to hold its slot
 * back or to start again from the slot, never to skip anything.
 */
export function readReceiverPosition(value: unknown): ReceiverPosition | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { commit_lsn: commit, chunk_index: index, chunk_last: last, event_seq: seq } = value as Record<string, unknown>;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || typeof last !== 'boolean') return undefined;
  if (commit !== null && !(typeof commit === 'string' && isLsnText(commit))) return undefined;
  const eventSeq = typeof seq === 'number' && Number.isInteger(seq) && seq >= 0 ? seq : undefined;
  return { commitLsn: commit === null ? undefined : parseLsn(commit), chunkIndex: index, chunkLast: last, eventSeq };
}

