import { sql, type Transaction } from 'kysely';
import { type ChangeEvent, formatLsn, type Lsn, type Relation } from '@storx-backup/protocol';

type Trx = Transaction<Record<string, never>>;

/** What one staged chunk holds: its new changes (in order) and the relations they need. */
export interface StagedChunk {
  relations: Relation[];
  events: ChangeEvent[];
}

/**
 * The changes of a split transaction whose last chunk has not arrived, kept on the backup in the
 * receiver's state schema, one row per received chunk (only the changes it added), until the
 * last chunk arrives. Written in the transaction that moves the watermark over them, so a crash
 * between chunks loses and repeats nothing; moved into the tables in the transaction that applies
 * the last chunk, so a reader of the backup never sees part of a source transaction.
 *
 * A row per chunk, not per change: memory while moving is one chunk at a time, which is what
 * the receiver already accepted as one request body; and staging costs one write of the chunk's
 * text instead of one indexed row per change.
 */
export async function stageChunk(trx: Trx, stateSchema: string, sourceId: string, slot: string, commitLsn: Lsn, chunk: StagedChunk): Promise<void> {
  const first = chunk.events[0];
  if (first === undefined) return;
  const used = new Set(chunk.events.map((event) => tableName(event.schema, event.table)));
  const relations = chunk.relations.filter((relation) => used.has(tableName(relation.schema, relation.table)));
  await sql`
    INSERT INTO ${sql.id(stateSchema, 'staged_chunks')} (source_id, slot, commit_lsn, first_seq, last_seq, tables, chunk)
    VALUES (${sourceId}, ${slot}, ${formatLsn(commitLsn)}::pg_lsn, ${first.seq}, ${chunk.events.at(-1)!.seq},
            ${[...used]}::text[], ${JSON.stringify({ relations, events: chunk.events })})`.execute(trx);
}

/** How `tables` names a source table: unambiguous whatever the names hold. */
function tableName(schema: string, table: string): string {
  return JSON.stringify([schema, table]);
}

/** The staged chunks of one transaction, one at a time, in change order. */
export async function* stagedChunks(trx: Trx, stateSchema: string, sourceId: string, slot: string, commitLsn: Lsn): AsyncGenerator<StagedChunk> {
  // Keyset paging on the table's own bigint column; the output names differ from the column
  // names on purpose (ORDER BY a name that is also an output column sorts by the output).
  let after = -1;
  for (;;) {
    const { rows } = await sql<{ position: string; body: string }>`
      SELECT s.first_seq::text AS position, s.chunk AS body FROM ${sql.id(stateSchema, 'staged_chunks')} AS s
      WHERE s.source_id = ${sourceId} AND s.slot = ${slot} AND s.commit_lsn = ${formatLsn(commitLsn)}::pg_lsn AND s.first_seq > ${after}::bigint
      ORDER BY s.first_seq LIMIT 1`.execute(trx);
    const row = rows[0];
    if (row === undefined) return;
    after = Number(row.position);
    yield JSON.parse(row.body) as StagedChunk;
  }
}

/** Deletes every staged chunk of (source, slot): its transaction was applied, or none is open. */
export async function discardStaged(trx: Trx, stateSchema: string, sourceId: string, slot: string): Promise<void> {
  await sql`DELETE FROM ${sql.id(stateSchema, 'staged_chunks')} WHERE source_id = ${sourceId} AND slot = ${slot}`.execute(trx);
}

/**
 * A copy of a table (initial snapshot after a resnapshot, `snapshot`, `resync`) starting at
 * `imageLsn` holds every change of that table that committed before it: those changes are
 * dropped from the source's staged chunks, whichever slot staged them (a resnapshot streams from
 * a new slot and the old one's incomplete transaction would otherwise stay staged forever), and
 * a chunk left with no change is deleted. On the copy's own slot this only does early what the
 * move would do anyway (it skips changes a copy holds).
 */
export async function supersedeStaged(trx: Trx, stateSchema: string, sourceId: string, schema: string, table: string, imageLsn: Lsn): Promise<void> {
  const staged = sql.id(stateSchema, 'staged_chunks');
  const name = tableName(schema, table);
  const where = sql`source_id = ${sourceId} AND commit_lsn < ${formatLsn(imageLsn)}::pg_lsn`;
  await sql`
    UPDATE ${staged} SET tables = array_remove(tables, ${name}),
      chunk = jsonb_set(chunk::jsonb, '{events}', (
        SELECT coalesce(jsonb_agg(x.e ORDER BY x.n), '[]'::jsonb) FROM jsonb_array_elements(chunk::jsonb -> 'events') WITH ORDINALITY AS x(e, n)
        WHERE NOT (x.e ->> 'schema' = ${schema} AND x.e ->> 'table' = ${table})))::text
    WHERE ${where} AND ${name} = ANY (tables)`.execute(trx);
  await sql`DELETE FROM ${staged} WHERE ${where} AND cardinality(tables) = 0`.execute(trx);
}
