import type pg from 'pg';
import { ReplicatorError } from '../errors.js';

/** A configured table, resolved on the connection's search_path. */
export interface SourceTable {
  /** As configured (`objects`). */
  name: string;
  schema: string;
  table: string;
  oid: number;
  /** pg_class.relreplident: d(efault), f(ull), n(othing), i(ndex). */
  replicaIdentity: 'd' | 'f' | 'n' | 'i';
  hasPrimaryKey: boolean;
  /** pg_class.relkind: r(egular), p(artitioned), ... */
  kind: string;
  canSelect: boolean;
  schemaUsage: boolean;
}

/**
 * Resolves each configured name the way the application sees it: through the search_path of
 * the connection string (the seed's `options=--search_path%3D"satellite/0"`).
 */
export async function resolveTables(client: pg.Client, names: readonly string[]): Promise<{ found: SourceTable[]; missing: string[] }> {
  const found: SourceTable[] = [];
  const missing: string[] = [];
  for (const name of names) {
    const { rows } = await client.query<{ oid: number | null }>('SELECT to_regclass($1)::oid AS oid', [name.includes('"') || name.includes('.') ? name : `"${name}"`]);
    const oid = rows[0]?.oid;
    if (oid === null || oid === undefined) {
      missing.push(name);
      continue;
    }
    const { rows: details } = await client.query<Omit<SourceTable, 'name' | 'oid'>>(
      `SELECT n.nspname AS schema, c.relname AS "table", c.relreplident AS "replicaIdentity", c.relkind AS kind,
              EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS "hasPrimaryKey",
              has_table_privilege(c.oid, 'SELECT') AS "canSelect",
              has_schema_privilege(n.oid, 'USAGE') AS "schemaUsage"
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1`,
      [oid],
    );
    found.push({ name, oid, ...details[0]! });
  }
  return { found, missing };
}

/** Resolves and checks every table; throws the first problem with its fix. */
export async function requireTables(client: pg.Client, names: readonly string[]): Promise<SourceTable[]> {
  const { found, missing } = await resolveTables(client, names);
  if (missing.length > 0) {
    const { rows } = await client.query<{ path: string }>('SELECT current_setting($1) AS path', ['search_path']);
    throw new ReplicatorError('RELATION_DOES_NOT_EXIST', `relation does not exist: ${missing.map((name) => JSON.stringify(name)).join(', ')} (search_path is ${rows[0]?.path ?? '?'})`);
  }
  for (const table of found) {
    if (!table.schemaUsage || !table.canSelect) {
      throw new ReplicatorError('TABLE_PRIVILEGE_MISSING', `permission denied: ${table.schemaUsage ? 'SELECT on' : 'USAGE on the schema of'} ${qualified(table)}`);
    }
    if (table.kind === 'p') {
      // pgoutput publishes a partitioned table's changes under its partitions' names.
      throw new ReplicatorError('TABLE_PARTITIONED', `${qualified(table)} is a partitioned table: its changes are published under its partitions' names, so list the partitions in replication.tables instead`);
    }
    if (table.replicaIdentity === 'n' || (table.replicaIdentity === 'd' && !table.hasPrimaryKey)) {
      throw new ReplicatorError('TABLE_WITHOUT_IDENTITY', `${qualified(table)} has no primary key and no REPLICA IDENTITY FULL: its UPDATEs and DELETEs cannot be replicated`);
    }
  }
  return found;
}

export function qualified(table: { schema: string; table: string }): string {
  return `"${table.schema.replaceAll('"', '""')}"."${table.table.replaceAll('"', '""')}"`;
}
