import type pg from 'pg';
import { parseSearchPath } from './search-path.js';

/** A configured table as doctor sees it, with names ready for the GRANT statements it prints. */
export interface LocatedTable {
  /** As configured (`objects`). */
  name: string;
  schema: string;
  table: string;
  /** `"satellite/0"` (quote_ident of the schema). */
  schemaSql: string;
  /** `"satellite/0".objects`. */
  tableSql: string;
  /** pg_class.relreplident: d(efault), f(ull), n(othing), i(ndex). */
  replicaIdentity: 'd' | 'f' | 'n' | 'i';
  hasPrimaryKey: boolean;
  canSelect: boolean;
  schemaUsage: boolean;
}

export interface TableLookup {
  /** The connection's search_path, as SHOW prints it. */
  searchPath: string;
  found: LocatedTable[];
  /** Configured names found in no schema of the search_path. */
  missing: string[];
}

const DETAILS = `SELECT n.nspname AS schema, c.relname AS "table", quote_ident(n.nspname) AS "schemaSql",
         quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS "tableSql", c.relreplident AS "replicaIdentity",
         EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS "hasPrimaryKey",
         has_table_privilege(c.oid, 'SELECT') AS "canSelect", has_schema_privilege(n.oid, 'USAGE') AS "schemaUsage"
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace`;

/**
 * Finds each configured table the way `run` does (to_regclass on the search_path), and when
 * that fails, looks it up in the catalog too: PostgreSQL silently skips a search_path schema
 * the user has no USAGE on, so "relation does not exist" may really be a missing GRANT.
 */
export async function locateTables(client: pg.Client, names: readonly string[]): Promise<TableLookup> {
  const { rows: settings } = await client.query<{ path: string; user: string }>("SELECT current_setting('search_path') AS path, current_user AS user");
  const searchPath = settings[0]!.path;
  const schemas = parseSearchPath(searchPath, settings[0]!.user);
  const found: LocatedTable[] = [];
  const missing: string[] = [];
  for (const name of names) {
    // resolveTables quotes a plain name (case kept) and passes a qualified one as written.
    const reference = name.includes('"') || name.includes('.') ? name : `"${name}"`;
    const { rows: visible } = await client.query<Omit<LocatedTable, 'name'>>(`${DETAILS} WHERE c.oid = to_regclass($1)`, [reference]);
    let row = visible[0];
    if (row === undefined) {
      const { rows: parts } = await client.query<{ parts: string[] }>('SELECT parse_ident($1) AS parts', [reference]).catch(() => ({ rows: [] as { parts: string[] }[] }));
      const ident = parts[0]?.parts ?? [name];
      const table = ident.at(-1)!;
      const candidates = ident.length > 1 ? [ident.at(-2)!] : schemas;
      const { rows: hidden } = await client.query<Omit<LocatedTable, 'name'>>(
        `${DETAILS} JOIN unnest($2::text[]) WITH ORDINALITY AS s(name, ord) ON s.name = n.nspname
         WHERE c.relname = $1 AND c.relkind IN ('r', 'p') ORDER BY s.ord LIMIT 1`,
        [table, candidates],
      );
      row = hidden[0];
    }
    if (row === undefined) missing.push(name);
    else found.push({ name, ...row });
  }
  return { searchPath, found, missing };
}
