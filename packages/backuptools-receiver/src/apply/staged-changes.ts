import { sql, type Transaction } from 'kysely';
import { type ChangeEvent, formatLsn, type Lsn } from '@storx-backup/protocol';

type Trx = Transaction<Record<string, never>>;

/** Staged changes read back per page when a transaction completes: memory is bounded by this, not by the transaction. */
export const STAGED_PAGE_EVENTS = 5_000;

/**
 * The changes of a split transaction whose last chunk has not arrived, kept on the backup in
 * the receiver's state schema until it has. Written in the transaction that moves the watermark
 * over them (so a crash between chunks loses and repeats nothing), and moved into the target
 * tables in the transaction that applies the last chunk: a reader of the backup never sees part
 * of a source transaction.
 */
export async function stageChanges(trx: Trx, stateSchema: string, sourceId: string, slot: string, commitLsn: Lsn, events: readonly ChangeEvent[]): Promise<void> {
  if (events.length === 0) return;
  await sql`
    INSERT INTO ${sql.id(stateSchema, 'staged_changes')} (source_id, slot, commit_lsn, seq, event)
    SELECT ${sourceId}, ${slot}, ${formatLsn(commitLsn)}::pg_lsn, s.seq, s.event
    FROM unnest(${events.map((event) => event.seq)}::bigint[], ${events.map((event) => JSON.stringify(event))}::text[]) AS s(seq, event)`.execute(trx);
}

/** The staged changes of one transaction in change order, a page at a time. */
export async function* stagedChanges(trx: Trx, stateSchema: string, sourceId: string, slot: string, commitLsn: Lsn, pageEvents = STAGED_PAGE_EVENTS): AsyncGenerator<ChangeEvent[]> {
  let after = -1;
  for (;;) {
    const { rows } = await sql<{ seq: string; event: string }>`
      SELECT seq::text, event FROM ${sql.id(stateSchema, 'staged_changes')}
      WHERE source_id = ${sourceId} AND slot = ${slot} AND commit_lsn = ${formatLsn(commitLsn)}::pg_lsn AND seq > ${after}
      ORDER BY seq LIMIT ${pageEvents}`.execute(trx);
    if (rows.length === 0) return;
    after = Number(rows.at(-1)!.seq);
    yield rows.map((row) => JSON.parse(row.event) as ChangeEvent);
    if (rows.length < pageEvents) return;
  }
}

/**
 * Deletes the staged changes of (source, slot) except those of `keep`: once a transaction is
 * applied, and whenever the stream moves past a transaction that was never completed (a
 * resnapshot, a slot recreated), what was staged for it must not linger or be applied later.
 */
export async function discardStaged(trx: Trx, stateSchema: string, sourceId: string, slot: string, keep: Lsn | undefined): Promise<void> {
  await sql`
    DELETE FROM ${sql.id(stateSchema, 'staged_changes')}
    WHERE source_id = ${sourceId} AND slot = ${slot} ${keep === undefined ? sql`` : sql`AND commit_lsn <> ${formatLsn(keep)}::pg_lsn`}`.execute(trx);
}
