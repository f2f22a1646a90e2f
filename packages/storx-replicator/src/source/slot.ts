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
  }>(
    `SELECT plugin, database, active, active_pid, confirmed_flush_lsn::text, restart_lsn::text, wal_status, pg_current_wal_lsn()::text AS current
     FROM pg_replication_slots WHERE slot_name = $1`,
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
  };
}

/** Creates the pgoutput slot; its consistent point is where streaming starts. */
export async function createSlot(client: pg.Client, slotName: string): Promise<Lsn> {
  const { rows } = await client.query<{ lsn: string }>("SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", [slotName]);
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
}
