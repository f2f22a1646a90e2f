import { type ChangeEvent, formatLsn, type Lsn, parseLsn, receiverPositionToJson } from '@storx-backup/protocol';

/** The position of the last batch applied for one (source, slot). */
export interface Watermark {
  /** Commit LSN of the last transaction applied (or being applied, chunk by chunk); undefined until the first batch. */
  commitLsn: Lsn | undefined;
  chunkIndex: number;
  /** False while a split transaction is only partly applied. */
  chunkLast: boolean;
  /** `seq` of the last change applied from the transaction at `commitLsn`. */
  eventSeq: number | undefined;
}

export interface BatchPosition {
  commitLsn: Lsn;
  chunkIndex: number;
  chunkLast: boolean;
  /** `seq` of the last change of the chunk before this one, as its sender split the transaction (absent from older senders). */
  afterSeq?: number | undefined;
}

/** `next`: apply `events` (those not applied yet, in order). */
export type Placement = { kind: 'next'; events: ChangeEvent[] } | { kind: 'duplicate' } | { kind: 'gap'; reason: string };

/**
 * Where a batch stands against the watermark, and which of its events are new.
 *
 * Batch boundaries are not stable across a sender restart: after a crash between the receiver's
 * commit and the slot acknowledgement, the same transactions come again, possibly grouped or
 * chunked differently. So the watermark is checked per event, not per batch: an event is
 * applied only if its transaction committed after the watermark's, or belongs to the
 * watermark's incomplete transaction and comes after the last change applied from it (by `seq`:
 * a change's LSN is not unique, a COPY writes many rows in one WAL record). LSNs compare as
 * 64-bit numbers.
 *
 * Anything that would leave a hole is a gap and must not be applied: a chunk of a new
 * transaction other than its first, a chunk of the incomplete transaction that starts after a
 * change never applied (by its `after_seq`; from an older sender without it: beyond the next
 * index and not overlapping what was applied), or a later transaction while the incomplete one
 * is not being finished first.
 */
export function placeBatch(watermark: Watermark, batch: BatchPosition, events: readonly ChangeEvent[]): Placement {
  const applied = watermark.commitLsn;
  const fresh = events.filter((event) => isNew(watermark, event));
  if (applied === undefined) {
    return batch.chunkIndex === 0 ? { kind: 'next', events: fresh } : gap(`${describe(batch)} arrived but chunk 0 of that transaction was never applied`);
  }
  if (batch.commitLsn < applied || (batch.commitLsn === applied && watermark.chunkLast)) return { kind: 'duplicate' };
  if (batch.commitLsn === applied) {
    // The incomplete transaction continues; a restarted sender may have re-chunked it (its
    // chunk indexes then start again at 0), so the events decide what is new.
    if (fresh.length === 0 && !batch.chunkLast) return { kind: 'duplicate' };
    // A chunk that says where it starts continues what was applied if nothing between the last
    // change applied and its start is missing, whatever its index: a sender restarted with
    // another max-batch-bytes or table list splits the transaction at other places.
    if (batch.afterSeq !== undefined && watermark.eventSeq !== undefined) {
      if (batch.afterSeq > watermark.eventSeq) {
        return gap(`${describe(batch)} follows the change with seq ${batch.afterSeq} but changes of that transaction were applied only up to seq ${watermark.eventSeq}`);
      }
      return { kind: 'next', events: fresh };
    }
    // Without it (an older sender), a chunk beyond the next one skipped its predecessors, unless
    // it also carries changes already applied: then it overlaps what was applied and leaves no
    // hole (a sender restarted with a smaller max-batch-bytes numbers its chunks differently).
    const overlaps = events.some((event) => parseLsn(event.commit_lsn) === applied && !isNew(watermark, event));
    if (batch.chunkIndex > watermark.chunkIndex + 1 && !overlaps) {
      return gap(`${describe(batch)} arrived but only chunk ${watermark.chunkIndex} of that transaction was applied (chunks ${watermark.chunkIndex + 1}-${batch.chunkIndex - 1} are missing)`);
    }
    return { kind: 'next', events: fresh };
  }
  if (!watermark.chunkLast) {
    // A later transaction may come only after (or together with) the rest of the incomplete one.
    const continues = fresh.length > 0 && parseLsn(fresh[0]!.commit_lsn) === applied;
    if (!continues) return gap(`the transaction at ${formatLsn(applied)} is incomplete (chunk ${watermark.chunkIndex} applied, more expected) but ${describe(batch)} arrived`);
  }
  return batch.chunkIndex === 0 ? { kind: 'next', events: fresh } : gap(`${describe(batch)} arrived but chunk 0 of that transaction was never applied`);
}

function isNew(watermark: Watermark, event: ChangeEvent): boolean {
  if (watermark.commitLsn === undefined) return true;
  const commit = parseLsn(event.commit_lsn);
  if (commit !== watermark.commitLsn) return commit > watermark.commitLsn;
  return !watermark.chunkLast && (watermark.eventSeq === undefined || event.seq > watermark.eventSeq);
}

/** The watermark after applying `events` of `batch`. */
export function advancedWatermark(previous: Watermark, batch: BatchPosition, events: readonly ChangeEvent[]): Watermark {
  const last = events.at(-1);
  const eventSeq = last !== undefined && parseLsn(last.commit_lsn) === batch.commitLsn ? last.seq : previous.commitLsn === batch.commitLsn ? previous.eventSeq : undefined;
  return { commitLsn: batch.commitLsn, chunkIndex: batch.chunkIndex, chunkLast: batch.chunkLast, eventSeq };
}

/** The watermark as answers carry it (`watermark`, `durable`): also its `event_seq`, which orders chunks of one transaction. */
export function watermarkToJson(watermark: Watermark): ReturnType<typeof receiverPositionToJson> {
  return receiverPositionToJson(watermark);
}

export function batchPosition(batch: { commit_lsn: string; chunk: { index: number; last: boolean; after_seq?: number | undefined } }): BatchPosition {
  return { commitLsn: parseLsn(batch.commit_lsn), chunkIndex: batch.chunk.index, chunkLast: batch.chunk.last, afterSeq: batch.chunk.after_seq };
}

function describe(batch: BatchPosition): string {
  return `chunk ${batch.chunkIndex} of the transaction at ${formatLsn(batch.commitLsn)}`;
}

function gap(reason: string): Placement {
  return { kind: 'gap', reason };
}

/** The batch a batch says it follows (its `follows` member). */
export interface Predecessor {
  commitLsn: Lsn;
  chunkIndex: number;
  chunkLast: boolean;
}

export function predecessorOf(follows: { commit_lsn: string; chunk_index: number; chunk_last: boolean }): Predecessor {
  return { commitLsn: parseLsn(follows.commit_lsn), chunkIndex: follows.chunk_index, chunkLast: follows.chunk_last };
}

/**
 * True once the watermark has reached the batch a batch follows, so that applying it leaves no
 * hole. Batches of one source are applied in order, so a watermark at or past the predecessor
 * means the predecessor and everything before it are in. Inside one split transaction (the
 * predecessor a chunk that does not end it) the changes count, as for `placeBatch`: those up to
 * the chunk's `after_seq` must be applied (by index only from a sender without `after_seq`).
 */
export function predecessorApplied(watermark: Watermark | undefined, predecessor: Predecessor, afterSeq: number | undefined): boolean {
  const applied = watermark?.commitLsn;
  if (watermark === undefined || applied === undefined) return false;
  if (applied !== predecessor.commitLsn) return applied > predecessor.commitLsn;
  if (watermark.chunkLast) return true;
  if (predecessor.chunkLast) return false;
  if (afterSeq !== undefined && watermark.eventSeq !== undefined) return watermark.eventSeq >= afterSeq;
  return watermark.chunkIndex >= predecessor.chunkIndex;
}
