import type pg from 'pg';
import type { DecodedRelation } from '../decode/transaction-assembler.js';
import type { SourceTable } from '../source/source-tables.js';

/**
 * A table described from the catalog the way pgoutput's Relation message describes it: the
 * columns it publishes (not dropped, not generated), in order, with the replica identity columns
 * flagged. A copy sends the same metadata the stream will, so the backup table is the same.
 */
export async function catalogRelation(client: pg.Client, table: SourceTable): Promise<DecodedRelation> {
  const { rows } = await client.query<{ name: string; type_oid: number; type_mod: number; is_key: boolean }>(
    `SELECT a.attname AS name, a.atttypid::integer AS type_oid, a.atttypmod AS type_mod,
            CASE c.relreplident
              WHEN 'f' THEN true
              WHEN 'd' THEN EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND a.attnum = ANY (i.indkey))
              WHEN 'i' THEN EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident AND a.attnum = ANY (i.indkey))
              ELSE false
            END AS is_key
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
     ORDER BY a.attnum`,
    [table.oid],
  );
  return {
    relationId: table.oid,
    schema: table.schema,
    table: table.table,
    replicaIdentity: table.replicaIdentity,
    columns: rows.map((row) => ({ isKey: row.is_key, name: row.name, typeOid: row.type_oid, typeMod: row.type_mod })),
  };
}
