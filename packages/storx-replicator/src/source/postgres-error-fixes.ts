import { WAL_LEVEL_FIX, RELATION_DOES_NOT_EXIST_FIX } from '../inspect/seed-fixes.js';

/** A PostgreSQL (or socket) error as node-postgres throws it. */
interface PgLikeError {
  message: string;
  /** SQLSTATE for a server error (`42P01`), errno name for a socket error (`ECONNREFUSED`). */
  code?: string;
  address?: string;
  port?: number;
}

const DOCTOR = 'run "storx-replicator doctor": it checks every prerequisite and prints the exact fix';

/**
 * The fix for an error PostgreSQL (or the way to it) raised that run did not foresee, in the
 * seed's troubleshooting words where the seed has them: run's own checks catch these first, but
 * a race (a privilege revoked, a slot taken between check and use) still surfaces here, and an
 * operator must never be left with a bare server message. Undefined: not a database error.
 */
export function postgresErrorFix(error: unknown): string[] | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, message } = error as PgLikeError;
  if (code === undefined) return undefined;
  if (/^[0-9A-Z]{5}$/.test(code)) {
    if (/wal_level/.test(message)) return WAL_LEVEL_FIX;
    if (code === '42P01') return RELATION_DOES_NOT_EXIST_FIX;
    if (/replication slot|replication role|REPLICATION attribute/i.test(message) && code === '42501') return ['ALTER USER your_user WITH REPLICATION;'];
    if (/replication slots/.test(message)) return ['ALTER SYSTEM SET max_replication_slots = 10;', '-- Restart PostgreSQL', '-- or drop a slot nothing uses (SELECT pg_drop_replication_slot(...))'];
    if (/max_wal_senders/.test(message)) return ['ALTER SYSTEM SET max_wal_senders = 10;', '-- Restart PostgreSQL'];
    if (code === '28P01' || code === '28000') return ['check the user and password in the database URL, and that pg_hba.conf lets this host in as that user'];
    if (code === '3D000') return ['check the database name in the database URL (the path after host:port)'];
    if (code === '42501') return [DOCTOR];
    if (code.startsWith('08') || code.startsWith('57')) return ['PostgreSQL closed the connection or is shutting down: check that it runs, then start run again (it resumes from the slot, nothing is lost)'];
    return [DOCTOR];
  }
  const where = (error as PgLikeError).address === undefined ? 'the database' : `${(error as PgLikeError).address}:${(error as PgLikeError).port ?? ''}`;
  switch (code) {
    case 'ECONNREFUSED':
      return [`nothing accepts connections at ${where}: check that PostgreSQL runs there and the host and port in the database URL`];
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return ['the database host name does not resolve: check the host in the database URL'];
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return [`${where} does not answer: check the host and port in the database URL, and any firewall between`];
    case 'ECONNRESET':
    case 'EPIPE':
      return ['the connection to PostgreSQL was cut: check that it runs, then start run again (it resumes from the slot, nothing is lost)'];
    default:
      return undefined;
  }
}
