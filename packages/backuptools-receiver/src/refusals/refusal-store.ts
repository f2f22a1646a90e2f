import { sql } from 'kysely';
import type { BackupDb } from '../db.js';

/** A batch the receiver refused for good, as recorded for (source, slot). */
export interface Refusal {
  sourceId: string;
  slot: string;
  code: string;
  httpStatus: number;
  message: string;
  /** The refused batch's position ("16/B374D848"); null when it could not be read. */
  commitLsn: string | null;
  chunkIndex: number | null;
  /** When this refusal (same code, same batch) was first answered: "blocked since". */
  firstRefusedAt: Date;
  lastRefusedAt: Date;
  attempts: number;
}

export type RefusalInput = Pick<Refusal, 'sourceId' | 'slot' | 'code' | 'httpStatus' | 'message' | 'commitLsn' | 'chunkIndex'>;

/**
 * Records a refusal on its own statement (autocommit), never in the apply transaction that was
 * just rolled back. The same batch refused with the same code again keeps its first time.
 */
export async function recordRefusal(db: BackupDb, stateSchema: string, refusal: RefusalInput): Promise<void> {
  const table = sql.id(stateSchema, 'refusals');
  await sql`
    INSERT INTO ${table} AS r (source_id, slot, code, http_status, message, commit_lsn, chunk_index)
    VALUES (${refusal.sourceId}, ${refusal.slot}, ${refusal.code}, ${refusal.httpStatus}, ${refusal.message}, ${refusal.commitLsn}::pg_lsn, ${refusal.chunkIndex}::integer)
    ON CONFLICT (source_id, slot) DO UPDATE SET
      first_refused_at = CASE WHEN (r.code, r.commit_lsn, r.chunk_index) IS NOT DISTINCT FROM (excluded.code, excluded.commit_lsn, excluded.chunk_index)
                              THEN r.first_refused_at ELSE excluded.first_refused_at END,
      attempts = CASE WHEN (r.code, r.commit_lsn, r.chunk_index) IS NOT DISTINCT FROM (excluded.code, excluded.commit_lsn, excluded.chunk_index)
                      THEN r.attempts + 1 ELSE 1 END,
      code = excluded.code, http_status = excluded.http_status, message = excluded.message,
      commit_lsn = excluded.commit_lsn, chunk_index = excluded.chunk_index, last_refused_at = excluded.last_refused_at`.execute(db);
}

/** Forgets the refusal of (source, slot): a batch of it applied, so it is no longer blocked. */
export async function clearRefusal(db: BackupDb, stateSchema: string, sourceId: string, slot: string): Promise<void> {
  await sql`DELETE FROM ${sql.id(stateSchema, 'refusals')} WHERE source_id = ${sourceId} AND slot = ${slot}`.execute(db);
}

/**
 * The refusals still in force, optionally of one (source, slot). A refusal older than the
 * source's last apply is stale (another receiver process applied since, and only the one that
 * recorded it deletes it): it does not count.
 */
export async function readRefusals(db: BackupDb, stateSchema: string, only?: { sourceId: string; slot: string }): Promise<Refusal[]> {
  const filter = only === undefined ? sql`` : sql`AND r.source_id = ${only.sourceId} AND r.slot = ${only.slot}`;
  const { rows } = await sql<{
    source_id: string;
    slot: string;
    code: string;
    http_status: number;
    message: string;
    commit_lsn: string | null;
    chunk_index: number | null;
    first_refused_at: Date;
    last_refused_at: Date;
    attempts: string;
  }>`
    SELECT r.source_id, r.slot, r.code, r.http_status, r.message, r.commit_lsn::text, r.chunk_index, r.first_refused_at, r.last_refused_at, r.attempts::text
    FROM ${sql.id(stateSchema, 'refusals')} r
    LEFT JOIN ${sql.id(stateSchema, 'watermarks')} w ON w.source_id = r.source_id AND w.slot = r.slot
    WHERE (w.applied_at IS NULL OR w.applied_at < r.last_refused_at) ${filter}
    ORDER BY r.source_id, r.slot`.execute(db);
  return rows.map((row) => ({
    sourceId: row.source_id,
    slot: row.slot,
    code: row.code,
    httpStatus: row.http_status,
    message: row.message,
    commitLsn: row.commit_lsn,
    chunkIndex: row.chunk_index,
    firstRefusedAt: row.first_refused_at,
    lastRefusedAt: row.last_refused_at,
    attempts: Number(row.attempts),
  }));
}

/** The wire and `status --json` form of a refusal (snake_case, ISO times, with its fix). */
export function refusalToJson(refusal: Refusal, fix: string): Record<string, unknown> {
  return {
    code: refusal.code,
    http_status: refusal.httpStatus,
    message: refusal.message,
    fix,
    commit_lsn: refusal.commitLsn,
    chunk_index: refusal.chunkIndex,
    since: refusal.firstRefusedAt.toISOString(),
    last_refused_at: refusal.lastRefusedAt.toISOString(),
    attempts: refusal.attempts,
  };
}
