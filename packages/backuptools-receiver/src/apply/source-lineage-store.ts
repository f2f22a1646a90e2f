import { sql, type Transaction } from 'kysely';
import { type Batch, judgeLineage, type Lsn, maxLsn, type RecordedOrigin } from '@storx-backup/protocol';
import type { BackupDb } from '../db.js';
import { ReceiverError } from '../errors.js';
import type { CopyState } from './table-copy.js';
import type { Watermark } from './watermark.js';

type Trx = Transaction<Record<string, never>>;

/** The origin recorded with the watermark of (source, slot); undefined before the first batch that carried one. */
export async function readRecordedOrigin(db: BackupDb | Trx, stateSchema: string, sourceId: string, slot: string): Promise<RecordedOrigin | undefined> {
  const { rows } = await sql<OriginColumns>`
    SELECT source_system_id, source_timeline::text FROM ${sql.id(stateSchema, 'watermarks')}
    WHERE source_id = ${sourceId} AND slot = ${slot}`.execute(db);
  return rows[0] === undefined ? undefined : recordedOrigin(rows[0]);
}

/** The origin columns of a watermark row, as read (the timeline as text). */
export interface OriginColumns {
  source_system_id: string | null;
  source_timeline: string | null;
}

export function recordedOrigin(row: OriginColumns): RecordedOrigin | undefined {
  return row.source_system_id == null || row.source_timeline == null ? undefined : { systemId: row.source_system_id, timeline: Number(row.source_timeline) };
}

/**
 * Refuses the batch (nothing applied: the caller's transaction rolls back) unless its origin
 * continues the history the backup was applied from; records the origin otherwise. The caller
 * holds the watermark row lock, and `recorded` is what that locking read returned, so the check
 * and the rows it guards are one decision.
 */
export async function checkAndRecordOrigin(trx: Trx, stateSchema: string, batch: Batch, watermark: Watermark, copies: ReadonlyMap<string, CopyState>, recorded: RecordedOrigin | undefined): Promise<void> {
  const verdict = judgeLineage(recorded, appliedPosition(watermark, copies), batch.origin);
  if (verdict.kind === 'refused') throw new ReceiverError(verdict.code, `source ${batch.source_id}, slot ${batch.slot}: ${verdict.reason}; nothing was applied`);
  if (verdict.kind === 'same' || batch.origin === undefined) return;
  await sql`
    UPDATE ${sql.id(stateSchema, 'watermarks')} SET source_system_id = ${batch.origin.system_id}, source_timeline = ${batch.origin.timeline}
    WHERE source_id = ${batch.source_id} AND slot = ${batch.slot}`.execute(trx);
}

/** The furthest WAL position whose effects the backup holds: the watermark, or a table copy's image. */
function appliedPosition(watermark: Watermark, copies: ReadonlyMap<string, CopyState>): Lsn | undefined {
  let applied = watermark.commitLsn;
  for (const copy of copies.values()) applied = applied === undefined ? copy.imageLsn : maxLsn(applied, copy.imageLsn);
  return applied;
}
