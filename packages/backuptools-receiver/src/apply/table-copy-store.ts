import { sql, type Transaction } from 'kysely';
import { formatLsn, parseLsn, relationKey } from '@storx-backup/protocol';
import type { BackupDb } from '../db.js';
import type { CopyState } from './table-copy.js';

type Trx = Transaction<Record<string, never>>;

export interface CopyColumns {
  schema_name: string;
  table_name: string;
  image_lsn: string;
  next_chunk: number;
  done: boolean;
  rows_copied: string;
}

function toState(row: CopyColumns): CopyState {
  return { schema: row.schema_name, table: row.table_name, imageLsn: parseLsn(row.image_lsn), nextChunk: row.next_chunk, done: row.done, rowsCopied: BigInt(row.rows_copied) };
}

/** Every table copy of (source, slot), by relation key. Callers hold the watermark lock. */
export async function readCopyStates(db: BackupDb | Trx, stateSchema: string, sourceId: string, slot: string): Promise<Map<string, CopyState>> {
  const { rows } = await sql<CopyColumns>`
    SELECT schema_name, table_name, image_lsn::text, next_chunk, done, rows_copied::text FROM ${sql.id(stateSchema, 'table_copies')}
    WHERE source_id = ${sourceId} AND slot = ${slot}`.execute(db);
  return copyStatesOf(rows);
}

/** Copy rows as read, by relation key. */
export function copyStatesOf(rows: readonly CopyColumns[]): Map<string, CopyState> {
  return new Map(rows.map((row) => [relationKey(row.schema_name, row.table_name), toState(row)]));
}

/** One table's copy, read without a lock: for a chunk waiting for the one before it (the applier checks again under the lock). */
export async function readCopyState(db: BackupDb, stateSchema: string, sourceId: string, slot: string, schema: string, table: string): Promise<CopyState | undefined> {
  const { rows } = await sql<CopyColumns>`
    SELECT schema_name, table_name, image_lsn::text, next_chunk, done, rows_copied::text FROM ${sql.id(stateSchema, 'table_copies')}
    WHERE source_id = ${sourceId} AND slot = ${slot} AND schema_name = ${schema} AND table_name = ${table}`.execute(db);
  return rows[0] === undefined ? undefined : toState(rows[0]);
}

/** Records a chunk applied, in the transaction that applied its rows. */
export async function saveCopyState(trx: Trx, stateSchema: string, sourceId: string, slot: string, state: CopyState): Promise<void> {
  await sql`
    INSERT INTO ${sql.id(stateSchema, 'table_copies')} AS c (source_id, slot, schema_name, table_name, image_lsn, next_chunk, done, rows_copied, finished_at)
    VALUES (${sourceId}, ${slot}, ${state.schema}, ${state.table}, ${formatLsn(state.imageLsn)}::pg_lsn, ${state.nextChunk}, ${state.done}, ${state.rowsCopied.toString()}::bigint,
            CASE WHEN ${state.done} THEN clock_timestamp() END)
    ON CONFLICT (source_id, slot, schema_name, table_name) DO UPDATE SET
      image_lsn = EXCLUDED.image_lsn, next_chunk = EXCLUDED.next_chunk, done = EXCLUDED.done, rows_copied = EXCLUDED.rows_copied, finished_at = EXCLUDED.finished_at,
      started_at = CASE WHEN c.image_lsn = EXCLUDED.image_lsn THEN c.started_at ELSE clock_timestamp() END`.execute(trx);
}

/** The copies as the ping answer reports them to the sender. */
export function copyStatesToJson(states: Iterable<CopyState>): { schema: string; table: string; image_lsn: string; done: boolean; rows_copied: string }[] {
  return [...states].map((state) => ({ schema: state.schema, table: state.table, image_lsn: formatLsn(state.imageLsn), done: state.done, rows_copied: state.rowsCopied.toString() }));
}
