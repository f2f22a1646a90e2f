import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { withClient } from './client.js';
import { parseConnectionUrl, withDatabase } from './connection-url.js';

// PostgreSQL truncates identifiers at 63 bytes; keep the prefix short enough that the
// unique suffix always survives.
const MAX_PREFIX_LENGTH = 30;

/** A unique, lower-case, unquoted-safe database name: `<prefix>_<time>_<random>`. */
export function uniqueDatabaseName(prefix = 'test'): string {
  let safe = prefix.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, MAX_PREFIX_LENGTH);
  if (!/^[a-z_]/.test(safe)) safe = `db_${safe}`;
  return `${safe}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/**
 * Creates a fresh database on the server of `adminUrl` (a role allowed to CREATE DATABASE)
 * and returns the same URL pointing at it. Works from a test worker with only the URL
 * that `inject('pgSourceUrl')` gives.
 */
export async function createDatabase(adminUrl: string, prefix?: string): Promise<string> {
  const name = uniqueDatabaseName(prefix);
  await withClient(adminUrl, (client) => client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
  return withDatabase(adminUrl, name);
}

/**
 * Drops the database `url` points at, disconnecting its sessions. Only needed on servers
 * that outlive the run (the `env` backend); the others are deleted whole.
 */
export async function dropDatabase(url: string): Promise<void> {
  const { database } = parseConnectionUrl(url);
  await withClient(withDatabase(url, 'postgres'), (client) =>
    client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`),
  );
}
