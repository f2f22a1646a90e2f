import { Kysely, PostgresDialect, type PostgresPoolClient, type Transaction } from 'kysely';
import pg from 'pg';
import { type Lsn, parseLsn, sessionOptionsFor } from '@storx-backup/protocol';
import type { Logger } from '@storx-backup/service-kit';
import { ReceiverError } from './errors.js';

/**
 * The backup database. The receiver writes only through Kysely's `sql` template with
 * `sql.id`/`sql.ref` for identifiers: table and column names come from the sender and are never
 * concatenated into SQL. The schema is the sender's, so the Kysely instance is untyped.
 */
export type BackupDb = Kysely<Record<string, never>>;
export type BackupTransaction = Transaction<Record<string, never>>;

/** How long the pool keeps a connection nobody uses (at most `database-pool-size` of them). */
const IDLE_CONNECTION_MS = 5 * 60_000;

export function createBackupDb(url: string, poolSize: number, logger: Logger): { db: BackupDb; pool: pg.Pool } {
  // An idle connection is kept IDLE_CONNECTION_MS (pg closes it after 10 s by default): a source
  // that writes less often than that would otherwise pay a new backend (fork, authentication,
  // session settings) on each batch. TCP keepalive finds a connection a firewall or NAT dropped
  // silently before a batch waits on it; the finite idle time renews the rest.
  const pool = new pg.Pool({ connectionString: url, max: poolSize, idleTimeoutMillis: IDLE_CONNECTION_MS, keepAlive: true, keepAliveInitialDelayMillis: 30_000, application_name: 'backuptools-receiver', options: sessionOptionsFor(url) });
  // An idle client losing its connection (backup database restarted) must not crash the
  // process; the next query gets a fresh connection or answers 503.
  pool.on('error', (error) => logger.warn({ err: error }, 'idle backup database connection failed'));
  // A connection checked out of the pool has no listener of the pool's: when the server goes away
  // between two queries of a transaction (a crash of the backup PostgreSQL), pg's 'error' event
  // would be an uncaught exception and end the process. The query waiting on it fails anyway.
  pool.on('connect', (client) => client.on('error', (error) => logger.debug({ err: error }, 'backup database connection lost')));
  return { db: new Kysely({ dialect: new PostgresDialect({ pool }) }), pool };
}

/**
 * What a transaction sends in the round trips of its BEGIN and COMMIT, which it pays anyway: a
 * stream batch of one small source transaction is otherwise mostly round trips. The texts have
 * no parameters (a multi-statement text goes through the simple query protocol): values in them
 * are literals escaped by pg (apply/batch-frame.ts).
 */
export interface TransactionFrame {
  /** Sent after BEGIN, in its round trip; each statement takes its own snapshot. Its results are `TransactionEnds.opened`. */
  opening?: string;
  /** Commit with `synchronous_commit = off`, and hand over the WAL positions read after the commit. */
  asynchronous?: AsynchronousCommit;
}

/** Handed to `work` with the transaction. */
export interface TransactionEnds {
  /** The results of the frame's opening statements, in order. */
  opened: pg.QueryResult[];
  /** Sends `text` before COMMIT, in its round trip (the last text given); its failure rolls the transaction back. */
  closeWith(text: string): void;
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
export async function transactionWithClient<T>(pool: pg.Pool, work: (trx: BackupTransaction, client: pg.PoolClient, ends: TransactionEnds) => Promise<T>, frame: TransactionFrame = {}): Promise<T> {
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    const ends = { opened: [] as pg.QueryResult[], closing: undefined as string | undefined, closeWith: (text: string) => void (ends.closing = text) };
    // Released below, once, by us: Kysely's release of its connection must not return it early.
    const borrowed = { query: framedQuery(client, frame, ends), release: () => {} } as unknown as PostgresPoolClient;
    const single = { connect: () => Promise.resolve(borrowed), end: () => Promise.resolve() };
    return await new Kysely<Record<string, never>>({ dialect: new PostgresDialect({ pool: single }) }).transaction().execute((trx) => work(trx, client, ends));
  } catch (error) {
    if (!(error instanceof pg.DatabaseError) && !(error instanceof ReceiverError)) failure = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.release(failure);
  }
}

/** Where the backup's WAL stands, read right after a commit (durable-positions.ts). */
export interface WalPositions {
  /** `pg_current_wal_insert_lsn()`: at or past the end of every commit record written before the read. */
  insertLsn: Lsn;
  /** `pg_current_wal_flush_lsn()`: WAL up to here is on disk. */
  flushLsn: Lsn;
  /** `pg_postmaster_start_time()`: a new value means the server restarted (and may have lost unflushed commits). */
  serverStart: string;
}

/** A transaction committed with `synchronous_commit = off`, and what to do with the WAL positions read after its commit. */
export interface AsynchronousCommit {
  committed: (positions: WalPositions) => void;
}

export const WAL_POSITIONS_QUERY = 'SELECT pg_current_wal_insert_lsn()::text AS insert_lsn, pg_current_wal_flush_lsn()::text AS flush_lsn, pg_postmaster_start_time()::text AS server_start';

export function toWalPositions(row: { insert_lsn: string; flush_lsn: string; server_start: string }): WalPositions {
  return { insertLsn: parseLsn(row.insert_lsn), flushLsn: parseLsn(row.flush_lsn), serverStart: row.server_start };
}

/**
 * The client's query, with Kysely's own `begin` and `commit` (postgres-driver.js issues exactly
 * these two texts) extended in the same round trip: `begin` is followed by `SET LOCAL
 * synchronous_commit = off` (asynchronous) and the frame's opening statements; `commit` is
 * preceded by the closing statement `work` gave and followed (asynchronous) by the WAL positions
 * read after it, which bound the commit record's end from above. No round trip is added.
 */
function framedQuery(client: pg.PoolClient, frame: TransactionFrame, ends: { opened: pg.QueryResult[]; closing: string | undefined }): (text: string, values?: unknown[]) => Promise<unknown> {
  const afterBegin = [...(frame.asynchronous ? ['SET LOCAL synchronous_commit = off'] : []), ...(frame.opening === undefined ? [] : [frame.opening])];
  return async (text, values) => {
    if (text === 'begin' && afterBegin.length > 0) {
      let results: pg.QueryResult[];
      try {
        results = asResults(await client.query(['begin', ...afterBegin].join('; ')));
      } catch (error) {
        // The BEGIN ran but Kysely saw it fail: it will not roll back, so this does (a failed
        // rollback is the connection's failure, and discards it).
        await client.query('rollback');
        throw error;
      }
      ends.opened = results.slice(frame.asynchronous ? 2 : 1);
      return results[0];
    }
    if (text === 'commit' && (ends.closing !== undefined || frame.asynchronous)) {
      const before = ends.closing === undefined ? 0 : 1;
      const texts = [...(ends.closing === undefined ? [] : [ends.closing]), 'commit', ...(frame.asynchronous ? [WAL_POSITIONS_QUERY] : [])];
      const results = asResults(await client.query(texts.join('; ')));
      const committed = results[before];
      const positions = results[before + 1] as pg.QueryResult<{ insert_lsn: string; flush_lsn: string; server_start: string }> | undefined;
      // A COMMIT of a failed transaction answers ROLLBACK: nothing committed, nothing to report.
      if (frame.asynchronous && committed?.command === 'COMMIT' && positions?.rows[0] !== undefined) frame.asynchronous.committed(toWalPositions(positions.rows[0]));
      return committed;
    }
    return client.query(text, values);
  };
}

/** pg answers a multi-statement text with an array of results, a single statement with one. */
function asResults(answer: pg.QueryResult | pg.QueryResult[]): pg.QueryResult[] {
  return Array.isArray(answer) ? answer : [answer];
}
