import { Kysely, PostgresDialect, type PostgresPoolClient, type Transaction } from 'kysely';
import pg from 'pg';
import { sessionOptionsFor } from '@storx-backup/protocol';
import type { Logger } from '@storx-backup/service-kit';
import { ReceiverError } from './errors.js';

/**
 * The backup database. The receiver writes only through Kysely's `sql` template with
 * `sql.id`/`sql.ref` for identifiers: table and column names come from the sender and are never
 * concatenated into SQL. The schema is the sender's, so the Kysely instance is untyped.
 */
export type BackupDb = Kysely<Record<string, never>>;
export type BackupTransaction = Transaction<Record<string, never>>;

export function createBackupDb(url: string, poolSize: number, logger: Logger): { db: BackupDb; pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, application_name: 'backuptools-receiver', options: sessionOptionsFor(url) });
  // An idle client losing its connection (backup database restarted) must not crash the
  // process; the next query gets a fresh connection or answers 503.
  pool.on('error', (error) => logger.warn({ err: error }, 'idle backup database connection failed'));
  return { db: new Kysely({ dialect: new PostgresDialect({ pool }) }), pool };
}

/**
 * Runs `work` in one transaction (Kysely's: BEGIN, COMMIT, ROLLBACK on a throw) on a connection
 * checked out of `pool` for it, and hands `work` that connection's pg client too: a batch's
 * `COPY ... FROM STDIN`, which Kysely cannot issue, must run on the same connection, in the same
 * transaction as the watermark. Kysely 0.28 does not expose a transaction's client, so the
 * transaction runs on a Kysely whose "pool" is this one client; it holds one connection of the
 * pool, as `db.transaction()` does, and the pool's end (graceful close) waits for it the same way.
 *
 * A connection that failed other than by a PostgreSQL error or a refusal of ours (the network,
 * or a fault on our side in the middle of a COPY) is discarded rather than returned to the pool:
 * its protocol state is not worth trusting for the next batch.
 */
export async function transactionWithClient<T>(pool: pg.Pool, work: (trx: BackupTransaction, client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    // Released below, once, by us: Kysely's release of its connection must not return it early.
    const borrowed = { query: client.query.bind(client), release: () => {} } as unknown as PostgresPoolClient;
    const single = { connect: () => Promise.resolve(borrowed), end: () => Promise.resolve() };
    return await new Kysely<Record<string, never>>({ dialect: new PostgresDialect({ pool: single }) }).transaction().execute((trx) => work(trx, client));
  } catch (error) {
    if (!(error instanceof pg.DatabaseError) && !(error instanceof ReceiverError)) failure = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.release(failure);
  }
}
