import type { RangeDigest } from '@storx-backup/protocol';

/** Indexes of the ranges whose count or hash differ between the source and the backup. */
export function differingRanges(source: readonly RangeDigest[], backup: readonly RangeDigest[]): number[] {
  if (source.length !== backup.length) throw new Error(`the receiver answered ${backup.length} ranges for ${source.length}`);
  const differing: number[] = [];
  source.forEach((digest, index) => {
    const other = backup[index]!;
    if (digest.count !== other.count || digest.hash !== other.hash) differing.push(index);
  });
  return differing;
}

/**
 * Requests of at most `maxRanges` ranges and `maxRows` rows (ranges × rows per range): the
 * receiver refuses more in one request.
 */
export function requestSlices<T>(ranges: readonly T[], maxRowsPerRange: number, limits: { maxRanges: number; maxRows: number }): T[][] {
  const perRequest = Math.max(1, Math.min(limits.maxRanges, Math.floor(limits.maxRows / maxRowsPerRange)));
  const slices: T[][] = [];
  for (let at = 0; at < ranges.length; at += perRequest) slices.push(ranges.slice(at, at + perRequest));
  return slices;
}
