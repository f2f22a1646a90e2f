import type pg from 'pg';

export interface SlotPosition {
  /** pg_current_wal_lsn() - confirmed_flush_lsn, in bytes: the WAL the slot holds back. */
  lagBytes: number;
  /** Whether the slot is confirmed at or past `target`. */
  reached: boolean;
  confirmed: string;
  /** pg_current_wal_lsn() when it was read. */
  current: string;
}

/**
 * Where the slot is acknowledged to, read on the source. The replicator moves it only after
 * the receiver has committed, so a slot at or past an LSN means: everything committed before
 * that LSN is in the backup.
 */
export async function slotPosition(client: pg.Client, slotName: string, target = '0/0'): Promise<SlotPosition | undefined> {
  const { rows } = await client.query<{ lag: string | null; reached: boolean | null; confirmed: string | null; current: string }>(
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag,
            confirmed_flush_lsn >= $2::pg_lsn AS reached,
            confirmed_flush_lsn::text AS confirmed, pg_current_wal_lsn()::text AS current
     FROM pg_replication_slots WHERE slot_name = $1`,
    [slotName, target],
  );
  const row = rows[0];
  if (row?.lag == null || row.confirmed == null) return undefined;
  return { lagBytes: Number(row.lag), reached: row.reached === true, confirmed: row.confirmed, current: row.current };
}

export async function currentWalLsn(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  return rows[0]!.lsn;
}
