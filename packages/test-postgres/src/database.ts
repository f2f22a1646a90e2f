import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { withClient } from './client.js';
import { parseConnectionUrl, withDatabase } from './connection-url.js';
import { waitFor } from './wait-for.js';

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
 * Drops the database `url` points at, disconnecting its sessions, and first the logical
 * replication slots in it (PostgreSQL refuses to drop a database that has one), ending the
 * WAL senders still on them. Tests on a run's shared cluster call it when they finish: a
 * slot left behind counts against max_replication_slots for every later test.
 */
export async function dropDatabase(url: string): Promise<void> {
  const { database } = parseConnectionUrl(url);
  await withClient(withDatabase(url, 'postgres'), async (client) => {
    await waitFor(() => dropSlotsIn(client, database), { description: `the replication slots of ${database} to be dropped`, timeoutMs: 30_000, intervalMs: 100 });
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
  });
}

/** One pass; true once no slot is left. A slot stays active a moment after its sender ends. */
async function dropSlotsIn(client: pg.Client, database: string): Promise<boolean> {
  const { rows } = await client.query<{ slot_name: string; active_pid: number | null }>(
    'SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = $1',
    [database],
  );
  for (const slot of rows) {
    if (slot.active_pid !== null) await client.query('SELECT pg_terminate_backend($1)', [slot.active_pid]);
    await client.query('SELECT pg_drop_replication_slot($1)', [slot.slot_name]).catch(() => undefined);
  }
  return rows.length === 0;
}
