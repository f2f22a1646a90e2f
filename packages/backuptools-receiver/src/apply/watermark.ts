import { formatLsn, type Lsn, parseLsn } from '@storx-backup/protocol';

/** The position of the last batch applied for one (source, slot). */
export interface Watermark {
  /** Undefined until the first batch. */
  commitLsn: Lsn | undefined;
  chunkIndex: number;
  chunkLast: boolean;
}

export interface BatchPosition {
  commitLsn: Lsn;
  chunkIndex: number;
  chunkLast: boolean;
}

export type Placement = { kind: 'next' } | { kind: 'duplicate' } | { kind: 'gap'; reason: string };

/**
 * Where a batch stands against the watermark. Positions order by commit LSN (as a 64-bit
 * number), then chunk index; a watermark whose chunk was the last covers its whole transaction.
 * Anything that would leave a hole (a chunk whose predecessor was not applied, a new
 * transaction while the previous one is incomplete) is a gap and must not be applied.
 */
export function placeBatch(watermark: Watermark, batch: BatchPosition): Placement {
  const { commitLsn: applied } = watermark;
  if (applied === undefined || batch.commitLsn > applied) {
    if (applied !== undefined && !watermark.chunkLast) {
      return gap(`the transaction at ${formatLsn(applied)} is incomplete (chunk ${watermark.chunkIndex} applied, more expected) but ${describe(batch)} arrived`);
    }
    return batch.chunkIndex === 0 ? { kind: 'next' } : gap(`${describe(batch)} arrived but chunk 0 of that transaction was never applied`);
  }
  if (batch.commitLsn < applied || watermark.chunkLast || batch.chunkIndex <= watermark.chunkIndex) return { kind: 'duplicate' };
  return batch.chunkIndex === watermark.chunkIndex + 1
    ? { kind: 'next' }
    : gap(`${describe(batch)} arrived but the last chunk applied is ${watermark.chunkIndex}`);
}

/** The watermark after applying `batch`. */
export function advancedWatermark(batch: BatchPosition): Watermark {
  return { commitLsn: batch.commitLsn, chunkIndex: batch.chunkIndex, chunkLast: batch.chunkLast };
}

export function watermarkToJson(watermark: Watermark): { commit_lsn: string | null; chunk_index: number; chunk_last: boolean } {
  return { commit_lsn: watermark.commitLsn === undefined ? null : formatLsn(watermark.commitLsn), chunk_index: watermark.chunkIndex, chunk_last: watermark.chunkLast };
}

export function batchPosition(batch: { commit_lsn: string; chunk: { index: number; last: boolean } }): BatchPosition {
  return { commitLsn: parseLsn(batch.commit_lsn), chunkIndex: batch.chunk.index, chunkLast: batch.chunk.last };
}

function describe(batch: BatchPosition): string {
  return `chunk ${batch.chunkIndex} of the transaction at ${formatLsn(batch.commitLsn)}`;
}

function gap(reason: string): Placement {
  return { kind: 'gap', reason };
}
