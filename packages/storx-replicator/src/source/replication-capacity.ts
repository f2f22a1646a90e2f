import type pg from 'pg';
import { ReplicatorError } from '../errors.js';

/** What the server can still give a replicator: replication slots and WAL senders. */
export interface ReplicationCapacity {
  maxReplicationSlots: number;
  /** Slots of every kind and database (they share max_replication_slots). */
  slotsInUse: number;
  maxWalSenders: number;
  /** Running WAL senders (physical standbys, pg_basebackup, other logical consumers, us). */
  walSendersInUse: number;
  /** Our slot exists already: run needs no new one. */
  slotExists: boolean;
  /** Our slot is streamed by a running replicator: it holds its WAL sender already. */
  slotActive: boolean;
}

export async function readReplicationCapacity(client: pg.Client, slotName: string): Promise<ReplicationCapacity> {
  const { rows } = await client.query<{ maxSlots: string; slots: string; maxSenders: string; senders: string; slotExists: boolean; slotActive: boolean }>(
    `SELECT current_setting('max_replication_slots') AS "maxSlots", current_setting('max_wal_senders') AS "maxSenders",
            (SELECT count(*) FROM pg_replication_slots)::text AS slots,
            (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender')::text AS senders,
            EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1) AS "slotExists",
            EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active) AS "slotActive"`,
    [slotName],
  );
  const row = rows[0]!;
  return {
    maxReplicationSlots: Number(row.maxSlots),
    slotsInUse: Number(row.slots),
    maxWalSenders: Number(row.maxSenders),
    walSendersInUse: Number(row.senders),
    slotExists: row.slotExists,
    slotActive: row.slotActive,
  };
}

/** One setting too small for run, with the seed's step-1 fix. */
export interface CapacityProblem {
  setting: 'max_replication_slots' | 'max_wal_senders';
  message: string;
  fix: string[];
}

/** The seed's step 1 sets both to 10; more when that is already taken. */
function raiseTo(setting: string, inUse: number): string[] {
  return [`ALTER SYSTEM SET ${setting} = ${Math.max(10, inUse + 2)};`, '-- Restart PostgreSQL'];
}

/**
 * Whether run can create its slot (one free replication slot, unless ours exists) and stream it
 * (one free WAL sender, unless ours is already streamed). Without them run would fail with
 * PostgreSQL's bare "all replication slots are in use" or "number of requested standby
 * connections exceeds max_wal_senders".
 */
export function capacityProblems(capacity: ReplicationCapacity, slotName: string): CapacityProblem[] {
  const problems: CapacityProblem[] = [];
  const slotsNeeded = capacity.slotExists ? 0 : 1;
  const freeSlots = capacity.maxReplicationSlots - capacity.slotsInUse;
  if (capacity.maxReplicationSlots === 0) {
    problems.push({ setting: 'max_replication_slots', message: 'max_replication_slots is 0: the server allows no replication slot, and the replicator reads its changes from one', fix: raiseTo('max_replication_slots', capacity.slotsInUse) });
  } else if (freeSlots < slotsNeeded) {
    problems.push({
      setting: 'max_replication_slots',
      message: `${capacity.maxReplicationSlots === 1 ? 'the only replication slot is' : `all ${capacity.maxReplicationSlots} replication slots are`} in use (max_replication_slots = ${capacity.maxReplicationSlots}): slot ${slotName} cannot be created`,
      fix: [...raiseTo('max_replication_slots', capacity.slotsInUse), '-- or drop a slot nothing uses: SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active AND slot_name = \'...\';'],
    });
  }
  const sendersNeeded = capacity.slotActive ? 0 : 1;
  const freeSenders = capacity.maxWalSenders - capacity.walSendersInUse;
  if (capacity.maxWalSenders === 0) {
    problems.push({ setting: 'max_wal_senders', message: 'max_wal_senders is 0: the server allows no replication connection, and the replicator streams the slot over one', fix: raiseTo('max_wal_senders', capacity.walSendersInUse) });
  } else if (freeSenders < sendersNeeded) {
    problems.push({
      setting: 'max_wal_senders',
      message: `${capacity.maxWalSenders === 1 ? 'the only WAL sender is' : `all ${capacity.maxWalSenders} WAL senders are`} busy (max_wal_senders = ${capacity.maxWalSenders}): the replicator's replication connection would be refused`,
      fix: raiseTo('max_wal_senders', capacity.walSendersInUse),
    });
  }
  return problems;
}

/** run's check: the first setting too small stops it with the fix. */
export async function requireReplicationCapacity(client: pg.Client, slotName: string): Promise<void> {
  const [problem] = capacityProblems(await readReplicationCapacity(client, slotName), slotName);
  if (problem) throw new ReplicatorError('REPLICATION_CAPACITY', problem.message, { fix: problem.fix });
}
