import type pg from 'pg';
import { qualified, type SourceTable } from './source-tables.js';

/** The publication as it is, and what this user may do about it. */
export interface PublicationFacts {
  name: string;
  exists: boolean;
  allTables: boolean;
  /** Publishes insert, update, delete and truncate. */
  allOperations: boolean;
  /** `"schema"."table"` of each published table. */
  published: string[];
  /** The user has the publication owner's rights (ALTER PUBLICATION). */
  ownsPublication: boolean;
  /** CREATE on the database (needed for CREATE PUBLICATION). */
  canCreate: boolean;
  userSql: string;
  databaseSql: string;
}

export async function readPublicationFacts(client: pg.Client, name: string): Promise<PublicationFacts> {
  const { rows } = await client.query<Omit<PublicationFacts, 'name' | 'published'>>(
    `SELECT p.oid IS NOT NULL AS exists, coalesce(p.puballtables, false) AS "allTables",
            coalesce(p.pubinsert AND p.pubupdate AND p.pubdelete AND p.pubtruncate, false) AS "allOperations",
            coalesce(pg_has_role(p.pubowner, 'USAGE'), false) AS "ownsPublication",
            has_database_privilege(current_database(), 'CREATE') AS "canCreate",
            quote_ident(current_user) AS "userSql", quote_ident(current_database()) AS "databaseSql"
     FROM (SELECT 1) AS one LEFT JOIN pg_publication p ON p.pubname = $1`,
    [name],
  );
  const { rows: tables } = await client.query<{ schemaname: string; tablename: string }>('SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2', [name]);
  return { name, published: tables.map((row) => qualified({ schema: row.schemaname, table: row.tablename })), ...rows[0]! };
}

export type PublicationVerdict =
  | { ok: true; action: 'none' | 'create' | 'alter'; note: string }
  | { ok: false; code: 'PUBLICATION_MISSING' | 'PUBLICATION_MISMATCH'; message: string; fix: string[] };

/**
 * Can run make the publication publish exactly `tables`? CREATE PUBLICATION ... FOR TABLE needs
 * CREATE on the database and the owner's rights on every table; ALTER PUBLICATION ... SET TABLE
 * needs the publication's owner's rights and the tables'. A least-privilege replication role has
 * neither, so the fix is the statement the owner runs once. One decision for doctor, status and run.
 */
export function judgePublication(facts: PublicationFacts, tables: readonly SourceTable[]): PublicationVerdict {
  const { name } = facts;
  const list = tables.map(qualified).join(', ');
  const notOwned = tables.filter((table) => !table.ownedByUser).map((table) => table.tableSql);
  if (!facts.exists) {
    if (facts.canCreate && notOwned.length === 0) return { ok: true, action: 'create', note: `publication ${name} does not exist yet; run creates it (this user may)` };
    const reasons = [...(facts.canCreate ? [] : [`has no CREATE on database ${facts.databaseSql}`]), ...(notOwned.length === 0 ? [] : [`does not own ${notOwned.join(', ')}`])];
    return {
      ok: false,
      code: 'PUBLICATION_MISSING',
      message: `publication ${name} does not exist and user ${facts.userSql} cannot create it: it ${reasons.join(' and ')}`,
      fix:
        notOwned.length === 0
          ? [`GRANT CREATE ON DATABASE ${facts.databaseSql} TO ${facts.userSql};`, `-- or, as a superuser: CREATE PUBLICATION ${name} FOR TABLE ${list};`]
          : [`-- as the tables' owner (or a superuser), once:`, `CREATE PUBLICATION ${name} FOR TABLE ${list};`],
    };
  }
  if (!facts.allOperations) {
    return {
      ok: false,
      code: 'PUBLICATION_MISMATCH',
      message: `publication ${name} does not publish every operation (insert, update, delete, truncate); a backup needs all four`,
      fix: [`-- as the publication's owner:`, `ALTER PUBLICATION ${name} SET (publish = 'insert, update, delete, truncate');`],
    };
  }
  if (facts.allTables) return { ok: true, action: 'none', note: `publication ${name} is FOR ALL TABLES` };
  const wanted = tables.map(qualified);
  if (facts.published.length === wanted.length && wanted.every((table) => facts.published.includes(table))) return { ok: true, action: 'none', note: `publication ${name} publishes exactly the configured tables` };
  const differs = `publication ${name} publishes ${facts.published.join(', ') || 'no table'} instead of ${wanted.join(', ')}`;
  if (facts.ownsPublication && notOwned.length === 0) return { ok: true, action: 'alter', note: `${differs}; run changes it (this user may)` };
  return {
    ok: false,
    code: 'PUBLICATION_MISMATCH',
    message: `${differs}, and user ${facts.userSql} cannot change it: it ${[...(facts.ownsPublication ? [] : ['does not own the publication']), ...(notOwned.length === 0 ? [] : [`does not own ${notOwned.join(', ')}`])].join(' and ')}`,
    fix: [`-- as the publication's and the tables' owner (or a superuser):`, `ALTER PUBLICATION ${name} SET TABLE ${list};`],
  };
}
