import { postgresServerName } from './postgres-server-name.js';
import { connectSource } from '../inspect/source-connect.js';
import type { PhysicalSlot, PostgresServer, StandbyConnection } from './topology-report.js';

/**
 * One PostgreSQL server's part of the topology, read with plain SELECTs: its role, and as a
 * primary its physical standbys and slots, as a standby its WAL receiver and replay position.
 * Lag against the primary is filled in later (relateToPrimary), once every server is read.
 */
export async function readPostgresServer(url: string, timeoutMs: number): Promise<PostgresServer> {
  const server: PostgresServer = { name: postgresServerName(url), reachable: false, error: null, role: null, current_wal_lsn: null, standbys: [], physical_slots: [], standby: null };
  let client;
  try {
    client = await connectSource(url, timeoutMs);
  } catch (error) {
    server.error = (error as Error).message;
    return server;
  }
  try {
    server.reachable = true;
    const { rows } = await client.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
    if (rows[0]!.standby) {
      server.role = 'standby';
      const { rows: state } = await client.query<{ receive_lsn: string | null; replay_lsn: string | null; replay_lag_seconds: number | null }>(
        `SELECT pg_last_wal_receive_lsn()::text AS receive_lsn, pg_last_wal_replay_lsn()::text AS replay_lsn,
                CASE WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() THEN 0
                     ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END AS replay_lag_seconds`,
      );
      const { rows: receiver } = await client.query<{ status: string; upstream: string | null }>(
        "SELECT status, sender_host || ':' || sender_port AS upstream FROM pg_stat_wal_receiver",
      );
      server.standby = {
        receiver_status: receiver[0]?.status ?? null,
        upstream: receiver[0]?.upstream ?? null,
        receive_lsn: state[0]!.receive_lsn,
        replay_lsn: state[0]!.replay_lsn,
        replay_lag_bytes: null,
        replay_lag_seconds: state[0]!.replay_lag_seconds,
      };
    } else {
      server.role = 'primary';
      const { rows: wal } = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      server.current_wal_lsn = wal[0]!.lsn;
      server.standbys = await standbyConnections(client);
      server.physical_slots = await physicalSlots(client);
    }
  } catch (error) {
    server.error = `reading it failed: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
  return server;
}

type Queryable = Awaited<ReturnType<typeof connectSource>>;

/** Physical walsenders only: a logical slot's walsender (the replicator's) is not a standby. */
async function standbyConnections(client: Queryable): Promise<StandbyConnection[]> {
  const { rows } = await client.query<{ application_name: string; client_addr: string | null; state: string; sync_state: string; replay_lsn: string | null; replay_lag_bytes: string | null; replay_lag_seconds: number | null }>(
    `SELECT application_name, host(client_addr) AS client_addr, state, sync_state, replay_lsn::text AS replay_lsn,
            pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS replay_lag_bytes,
            extract(epoch FROM replay_lag)::float8 AS replay_lag_seconds
       FROM pg_stat_replication
      WHERE pid NOT IN (SELECT active_pid FROM pg_replication_slots WHERE slot_type = 'logical' AND active_pid IS NOT NULL)
      ORDER BY application_name, client_addr`,
  );
  return rows.map((row) => ({ ...row, replay_lag_bytes: row.replay_lag_bytes === null ? null : Number(row.replay_lag_bytes) }));
}

async function physicalSlots(client: Queryable): Promise<PhysicalSlot[]> {
  const { rows } = await client.query<{ name: string; active: boolean; wal_status: string | null; retained_bytes: string | null }>(
    `SELECT slot_name AS name, active, wal_status, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS retained_bytes
       FROM pg_replication_slots WHERE slot_type = 'physical' ORDER BY slot_name`,
  );
  return rows.map((row) => ({ ...row, retained_bytes: row.retained_bytes === null ? null : Number(row.retained_bytes) }));
}
