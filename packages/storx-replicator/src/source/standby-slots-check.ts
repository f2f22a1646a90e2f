import type pg from 'pg';
import { FAILOVER_SLOTS_VERSION, serverVersionNum } from './slot.js';

export interface StandbySlotProblem {
  /** The physical slot named in synchronized_standby_slots. */
  slot: string;
  state: 'missing' | 'inactive' | 'lost';
}

/**
 * The physical slots `synchronized_standby_slots` names that hold logical decoding back: ones
 * this server does not have (a promoted standby inherits the setting in postgresql.auto.conf),
 * or whose standby is not connected or lost its WAL. PostgreSQL 17+; empty before.
 */
export async function standbySlotProblems(client: pg.Client): Promise<StandbySlotProblem[]> {
  if ((await serverVersionNum(client)) < FAILOVER_SLOTS_VERSION) return [];
  const { rows } = await client.query<{ setting: string }>("SELECT current_setting('synchronized_standby_slots') AS setting");
  const names = standbySlotNames(rows[0]!.setting);
  if (names.length === 0) return [];
  const slots = await client.query<{ slot_name: string; active: boolean; wal_status: string | null }>("SELECT slot_name, active, wal_status FROM pg_replication_slots WHERE slot_type = 'physical' AND slot_name = ANY($1)", [names]);
  const problems: StandbySlotProblem[] = [];
  for (const name of names) {
    const slot = slots.rows.find((row) => row.slot_name === name);
    if (slot === undefined) problems.push({ slot: name, state: 'missing' });
    else if (slot.wal_status === 'lost') problems.push({ slot: name, state: 'lost' });
    else if (!slot.active) problems.push({ slot: name, state: 'inactive' });
  }
  return problems;
}

/** synchronized_standby_slots ('a, "b"') as slot names. */
export function standbySlotNames(setting: string): string[] {
  return setting
    .split(',')
    .map((name) => name.trim().replace(/^"(.*)"$/, '$1'))
    .filter((name) => name !== '');
}

/** What to do about each problem, in one sentence an operator can act on. */
export function standbySlotFix(problems: readonly StandbySlotProblem[]): string {
  const missing = problems.filter((problem) => problem.state === 'missing').map((problem) => problem.slot);
  const parts: string[] = [];
  if (missing.length > 0) {
    parts.push(
      `synchronized_standby_slots names ${missing.join(', ')}, which this server does not have (a promoted standby inherits the setting from its old primary): logical decoding waits for it forever. On this server: ALTER SYSTEM RESET synchronized_standby_slots; SELECT pg_reload_conf(); then set it again to the physical slot of its own standby once one is attached`,
    );
  }
  const stuck = problems.filter((problem) => problem.state !== 'missing');
  if (stuck.length > 0) {
    parts.push(`the standby behind ${stuck.map((problem) => `${problem.slot} (${problem.state})`).join(', ')} does not confirm WAL, and synchronized_standby_slots makes logical decoding wait for it: start or repair that standby, or remove its slot from synchronized_standby_slots (ALTER SYSTEM SET ...; SELECT pg_reload_conf())`);
  }
  return parts.join('; ');
}
