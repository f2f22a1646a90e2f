import type pg from 'pg';
import { ReplicatorError } from '../errors.js';

/** The seed's first requirement: `wal_level = logical` (and restarted). */
export async function requireLogicalWal(client: pg.Client): Promise<void> {
  const level = await walLevel(client);
  if (level !== 'logical') throw new ReplicatorError('WAL_LEVEL_NOT_LOGICAL', `wal_level is not logical (it is ${level})`);
}

export async function walLevel(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ wal_level: string }>('SHOW wal_level');
  return rows[0]!.wal_level;
}

/** REPLICATION (or superuser) is needed to create and stream from a slot. */
export async function hasReplicationPrivilege(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>('SELECT rolreplication OR rolsuper AS ok FROM pg_roles WHERE rolname = current_user');
  return rows[0]?.ok ?? false;
}

export async function requireReplicationPrivilege(client: pg.Client): Promise<void> {
  if (!(await hasReplicationPrivilege(client))) {
    throw new ReplicatorError('REPLICATION_PERMISSION_DENIED', 'permission denied for replication slot: the user has no REPLICATION privilege');
  }
}

export async function hasConnectPrivilege(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>("SELECT has_database_privilege(current_database(), 'CONNECT') AS ok");
  return rows[0]?.ok ?? false;
}
