import type pg from 'pg';
import type { Relation } from '@storx-backup/protocol';
import type { DecodedRelation } from '../decode/transaction-assembler.js';

const IDENTITY = { d: 'default', f: 'full', i: 'index', n: 'nothing' } as const;

/**
 * Completes a relation as the stream described it with what the receiver needs: each column's
 * `format_type` (from the type oid and modifier the stream sent, so it is the type in force
 * when the change was made), NOT NULL and the primary key (from the current catalog: used only
 * to create a missing backup table).
 */
export class RelationMetadata {
  private readonly cache = new Map<string, Relation>();

  constructor(private readonly query: () => Promise<pg.Client>) {}

  async resolve(relation: DecodedRelation): Promise<Relation> {
    const signature = `${relation.relationId}:${relation.schema}.${relation.table}:${relation.replicaIdentity}:${relation.columns.map((column) => `${column.name}/${column.typeOid}/${column.typeMod}/${column.isKey ? 1 : 0}`).join(',')}`;
    const cached = this.cache.get(signature);
    if (cached) return cached;
    const client = await this.query();
    const types = await qualifiedTypeNames(client, relation);
    const { rows: catalog } = await client.query<{ not_null: string[] | null; primary_key: string[] | null }>(
      `SELECT (SELECT array_agg(attname::text) FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND attnotnull AND NOT attisdropped) AS not_null,
              (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i
                 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
               WHERE i.indrelid = $1 AND i.indisprimary) AS primary_key`,
      [relation.relationId],
    );
    const notNull = new Set(catalog[0]?.not_null ?? []);
    const flagged = relation.columns.filter((column) => column.isKey).map((column) => column.name);
    // Under REPLICA IDENTITY FULL every column is flagged: the key is the primary key, if any.
    const keyColumns = relation.replicaIdentity === 'f' ? (catalog[0]?.primary_key ?? []) : relation.replicaIdentity === 'n' ? [] : flagged;
    const resolved: Relation = {
      schema: relation.schema,
      table: relation.table,
      replica_identity: IDENTITY[relation.replicaIdentity],
      columns: relation.columns.map((column, index) => ({ name: column.name, type: types[index]!.type, not_null: notNull.has(column.name) || flagged.includes(column.name) })),
      key_columns: keyColumns.filter((name) => relation.columns.some((column) => column.name === name)),
    };
    this.cache.set(signature, resolved);
    return resolved;
  }
}

/**
 * `format_type` leaves out the schema of a type visible on the search_path, and the source URL
 * usually puts the application's schema there: an enum `"satellite/0".status` would travel as
 * `status`, which the backup cannot resolve. Under a search_path of pg_catalog alone every
 * user-defined type comes out schema-qualified.
 */
async function qualifiedTypeNames(client: pg.Client, relation: DecodedRelation): Promise<{ type: string }[]> {
  await client.query('BEGIN');
  try {
    await client.query("SELECT set_config('search_path', 'pg_catalog', true)");
    const { rows } = await client.query<{ type: string }>(
      'SELECT format_type(t.oid, t.mod) AS type FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS t(oid, mod, ord) ORDER BY t.ord',
      [relation.columns.map((column) => column.typeOid), relation.columns.map((column) => column.typeMod)],
    );
    return rows;
  } finally {
    await client.query('COMMIT');
  }
}
