import { quoteIdentifier } from '@storx-backup/protocol';
import type pg from 'pg';
import type { ReplicatorConfig } from '../config.js';
import { judgePublication, type PublicationVerdict, readPublicationFacts } from '../source/publication-access.js';
import { capacityProblems, readReplicationCapacity } from '../source/replication-capacity.js';
import { hasConnectPrivilege, hasReplicationPrivilege, walLevel } from '../source/server-checks.js';
import { identityProblem, partitionedProblem, resolveTables, type SourceTable } from '../source/source-tables.js';
import { type ChecklistItem, failed, passed } from './checklist-item.js';
import { RELATION_DOES_NOT_EXIST_FIX, WAL_LEVEL_FIX } from './seed-fixes.js';
import { connectSource } from './source-connect.js';

const NOT_CHECKED = 'not checked (no database connection)';

/**
 * The PostgreSQL half of the seed's quick checklist, read-only: connection, wal_level,
 * REPLICATION, CONNECT, the tables on the search_path, USAGE and SELECT, and a key for each
 * table. Every item is reported; fixes name the real user, database, schema and table.
 */
export async function checkDatabase(config: ReplicatorConfig): Promise<ChecklistItem[]> {
  let client: pg.Client;
  try {
    client = await connectSource(config.databaseUrl);
  } catch (error) {
    return connectionFailed(config, error as Error & { code?: string; detail?: string });
  }
  // Items are collected as they are checked, so that a query failing midway keeps the ones before it.
  const items: ChecklistItem[] = [];
  try {
    await checkConnected(client, config, items);
  } catch (error) {
    items.push(failed('PostgreSQL', `the remaining checks could not run: ${(error as Error).message}`, ['check that the database still accepts this connection, then run doctor again']));
  } finally {
    await client.end().catch(() => undefined);
  }
  return items;
}

function connectionFailed(config: ReplicatorConfig, error: Error & { code?: string; detail?: string }): ChecklistItem[] {
  const { user, database } = namesInUrl(config.databaseUrl);
  // 42501 at connect time, "permission denied for database": no CONNECT privilege (the
  // server says so in the detail, "User does not have CONNECT privilege.").
  const noConnect = error.code === '42501' && (/CONNECT/.test(error.detail ?? '') || /permission denied for database/.test(error.message));
  const message = error.detail === undefined ? error.message : `${error.message} (${error.detail.replace(/\.$/, '')})`;
  const grantConnect = `GRANT CONNECT ON DATABASE ${quoteIdentifier(database)} TO ${quoteIdentifier(user)};`;
  return [
    failed('PostgreSQL', `the service can connect to the database: ${message}`, noConnect ? [grantConnect] : ['check the database URL (host, port, user, password, sslmode), that PostgreSQL runs, and that it accepts this host and user (pg_hba.conf)']),
    failed('PostgreSQL', `wal_level = logical: ${NOT_CHECKED}`, []),
    failed('PostgreSQL', `user ${user} has the REPLICATION privilege: ${NOT_CHECKED}`, []),
    failed('PostgreSQL', `CONNECT on database ${database}: ${noConnect ? 'missing' : NOT_CHECKED}`, noConnect ? [grantConnect] : []),
    failed('PostgreSQL', `tables ${config.tables.join(', ')} exist on the connection's search_path, with USAGE and SELECT: ${NOT_CHECKED}`, []),
  ];
}

async function checkConnected(client: pg.Client, config: ReplicatorConfig, items: ChecklistItem[]): Promise<void> {
  const { rows } = await client.query<{ user: string; userSql: string; database: string; databaseSql: string; version: string }>(
    `SELECT current_user AS user, quote_ident(current_user) AS "userSql", current_database() AS database,
            quote_ident(current_database()) AS "databaseSql", current_setting('server_version') AS version`,
  );
  const { user, userSql, database, databaseSql, version } = rows[0]!;
  items.push(passed('PostgreSQL', `the service can connect to the database (${database} as ${user}, PostgreSQL ${version})`));

  const level = await walLevel(client);
  items.push(walLevelItem(level));

  items.push(
    (await hasReplicationPrivilege(client))
      ? passed('PostgreSQL', `user ${user} has the REPLICATION privilege`)
      : failed('PostgreSQL', `user ${user} has the REPLICATION privilege: permission denied for replication slot`, [`ALTER USER ${userSql} WITH REPLICATION;`]),
  );
  items.push((await hasConnectPrivilege(client)) ? passed('PostgreSQL', `CONNECT on database ${database}`) : failed('PostgreSQL', `CONNECT on database ${database}: missing`, [`GRANT CONNECT ON DATABASE ${databaseSql} TO ${userSql};`]));

  const capacity = await readReplicationCapacity(client, config.slotName);
  const shortages = capacityProblems(capacity, config.slotName);
  for (const setting of ['max_replication_slots', 'max_wal_senders'] as const) {
    const problem = shortages.find((candidate) => candidate.setting === setting);
    const max = setting === 'max_replication_slots' ? capacity.maxReplicationSlots : capacity.maxWalSenders;
    const used = setting === 'max_replication_slots' ? capacity.slotsInUse : capacity.walSendersInUse;
    const what = setting === 'max_replication_slots' ? 'replication slots' : 'WAL senders';
    items.push(problem ? failed('PostgreSQL', `${setting} leaves room for the replicator: ${problem.message}`, problem.fix) : passed('PostgreSQL', `${setting} leaves room for the replicator (${max}, ${used} ${what} in use)`));
  }

  const { searchPath, found, missing } = await resolveTables(client, config.tables);
  const located = found.map((table) => (table.name === table.table ? table.tableSql : `${table.name} → ${table.tableSql}`)).join(', ');
  items.push(
    missing.length === 0
      ? passed('PostgreSQL', `tables exist on the connection's search_path (${searchPath}): ${located}`)
      : failed('PostgreSQL', `tables exist on the connection's search_path: relation does not exist: ${missing.map((name) => JSON.stringify(name)).join(', ')} (search_path is ${searchPath})`, RELATION_DOES_NOT_EXIST_FIX),
  );
  for (const schema of new Map(found.map((table) => [table.schema, table])).values()) {
    items.push(schema.schemaUsage ? passed('PostgreSQL', `USAGE on schema ${schema.schemaSql}`) : failed('PostgreSQL', `USAGE on schema ${schema.schemaSql}: missing`, [`GRANT USAGE ON SCHEMA ${schema.schemaSql} TO ${userSql};`]));
  }
  for (const table of found) {
    items.push(table.canSelect ? passed('PostgreSQL', `SELECT on ${table.tableSql}`) : failed('PostgreSQL', `SELECT on ${table.tableSql}: missing`, [`GRANT SELECT ON ${table.tableSql} TO ${userSql};`]));
  }
  for (const table of found) {
    const partitioned = partitionedProblem(table);
    if (partitioned) items.push(failed('PostgreSQL', partitioned.message, partitioned.fix));
  }
  for (const table of found) items.push(identityItem(table));
  // Only when every table is found: the verdict is about the configured list as a whole.
  if (missing.length === 0) items.push(publicationItem(judgePublication(await readPublicationFacts(client, config.publicationName), found), config.publicationName));
}

function publicationItem(verdict: PublicationVerdict, name: string): ChecklistItem {
  const title = `publication ${name} publishes the tables, or this user can make it`;
  return verdict.ok ? passed('PostgreSQL', `${title} (${verdict.note})`) : failed('PostgreSQL', `${title}: ${verdict.message}`, verdict.fix);
}

/** The seed's first requirement; its fix needs a restart, which only an operator can decide. */
export function walLevelItem(level: string): ChecklistItem {
  return level === 'logical' ? passed('PostgreSQL', 'wal_level = logical') : failed('PostgreSQL', `wal_level = logical: wal_level is not logical (it is ${level})`, WAL_LEVEL_FIX);
}

/** UPDATE and DELETE carry the old row's key only with a primary key (or an index / FULL identity). */
function identityItem(table: SourceTable): ChecklistItem {
  const title = `${table.tableSql} has a primary key or REPLICA IDENTITY FULL`;
  const problem = identityProblem(table);
  if (problem) return failed('PostgreSQL', problem.message, problem.fix);
  const how = { f: 'REPLICA IDENTITY FULL', i: 'REPLICA IDENTITY USING INDEX', d: 'primary key', n: '' }[table.replicaIdentity];
  return passed('PostgreSQL', `${title} (${how})`);
}

/** User and database as the URL names them (for fixes when the server cannot be asked). */
function namesInUrl(databaseUrl: string): { user: string; database: string } {
  try {
    const url = new URL(databaseUrl);
    return { user: decodeURIComponent(url.username) || 'your_user', database: decodeURIComponent(url.pathname.slice(1)) || 'storx' };
  } catch {
    return { user: 'your_user', database: 'storx' };
  }
}
