import type pg from 'pg';
import { type Lsn, parseLsn } from '@storx-backup/protocol';
import { ReplicatorError } from '../errors.js';

export interface SlotState {
  plugin: string;
  database: string;
  active: boolean;
  activePid: number | null;
  confirmedFlushLsn: Lsn | undefined;
  restartLsn: Lsn | undefined;
  /** reserved, extended, unreserved or lost (NULL before PostgreSQL 13). */
  walStatus: string | null;
  currentWalLsn: Lsn;
  /** pg_current_wal_lsn() - confirmed_flush_lsn: WAL the slot still holds for us. */
  lagBytes: bigint;
  /** PostgreSQL 17+: the slot is synchronized to standbys (`sync_replication_slots`); undefined before 17. */
  failover: boolean | undefined;
  /** PostgreSQL 17+: invalidation_reason (wal_removed, rows_removed, wal_level_insufficient), or null. */
  invalidationReason: string | null;
}

/** The slot as pg_replication_slots shows it, or undefined when it does not exist. */
export async function readSlot(client: pg.Client, slotName: string): Promise<SlotState | undefined> {
  const { rows } = await client.query<{
    plugin: string;
    database: string;
    active: boolean;
    active_pid: number | null;
    confirmed_flush_lsn: string | null;
    restart_lsn: string | null;
    wal_status: string | null;
    current: string;
    failover: boolean | null;
    invalidation_reason: string | null;
  }>(
    // failover and invalidation_reason exist from PostgreSQL 17 on: read through to_jsonb so the
    // same query works on older servers (NULL there).
    `SELECT plugin, database, active, active_pid, confirmed_flush_lsn::text, restart_lsn::text, wal_status, pg_current_wal_lsn()::text AS current,
            (to_jsonb(s) ->> 'failover')::boolean AS failover, to_jsonb(s) ->> 'invalidation_reason' AS invalidation_reason
     FROM pg_replication_slots s WHERE slot_name = $1`,
    [slotName],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  const currentWalLsn = parseLsn(row.current);
  const confirmed = row.confirmed_flush_lsn === null ? undefined : parseLsn(row.confirmed_flush_lsn);
  return {
    plugin: row.plugin,
    database: row.database,
    active: row.active,
    activePid: row.active_pid,
    confirmedFlushLsn: confirmed,
    restartLsn: row.restart_lsn === null ? undefined : parseLsn(row.restart_lsn),
    walStatus: row.wal_status,
    currentWalLsn,
    lagBytes: confirmed === undefined ? 0n : currentWalLsn - confirmed,
    failover: row.failover ?? undefined,
    invalidationReason: row.invalidation_reason,
  };
}

/** PostgreSQL 17 synchronizes failover slots to standbys (FAILOVER true, sync_replication_slots). */
export const FAILOVER_SLOTS_VERSION = 170000;

export async function serverVersionNum(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ server_version_num: string }>('SHOW server_version_num');
  return Number(rows[0]!.server_version_num);
}

/**
 * Creates the pgoutput slot; its consistent point is where streaming starts. On PostgreSQL 17+
 * it is a failover slot: standbys with sync_replication_slots keep a copy of it, so that a
 * promoted standby continues the stream instead of needing a resnapshot.
 */
export async function createSlot(client: pg.Client, slotName: string): Promise<Lsn> {
  const failover = (await serverVersionNum(client)) >= FAILOVER_SLOTS_VERSION;
  const { rows } = await client.query<{ lsn: string }>(
    failover ? "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput', false, false, true)" : "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')",
    [slotName],
  );
  return parseLsn(rows[0]!.lsn);
}

/** Refuses a slot this replicator cannot safely stream from. */
export function checkUsableSlot(slot: SlotState, slotName: string, database: string): void {
  if (slot.plugin !== 'pgoutput' || slot.database !== database) {
    throw new ReplicatorError('SLOT_WRONG_PLUGIN', `slot ${slotName} uses plugin ${slot.plugin} in database ${slot.database}; expected pgoutput in ${database}`);
  }
  if (slot.walStatus === 'lost') {
    throw new ReplicatorError('SLOT_LOST', `slot ${slotName} is invalidated (wal_status = lost, max_slot_wal_keep_size exceeded): WAL it still needed was removed before it was replicated; a resnapshot is needed`);
  }
  if (slot.invalidationReason !== null) {
    throw new ReplicatorError('SLOT_LOST', `slot ${slotName} is invalidated (invalidation_reason = ${slot.invalidationReason}): it can no longer decode the changes the backup needs; a resnapshot is needed`);
  }
}
