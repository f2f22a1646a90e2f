import type pg from 'pg';
import { quoteQualified } from '@storx-backup/protocol';
import { ReplicatorError } from '../errors.js';
import { parseSearchPath } from './search-path.js';

/** A configured table, resolved on the connection's search_path, with names ready for the SQL fixes we print. */
export interface SourceTable {
  /** As configured (`objects`). */
  name: string;
  schema: string;
  table: string;
  /** `"satellite/0"` (quote_ident of the schema). */
  schemaSql: string;
  /** `"satellite/0".objects`. */
  tableSql: string;
  oid: number;
  /** pg_class.relreplident: d(efault), f(ull), n(othing), i(ndex). */
  replicaIdentity: 'd' | 'f' | 'n' | 'i';
  hasPrimaryKey: boolean;
  /** pg_class.relkind: r(egular), p(artitioned), ... */
  kind: string;
  canSelect: boolean;
  schemaUsage: boolean;
  /** The user has the owner's rights (owner, member of the owning role, or superuser): it may put the table in a publication. */
  ownedByUser: boolean;
}

export interface TableLookup {
  /** The connection's search_path, as SHOW prints it. */
  searchPath: string;
  /** current_user, and quoted for SQL. */
  user: string;
  userSql: string;
  found: SourceTable[];
  /** Configured names found in no schema of the search_path. */
  missing: string[];
}

const DETAILS = `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS "table", quote_ident(n.nspname) AS "schemaSql",
         quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS "tableSql", c.relreplident AS "replicaIdentity", c.relkind AS kind,
         EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS "hasPrimaryKey",
         has_table_privilege(c.oid, 'SELECT') AS "canSelect", has_schema_privilege(n.oid, 'USAGE') AS "schemaUsage",
         pg_has_role(c.relowner, 'USAGE') AS "ownedByUser"
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace`;

/**
 * Finds each configured table the way the application sees it: through the search_path of the
 * connection string (the seed's `options=--search_path%3D"satellite/0"`), with to_regclass. When
 * that fails it looks in the catalog too: PostgreSQL silently skips a search_path schema the user
 * has no USAGE on, so "relation does not exist" may really be a missing GRANT, and run, status
 * and doctor must all name it as such.
 */
export async function resolveTables(client: pg.Client, names: readonly string[]): Promise<TableLookup> {
  const { rows: settings } = await client.query<{ path: string; user: string; userSql: string }>(
    `SELECT current_setting('search_path') AS path, current_user AS user, quote_ident(current_user) AS "userSql"`,
  );
  const { path: searchPath, user, userSql } = settings[0]!;
  const schemas = parseSearchPath(searchPath, user);
  const found: SourceTable[] = [];
  const missing: string[] = [];
  for (const name of names) {
    // A plain name is quoted (case kept); a qualified or quoted one is taken as written.
    const reference = name.includes('"') || name.includes('.') ? name : `"${name}"`;
    const { rows: visible } = await client.query<Omit<SourceTable, 'name'>>(`${DETAILS} WHERE c.oid = to_regclass($1)`, [reference]);
    let row = visible[0];
    if (row === undefined) {
      const { rows: parts } = await client.query<{ parts: string[] }>('SELECT parse_ident($1) AS parts', [reference]).catch(() => ({ rows: [] as { parts: string[] }[] }));
      const ident = parts[0]?.parts ?? [name];
      const table = ident.at(-1)!;
      const candidates = ident.length > 1 ? [ident.at(-2)!] : schemas;
      const { rows: hidden } = await client.query<Omit<SourceTable, 'name'>>(
        `${DETAILS} JOIN unnest($2::text[]) WITH ORDINALITY AS s(name, ord) ON s.name = n.nspname
         WHERE c.relname = $1 AND c.relkind IN ('r', 'p') ORDER BY s.ord LIMIT 1`,
        [table, candidates],
      );
      row = hidden[0];
    }
    if (row === undefined) missing.push(name);
    else found.push({ name, ...row });
  }
  return { searchPath, user, userSql, found, missing };
}

/** Why a found table cannot be replicated, with the exact fix; undefined when it can. */
export interface TableProblem {
  code: 'TABLE_PRIVILEGE_MISSING' | 'TABLE_PARTITIONED' | 'TABLE_WITHOUT_IDENTITY';
  message: string;
  fix: string[];
}

/** No USAGE on the schema: the table is invisible through the search_path, whatever else is granted. */
export function schemaUsageProblem(table: SourceTable, userSql: string): TableProblem | undefined {
  if (table.schemaUsage) return undefined;
  return { code: 'TABLE_PRIVILEGE_MISSING', message: `permission denied for schema ${table.schemaSql}: user has no USAGE on it, so ${table.tableSql} cannot be read`, fix: [`GRANT USAGE ON SCHEMA ${table.schemaSql} TO ${userSql};`] };
}

export function selectProblem(table: SourceTable, userSql: string): TableProblem | undefined {
  if (table.canSelect) return undefined;
  return { code: 'TABLE_PRIVILEGE_MISSING', message: `permission denied for table ${table.tableSql}: no SELECT on it`, fix: [`GRANT SELECT ON ${table.tableSql} TO ${userSql};`] };
}

/** pgoutput publishes a partitioned table's changes under its partitions' names. */
export function partitionedProblem(table: SourceTable): TableProblem | undefined {
  if (table.kind !== 'p') return undefined;
  return {
    code: 'TABLE_PARTITIONED',
    message: `${table.tableSql} is a partitioned table: its changes are published under its partitions' names`,
    fix: [`list its partitions in replication.tables instead (SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = '${table.tableSql.replaceAll("'", "''")}'::regclass;)`],
  };
}

/** UPDATE and DELETE carry the old row's key only with a primary key (or an index / FULL identity). */
export function identityProblem(table: SourceTable): TableProblem | undefined {
  if (table.replicaIdentity === 'n') {
    return { code: 'TABLE_WITHOUT_IDENTITY', message: `${table.tableSql} is REPLICA IDENTITY NOTHING, so its UPDATEs and DELETEs cannot be replicated`, fix: [`ALTER TABLE ${table.tableSql} REPLICA IDENTITY ${table.hasPrimaryKey ? 'DEFAULT' : 'FULL'};`] };
  }
  if (table.replicaIdentity === 'd' && !table.hasPrimaryKey) {
    return {
      code: 'TABLE_WITHOUT_IDENTITY',
      message: `${table.tableSql} has no primary key and no REPLICA IDENTITY FULL, so its UPDATEs and DELETEs cannot be replicated`,
      fix: [`ALTER TABLE ${table.tableSql} REPLICA IDENTITY FULL;`, `-- or give it a primary key: ALTER TABLE ${table.tableSql} ADD PRIMARY KEY (...);`],
    };
  }
  return undefined;
}

/** Resolves and checks every table; throws the first problem with its exact fix. */
export async function requireTables(client: pg.Client, names: readonly string[]): Promise<SourceTable[]> {
  const { found, missing, searchPath, userSql } = await resolveTables(client, names);
  if (missing.length > 0) {
    throw new ReplicatorError('RELATION_DOES_NOT_EXIST', `relation does not exist: ${missing.map((name) => JSON.stringify(name)).join(', ')} (search_path is ${searchPath})`);
  }
  for (const table of found) {
    const problem = schemaUsageProblem(table, userSql) ?? selectProblem(table, userSql) ?? partitionedProblem(table) ?? identityProblem(table);
    if (problem) throw new ReplicatorError(problem.code, problem.message, { fix: problem.fix });
  }
  return found;
}

export function qualified(table: { schema: string; table: string }): string {
  return quoteQualified(table.schema, table.table);
}
