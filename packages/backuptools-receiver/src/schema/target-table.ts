import { sql } from 'kysely';
import type { Executor } from './executor.js';

/** A backup table as its catalog describes it; column types are the backup's own `format_type`. */
export interface TargetTable {
  schema: string;
  table: string;
  /** Column name → type, in column order. */
  columns: ReadonlyMap<string, string>;
  /**
   * Primary-key columns in key order, else the columns of a unique index on NOT NULL columns;
   * empty when none. A unique index on a nullable column is no key: a row holding a NULL in it
   * is matched by nothing (`=` and ON CONFLICT alike), so it could be neither updated nor
   * deleted by key; such a table is matched by whole rows, as one without an index.
   */
  key: readonly string[];
  /**
   * A unique index or exclusion constraint besides the key. PostgreSQL checks it row by row as a
   * statement writes, so a statement must write rows in an order the source had: an upsert run
   * then never holds a key twice (folding one would write a row's last values at its first
   * place) and an update run (`UPDATE ... FROM`, rows in join order) holds one row (runs.ts).
   */
  uniqueBesidesKey: boolean;
  /**
   * No foreign key on either side, no user trigger, no rule, no inheritance: no statement on
   * another table can see or depend on this one's intermediate state, so its changes may be
   * applied apart from other tables' (grouped by table) within one transaction. Read with the
   * table and cached with it: one added later on the backup counts after the receiver restarts
   * or the table's cache is refreshed (a failed batch refreshes it).
   */
  independent: boolean;
  /**
   * A plain or partitioned table without rules: `COPY FROM` puts rows into it exactly as
   * `INSERT` does (COPY fires the same triggers and checks the same constraints, but ignores
   * rules, and a view takes no COPY). Read and cached as `independent` is.
   */
  copyable: boolean;
}

/** Reads a table from the backup catalog, or undefined when it does not exist. */
export async function readTargetTable(db: Executor, schema: string, table: string): Promise<TargetTable | undefined> {
  const { rows: found } = await sql<{ oid: number | null }>`SELECT to_regclass(format('%I.%I', ${schema}::text, ${table}::text))::oid AS oid`.execute(db);
  const oid = found[0]?.oid;
  if (oid === null || oid === undefined) return undefined;
  const { rows: columns } = await sql<{ name: string; type: string }>`
    SELECT attname AS name, format_type(atttypid, atttypmod) AS type
    FROM pg_attribute WHERE attrelid = ${oid} AND attnum > 0 AND NOT attisdropped ORDER BY attnum`.execute(db);
  // The primary key first; else the first unique, non-partial index on plain NOT NULL columns
  // (what ON CONFLICT can infer). Expression indexes have attnum 0 and are skipped.
  const { rows: keys } = await sql<{ index: string; columns: string[] }>`
    SELECT i.indexrelid::int8 AS index, array_agg(a.attname::text ORDER BY k.ord) AS columns
    FROM pg_index i
    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = ${oid} AND i.indisunique AND i.indpred IS NULL AND i.indisvalid
      AND NOT (0 = ANY (i.indkey::int2[]))
    GROUP BY i.indexrelid, i.indisprimary
    HAVING bool_and(a.attnotnull)
    ORDER BY i.indisprimary DESC, i.indexrelid
    LIMIT 1`.execute(db);
  const keyIndex = keys[0]?.index ?? null;
  const { rows: links } = await sql<{ linked: boolean; copyable: boolean; unique_besides_key: boolean }>`
    -- COPY FROM is refused under row-level security (0A000) and ignores rules: such tables take the upsert.
    SELECT (SELECT relkind IN ('r', 'p') AND NOT relrowsecurity FROM pg_class WHERE oid = ${oid})
        AND NOT EXISTS (SELECT 1 FROM pg_rewrite WHERE ev_class = ${oid} AND rulename <> '_RETURN') AS copyable,
        EXISTS (SELECT 1 FROM pg_constraint WHERE contype = 'f' AND (conrelid = ${oid} OR confrelid = ${oid}))
        OR EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = ${oid} AND NOT tgisinternal)
        OR EXISTS (SELECT 1 FROM pg_rewrite WHERE ev_class = ${oid} AND rulename <> '_RETURN')
        OR EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = ${oid} OR inhparent = ${oid}) AS linked,
        EXISTS (SELECT 1 FROM pg_index WHERE indrelid = ${oid} AND indisunique AND indexrelid::int8 IS DISTINCT FROM ${keyIndex}::int8)
        OR EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = ${oid} AND contype = 'x') AS unique_besides_key`.execute(db);
  return {
    schema,
    table,
    columns: new Map(columns.map((column) => [column.name, column.type])),
    key: keys[0]?.columns ?? [],
    uniqueBesidesKey: links[0]?.unique_besides_key === true,
    independent: links[0]?.linked === false,
    copyable: links[0]?.copyable === true,
  };
}
