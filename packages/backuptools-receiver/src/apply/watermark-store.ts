import { sql, type Transaction } from 'kysely';
import { type Lsn, parseLsn, type RecordedOrigin } from '@storx-backup/protocol';
import type { BackupDb } from '../db.js';
import type { Watermark } from './watermark.js';
import { type OriginColumns, recordedOrigin } from './source-lineage-store.js';

type Trx = Transaction<Record<string, never>>;

/**
 * Locks and reads the watermark row of (source, slot), creating it on first use. The row lock
 * serializes every batch of one source, across connections and across receiver processes:
 * a second copy of a batch waits here, then sees the first one's watermark and is a duplicate.
 * The row is created only when the locking read finds none (the first batch of a source): one
 * round trip per batch instead of two, which a stream of small transactions pays per request.
 * Two first batches at once both insert; the second waits for the first one's row and
 * inserts nothing, and its read (a new snapshot) then finds and locks that row. The same read
 * returns the source origin recorded on the row (see source-lineage-store.ts): no second query.
 * A stream batch sends the same locking read with its BEGIN (batch-frame.ts) and comes here
 * only for a source's first batch.
 */
export async function lockWatermark(trx: Trx, stateSchema: string, sourceId: string, slot: string): Promise<{ watermark: Watermark; origin: RecordedOrigin | undefined }> {
  const table = sql.id(stateSchema, 'watermarks');
  const lockedRow = async (): Promise<(WatermarkColumns & OriginColumns) | undefined> => {
    const { rows } = await sql<WatermarkColumns & OriginColumns>`
      SELECT commit_lsn::text, chunk_index, chunk_last, event_seq, source_system_id, source_timeline::text FROM ${table}
      WHERE source_id = ${sourceId} AND slot = ${slot} FOR UPDATE`.execute(trx);
    return rows[0];
  };
  let row = await lockedRow();
  if (row === undefined) {
    await sql`INSERT INTO ${table} (source_id, slot) VALUES (${sourceId}, ${slot}) ON CONFLICT DO NOTHING`.execute(trx);
    row = await lockedRow();
  }
  return { watermark: toWatermark(row!), origin: recordedOrigin(row!) };
}

/** Reads the watermark of (source, slot) without locking it; undefined when there is none. */
export async function readWatermark(db: BackupDb, stateSchema: string, sourceId: string, slot: string): Promise<Watermark | undefined> {
  const { rows } = await sql<WatermarkColumns>`
    SELECT commit_lsn::text, chunk_index, chunk_last, event_seq FROM ${sql.id(stateSchema, 'watermarks')}
    WHERE source_id = ${sourceId} AND slot = ${slot}`.execute(db);
  const row = rows[0];
  return row?.commit_lsn == null ? undefined : toWatermark(row);
}

export interface WatermarkColumns {
  commit_lsn: string | null;
  chunk_index: number;
  chunk_last: boolean;
  event_seq: number | null;
}

export function toWatermark(row: WatermarkColumns): Watermark {
  return {
    commitLsn: row.commit_lsn === null ? undefined : parseLsn(row.commit_lsn),
    chunkIndex: row.chunk_index,
    chunkLast: row.chunk_last,
    eventSeq: row.event_seq ?? undefined,
  };
}

export interface WatermarkRow {
  sourceId: string;
  slot: string;
  commitLsn: Lsn | undefined;
  chunkIndex: number;
  chunkLast: boolean;
  appliedAt: Date | null;
  sourceCommittedAt: Date | null;
  batchesApplied: bigint;
  eventsApplied: bigint;
}

/** Every source's watermark, for `status` and metrics. */
export async function readWatermarks(db: BackupDb, stateSchema: string): Promise<WatermarkRow[]> {
  const { rows } = await sql<{
    source_id: string;
    slot: string;
    commit_lsn: string | null;
    chunk_index: number;
    chunk_last: boolean;
    applied_at: Date | null;
    source_committed_at: Date | null;
    batches_applied: string;
    events_applied: string;
  }>`SELECT source_id, slot, commit_lsn::text, chunk_index, chunk_last, applied_at, source_committed_at, batches_applied::text, events_applied::text
     FROM ${sql.id(stateSchema, 'watermarks')} ORDER BY source_id, slot`.execute(db);
  return rows.map((row) => ({
    sourceId: row.source_id,
    slot: row.slot,
    commitLsn: row.commit_lsn === null ? undefined : parseLsn(row.commit_lsn),
    chunkIndex: row.chunk_index,
    chunkLast: row.chunk_last,
    appliedAt: row.applied_at,
    sourceCommittedAt: row.source_committed_at,
    batchesApplied: BigInt(row.batches_applied),
    eventsApplied: BigInt(row.events_applied),
  }));
}
