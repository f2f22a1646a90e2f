import pg from 'pg';
import { formatLsn, type RecordedOrigin } from '@storx-backup/protocol';
import type { BackupTransaction } from '../db.js';
import { ReceiverError } from '../errors.js';
import type { CopyState } from './table-copy.js';
import { type CopyColumns, copyStatesOf, readCopyStates } from './table-copy-store.js';
import { lockWatermark, toWatermark, type WatermarkColumns } from './watermark-store.js';
import { type OriginColumns, recordedOrigin } from './source-lineage-store.js';
import type { Watermark } from './watermark.js';

/**
 * A stream batch's statements on the state of its (source, slot), sent in the round trips of its
 * transaction's BEGIN and COMMIT (db.ts `TransactionFrame`) instead of in their own: a batch of
 * one small source transaction pays BEGIN, the lock, the rows' statement and COMMIT, not six.
 * A text of several statements has no parameters (the simple query protocol): the values are
 * literals escaped by pg's escapeLiteral, the names quoted by escapeIdentifier (as `sql.id`).
 */

/**
 * Sent with BEGIN: the locking read of the watermark row, then the table copies. Two statements,
 * not one with a subquery: in READ COMMITTED each takes its own snapshot, so the copies are read
 * once the lock is held, and see every copy chunk committed while this waited for it (a copy
 * chunk writes its state under that lock). A subquery would read the snapshot from before the wait.
 */
export function lockStatements(stateSchema: string, sourceId: string, slot: string): string {
  const where = `source_id = ${literal(sourceId)} AND slot = ${literal(slot)}`;
  return [
    `SELECT commit_lsn::text, chunk_index, chunk_last, event_seq, source_system_id, source_timeline::text FROM ${table(stateSchema, 'watermarks')} WHERE ${where} FOR UPDATE`,
    `SELECT schema_name, table_name, image_lsn::text, next_chunk, done, rows_copied::text FROM ${table(stateSchema, 'table_copies')} WHERE ${where}`,
  ].join('; ');
}

/**
 * The watermark, its origin and the table copies that `lockStatements` read. A source's first
 * batch finds no row (and locked nothing): lockWatermark creates it and locks it, then the
 * copies are read again under that lock.
 */
export async function lockedState(
  trx: BackupTransaction,
  opened: readonly pg.QueryResult[],
  stateSchema: string,
  sourceId: string,
  slot: string,
): Promise<{ watermark: Watermark; origin: RecordedOrigin | undefined; copies: Map<string, CopyState> }> {
  const row = opened[0]?.rows[0] as (WatermarkColumns & OriginColumns) | undefined;
  if (row === undefined || opened[1] === undefined) {
    const { watermark, origin } = await lockWatermark(trx, stateSchema, sourceId, slot);
    return { watermark, origin, copies: await readCopyStates(trx, stateSchema, sourceId, slot) };
  }
  return { watermark: toWatermark(row), origin: recordedOrigin(row), copies: copyStatesOf(opened[1].rows as CopyColumns[]) };
}

/** Sent with COMMIT: moves the watermark over the batch (the rows applied in the same transaction). */
export function advanceStatement(stateSchema: string, sourceId: string, slot: string, watermark: Watermark, events: number, sourceCommittedAt: string | undefined): string {
  const lsn = watermark.commitLsn === undefined ? null : formatLsn(watermark.commitLsn);
  return `UPDATE ${table(stateSchema, 'watermarks')}
    SET commit_lsn = ${literal(lsn)}::pg_lsn, chunk_index = ${literal(watermark.chunkIndex)}, chunk_last = ${literal(watermark.chunkLast)},
        event_seq = ${literal(watermark.eventSeq ?? null)}::integer,
        applied_at = clock_timestamp(), source_committed_at = coalesce(${literal(sourceCommittedAt ?? null)}::timestamptz, source_committed_at),
        batches_applied = batches_applied + 1, events_applied = events_applied + ${literal(events)}
    WHERE source_id = ${literal(sourceId)} AND slot = ${literal(slot)}`;
}

function table(schema: string, name: string): string {
  return `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}`;
}

function literal(value: string | number | boolean | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
    return `(${value})`;
  }
  // A parameter with a NUL is refused by PostgreSQL (22021); in a text it would end the text.
  if (value.includes('\0')) throw new ReceiverError('APPLY_REJECTED', 'backup database refused the batch: a text value holds a NUL byte');
  return pg.escapeLiteral(value);
}
