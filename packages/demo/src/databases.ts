import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type PgCluster, startCluster, withClient, withDatabase } from '@storx-backup/test-postgres';
import { SCHEMA, SCHEMA_DDL } from './storj-schema.js';
import type { Teardown } from './teardown.js';
import { removeRunDirectory, sweepDeadRuns } from './run-directory.js';

/** The two databases and who connects to them. */
export interface DemoDatabases {
  source: PgCluster;
  backup: PgCluster;
  /** The replicator's URL, in the seed's form: user `storx`, search_path `satellite/0`. */
  sourceUrl: string;
  /** The receiver's URL: user `backuptools`, owner of the backup database. */
  backupUrl: string;
  /** Superuser URLs of the same databases, for the verification and the slot's lag. */
  sourceAdminUrl: string;
  backupAdminUrl: string;
}

const SOURCE_DATABASE = 'storx';
const SOURCE_USER = 'storx';
const BACKUP_DATABASE = 'backup';
const BACKUP_USER = 'backuptools';

/**
 * Starts the source and backup PostgreSQL 17 clusters (embedded: binaries from the npm
 * registry, data under the run's own /tmp/storx-demo-pg-<pid>). Registered for teardown before they start: an
 * interruption during initdb must wait for it to end (test-postgres removes the directories
 * at once, which makes initdb fail) rather than leave it running after the demo has exited.
 */
export async function startClusters(teardown: Teardown): Promise<{ source: PgCluster; backup: PgCluster }> {
  await sweepDeadRuns();
  const starting = Promise.allSettled([startCluster({ name: 'demo-source', backend: 'embedded' }), startCluster({ name: 'demo-backup', backend: 'embedded' })]);
  teardown.add('PostgreSQL', async () => {
    const clusters = await starting;
    await Promise.all(clusters.flatMap((result) => (result.status === 'fulfilled' ? [result.value.stop()] : [])));
    await removeRunDirectory();
  });
  const [source, backup] = await starting;
  if (source.status === 'rejected') throw source.reason;
  if (backup.status === 'rejected') throw backup.reason;
  return { source: source.value, backup: backup.value };
}

/**
 * The source as StorXMonitor has it: the application's user owns `satellite/0` with `objects` and
 * `segments`. Then the seed's step 2, word for word (step 1, wal_level = logical, is a server
 * setting the cluster starts with). The backup database belongs to the receiver's own user.
 */
export async function prepareDatabases(source: PgCluster, backup: PgCluster): Promise<DemoDatabases> {
  const sourcePassword = randomBytes(12).toString('hex');
  const backupPassword = randomBytes(12).toString('hex');
  await Promise.all([
    withClient(source.url, async (client) => {
      await client.query(`CREATE ROLE ${SOURCE_USER} LOGIN PASSWORD '${sourcePassword}'`);
      await client.query(`CREATE DATABASE ${SOURCE_DATABASE} OWNER ${SOURCE_USER}`);
    }),
    withClient(backup.url, async (client) => {
      await client.query(`CREATE ROLE ${BACKUP_USER} LOGIN PASSWORD '${backupPassword}'`);
      await client.query(`CREATE DATABASE ${BACKUP_DATABASE} OWNER ${BACKUP_USER}`);
    }),
  ]);
  const sourceAdminUrl = withDatabase(source.url, SOURCE_DATABASE);
  const sourceUrl = seedStyleUrl(source, sourcePassword);
  await withClient(sourceUrl, async (client) => {
    for (const statement of SCHEMA_DDL) await client.query(statement);
  });
  await withClient(sourceAdminUrl, async (client) => {
    // The seed's step 2.
    await client.query(`ALTER USER ${SOURCE_USER} WITH REPLICATION`);
    await client.query(`GRANT CONNECT ON DATABASE ${SOURCE_DATABASE} TO ${SOURCE_USER}`);
    await client.query(`GRANT USAGE ON SCHEMA ${pg.escapeIdentifier(SCHEMA)} TO ${SOURCE_USER}`);
    await client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${pg.escapeIdentifier(SCHEMA)} TO ${SOURCE_USER}`);
  });
  return {
    source,
    backup,
    sourceUrl,
    backupUrl: `postgres://${BACKUP_USER}:${backupPassword}@${backup.host}:${backup.port}/${BACKUP_DATABASE}`,
    sourceAdminUrl,
    backupAdminUrl: withDatabase(backup.url, BACKUP_DATABASE),
  };
}

/** `postgres://storx:…@host:port/storx?sslmode=disable&options=--search_path%3D%22satellite%2F0%22` */
function seedStyleUrl(cluster: PgCluster, password: string): string {
  const options = encodeURIComponent(`--search_path="${SCHEMA}"`);
  return `postgres://${SOURCE_USER}:${password}@${cluster.host}:${cluster.port}/${SOURCE_DATABASE}?sslmode=disable&options=${options}`;
}

/** The server settings the seed's step 1 asks for, as the source reports them. */
export async function replicationSettings(sourceAdminUrl: string): Promise<Record<string, string>> {
  return withClient(sourceAdminUrl, async (client) => {
    const { rows } = await client.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name IN ('wal_level', 'max_replication_slots', 'max_wal_senders') ORDER BY name`,
    );
    return Object.fromEntries(rows.map((row) => [row.name, row.setting]));
  });
}
