import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { sessionOptionsFor } from '@storx-backup/protocol';
import type { Logger } from '@storx-backup/service-kit';

/**
 * The backup database. The receiver writes only through Kysely's `sql` template with
 * `sql.id`/`sql.ref` for identifiers: table and column names come from the sender and are never
 * concatenated into SQL. The schema is the sender's, so the Kysely instance is untyped.
 */
export type BackupDb = Kysely<Record<string, never>>;

export function createBackupDb(url: string, poolSize: number, logger: Logger): { db: BackupDb; pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, application_name: 'backuptools-receiver', options: sessionOptionsFor(url) });
  // An idle client losing its connection (backup database restarted) must not crash the
  // process; the next query gets a fresh connection or answers 503.
  pool.on('error', (error) => logger.warn({ err: error }, 'idle backup database connection failed'));
  return { db: new Kysely({ dialect: new PostgresDialect({ pool }) }), pool };
}
