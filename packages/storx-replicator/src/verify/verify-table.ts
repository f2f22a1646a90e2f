import type pg from 'pg';
import { compareLsn, type DigestTable, formatLsn, type KeyRange, type Lsn, MAX_VERIFY_RANGES, MAX_VERIFY_ROWS_PER_REQUEST, parseLsn, type VerifyResult } from '@storx-backup/protocol';
import { sleep } from '../deliver/sleep.js';
import { ReplicatorError } from '../errors.js';
import { readSlot } from '../source/slot.js';
import { differingRanges, requestSlices } from './range-comparison.js';
import type { ReceiverDigests } from './receiver-digests.js';
import { describeTable, sourceRanges, splitRanges } from './source-digests.js';
import type { SourceTable } from '../source/source-tables.js';

/** A differing range is cut into this many pieces per re-check: a change in flight touches a small piece rarely, and a real difference is narrowed down to its keys. */
const SPLIT_PARTS = 16;
/** More differing ranges than this are re-checked whole. */
const MAX_RANGES_TO_SPLIT = 64;
/** How often the slot's position is read while waiting for the backup to catch up. */
const CATCH_UP_POLL_MS = 25;

export interface VerifyTableOptions {
  slotName: string;
  /** Keys per range (the source's pass cuts the table every this many keys). */
  rangeRows: number;
  /** How often a differing range is hashed again on both sides before it is reported. */
  rechecks: number;
  /** How long to wait for the backup to reach the source's position. */
  catchUpTimeoutMs: number;
}

export interface RangeDifference {
  /** The keys the source had first and last in the range (text per key column; null: none, the table is empty on the source). */
  first_key: string[] | null;
  last_key: string[] | null;
  /** The range compared: from ≤ key < to (null: unbounded). */
  from: string[] | null;
  to: string[] | null;
  source_rows: number;
  /** Capped: a range that has more than `rangeRows` rows on the backup reads as rangeRows + 1. */
  backup_rows: number;
  rechecks: number;
}

export interface TableVerdict {
  name: string;
  schema: string;
  table: string;
  status: 'equal' | 'different' | 'missing_on_backup' | 'columns_missing' | 'not_verified';
  key: string[];
  ranges: number;
  source_rows: number;
  backup_rows: number | null;
  /** Source WAL position of the first pass. */
  source_lsn: string;
  differences: RangeDifference[];
  missing_columns: string[];
  message: string | null;
  /** What to run when the table differs. */
  fix: string | null;
  source_seconds: number;
  backup_seconds: number;
}

/**
 * Verifies one table: the source's pass at position L, the backup's digests of the same ranges
 * once it has every change before L; then, up to `rechecks` times, each range that differed is
 * cut into smaller pieces on the source at a new position L' and compared with the backup once
 * it has caught up with L'. A change in flight makes a range differ for one comparison, not for
 * every one; a real difference stays and is narrowed down to the keys that differ.
 */
export async function verifyTable(source: pg.Client, receiver: ReceiverDigests, sourceTable: SourceTable, options: VerifyTableOptions): Promise<TableVerdict> {
  const table = await describeTable(source, sourceTable);
  const started = performance.now();
  const { lsn, ranges } = await sourceRanges(source, table, options.rangeRows);
  const sourceSeconds = (performance.now() - started) / 1000;
  const sourceRows = ranges.reduce((sum, range) => sum + range.digest.count, 0);
  const verdict: TableVerdict = {
    name: sourceTable.name,
    schema: table.schema,
    table: table.table,
    status: 'equal',
    key: [...table.key],
    ranges: ranges.length,
    source_rows: sourceRows,
    backup_rows: null,
    source_lsn: formatLsn(lsn),
    differences: [],
    missing_columns: [],
    message: null,
    fix: null,
    source_seconds: sourceSeconds,
    backup_seconds: 0,
  };
  // A table without a key is one range: the receiver must be allowed to read all of it (and one more row).
  const maxRowsPerRange = table.key.length === 0 ? sourceRows + 1 : options.rangeRows;
  if (maxRowsPerRange > MAX_VERIFY_ROWS_PER_REQUEST) {
    return { ...verdict, status: 'not_verified', message: `${sourceRows} rows and no primary key: verify compares a table without a key as one range, at most ${MAX_VERIFY_ROWS_PER_REQUEST - 1} rows` };
  }

  const timing = { seconds: 0 };
  const backup = await backupDigests(source, receiver, table, ranges, maxRowsPerRange, lsn, options, timing);
  verdict.backup_seconds = timing.seconds;
  if (backup.table !== 'ok') {
    const missing = backup.table === 'missing';
    return {
      ...verdict,
      status: missing ? 'missing_on_backup' : 'columns_missing',
      missing_columns: backup.missing_columns,
      message: missing ? `the backup has no table ${table.table} (in the schema the receiver maps ${table.schema} to)` : `the backup table lacks columns: ${backup.missing_columns.join(', ')}`,
      fix: `storx-replicator resync ${sourceTable.name}`,
    };
  }
  verdict.backup_rows = backup.ranges.reduce((sum, range) => sum + range.count, 0);

  let pending = differingRanges(ranges.map((range) => range.digest), backup.ranges).map((index) => ({ range: ranges[index]!, backup: backup.ranges[index]!, rechecks: 0 }));
  for (let recheck = 1; recheck <= options.rechecks && pending.length > 0; recheck++) {
    // Many differing ranges (a table far behind or emptied): re-check them whole, or the pieces multiply.
    const parts = pending.length > MAX_RANGES_TO_SPLIT ? 1 : SPLIT_PARTS;
    // At once, in a snapshot taken right after the backup's: the backup at its watermark W was
    // at or past the source's L; the source is now at L' ≥ W. A range whose backup digest at W
    // equals its source digest at L' is equal (nothing changed it between W and L', the few
    // milliseconds of the answer); else its pieces are compared once the backup has reached L'.
    const again = await splitRanges(source, table, pending.map((entry) => entry.range), parts);
    const unsettled = again.ranges.filter((split, at) => split.whole.digest.count !== pending[at]!.backup.count || split.whole.digest.hash !== pending[at]!.backup.hash);
    if (unsettled.length === 0) {
      pending = [];
      break;
    }
    const pieces = unsettled.flatMap((split) => split.pieces);
    const backupAgain = await backupDigests(source, receiver, table, pieces, maxRowsPerRange, again.lsn, options);
    if (backupAgain.table !== 'ok') break;
    pending = differingRanges(pieces.map((piece) => piece.digest), backupAgain.ranges).map((index) => ({ range: pieces[index]!, backup: backupAgain.ranges[index]!, rechecks: recheck }));
  }
  if (pending.length > 0 && options.rechecks > 0) {
    // The last pieces against the source once more, as above: a change in flight there is not a difference.
    const last = await splitRanges(source, table, pending.map((entry) => entry.range), 1);
    pending = pending.filter((entry, at) => last.ranges[at]!.whole.digest.count !== entry.backup.count || last.ranges[at]!.whole.digest.hash !== entry.backup.hash);
  }
  if (pending.length === 0) return verdict;
  return {
    ...verdict,
    status: 'different',
    differences: pending.map(({ range, backup: digest, rechecks }) => ({
      first_key: range.firstKey,
      last_key: range.lastKey,
      from: range.from === null ? null : [...range.from],
      to: range.to === null ? null : [...range.to],
      source_rows: range.digest.count,
      backup_rows: digest.count,
      rechecks,
    })),
    fix: `storx-replicator resync ${sourceTable.name}`,
  };
}

/**
 * The backup's digests of `ranges`, computed once the backup has every change the source had at
 * `lsn`: the slot confirmed at or past it (the replicator confirms only what the receiver has
 * committed), or the receiver's watermark, read in the snapshot its digests come from, at or
 * past it.
 */
async function backupDigests(
  source: pg.Client,
  receiver: ReceiverDigests,
  table: DigestTable,
  ranges: readonly KeyRange[],
  maxRowsPerRange: number,
  lsn: Lsn,
  options: VerifyTableOptions,
  timing: { seconds: number } = { seconds: 0 },
): Promise<VerifyResult> {
  const deadline = Date.now() + options.catchUpTimeoutMs;
  let confirmed: Lsn | undefined;
  for (;;) {
    const slot = await readSlot(source, options.slotName);
    if (slot === undefined) throw new ReplicatorError('VERIFY_NOT_POSSIBLE', `replication slot ${options.slotName} does not exist: verify compares a running replication (start "storx-replicator run")`);
    confirmed = slot.confirmedFlushLsn;
    const reached = confirmed !== undefined && compareLsn(confirmed, lsn) >= 0;
    if (reached || Date.now() >= deadline) {
      const started = performance.now();
      const result = await receiverDigests(receiver, table, ranges, maxRowsPerRange);
      timing.seconds += (performance.now() - started) / 1000;
      if (reached || (result.watermark_lsn !== null && compareLsn(parseLsn(result.watermark_lsn), lsn) >= 0)) return result;
      throw new ReplicatorError('VERIFY_NOT_POSSIBLE', `the backup did not reach the source position ${formatLsn(lsn)} within ${options.catchUpTimeoutMs / 1000} s (slot confirmed at ${confirmed === undefined ? 'none' : formatLsn(confirmed)}, receiver watermark ${result.watermark_lsn ?? 'none'})`, {
        fix: ['verify compares while "storx-replicator run" streams: start it, or wait until "storx-replicator status" shows it caught up and unblocked, then verify again'],
      });
    }
    await sleep(CATCH_UP_POLL_MS);
  }
}

async function receiverDigests(receiver: ReceiverDigests, table: DigestTable, ranges: readonly KeyRange[], maxRowsPerRange: number): Promise<VerifyResult> {
  const slices = requestSlices(ranges, maxRowsPerRange, { maxRanges: MAX_VERIFY_RANGES, maxRows: MAX_VERIFY_ROWS_PER_REQUEST });
  let combined: VerifyResult | undefined;
  for (const slice of slices) {
    const result = await receiver.digests(table, slice, maxRowsPerRange);
    if (result.table !== 'ok') return result;
    // The oldest watermark of the slices: each was read in its own snapshot.
    if (combined === undefined) combined = result;
    else combined = { ...combined, watermark_lsn: olderLsn(combined.watermark_lsn, result.watermark_lsn), ranges: [...combined.ranges, ...result.ranges] };
  }
  return combined!;
}

function olderLsn(a: string | null, b: string | null): string | null {
  if (a === null || b === null) return null;
  return compareLsn(parseLsn(a), parseLsn(b)) <= 0 ? a : b;
}

