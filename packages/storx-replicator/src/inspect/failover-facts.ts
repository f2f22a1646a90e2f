import type pg from 'pg';
import { hostOf } from '../source/source-hosts.js';
import { FAILOVER_SLOTS_VERSION } from '../source/slot.js';
import { standbySlotNames } from '../source/standby-slots-check.js';
import { connectSource } from './source-connect.js';

/**
 * What decides whether the backup stream survives a failover of the source, read (plain SELECTs
 * only) from every host `database` names: the primary's version, its copy of the logical slot
 * and `synchronized_standby_slots`; each standby's slot-synchronization settings and its copy of
 * the slot. Judged by `judgeFailover` (pure, unit-tested apart).
 */
export interface FailoverFacts {
  slotName: string;
  /** The database the replicator decodes (what `dbname` in a standby's primary_conninfo must name). */
  database: string;
  /** The user the replicator connects as (for GRANT fixes). */
  user: string;
  /** How many hosts `database` names (libpq's multi-host form). */
  hostCount: number;
  /** The one host not in recovery; null when none answered as a primary (or several did). */
  primary: PrimaryFacts | null;
  /** Hosts in recovery, in the order `database` names them. */
  standbys: StandbyFacts[];
  /** Hosts that did not answer. */
  unreachable: { host: string; error: string }[];
  /** More than one host out of recovery (a split brain): their names. */
  extraPrimaries: string[];
}

export interface PrimaryFacts {
  host: string;
  url: string;
  /** server_version_num, e.g. 170002. */
  versionNum: number;
  /** server_version, for messages. */
  version: string;
  /** The logical slot on the primary; null: it does not exist (yet). */
  slot: { failover: boolean | null; confirmedFlushLsn: string | null } | null;
  /** synchronized_standby_slots as a list (PostgreSQL 17+; null before). */
  synchronizedStandbySlots: string[] | null;
  /** The primary's physical slots: whether a standby uses each, and whether it was invalidated. */
  physicalSlots: { name: string; active: boolean; walStatus: string | null }[];
  /** Physical standbys streaming from it (pg_stat_replication without the logical walsenders). */
  connectedStandbys: number;
}

export interface StandbyFacts {
  host: string;
  settings: {
    /** null before PostgreSQL 17 (no such setting). */
    syncReplicationSlots: string | null;
    hotStandbyFeedback: string;
    primarySlotName: string;
    walLevel: string;
    /** null when this user may not read it (see conninfoError). */
    primaryConninfo: string | null;
  };
  /** Why primary_conninfo could not be read (it holds a password: superuser or pg_read_all_settings only). */
  conninfoError: string | null;
  /** Its copy of the logical slot; null: it has none. */
  slotCopy: { synced: boolean | null; temporary: boolean; invalidationReason: string | null; confirmedFlushLsn: string | null } | null;
}

/** Reads every host concurrently; a host that does not answer within `timeoutMs` is listed as unreachable. */
export async function readFailoverFacts(urls: readonly string[], slotName: string, timeoutMs?: number): Promise<FailoverFacts> {
  const read = await Promise.all(urls.map((url) => readHost(url, slotName, timeoutMs)));
  const primaries = read.filter((host): host is Extract<HostRead, { kind: 'primary' }> => host.kind === 'primary');
  const answered = read.find((host): host is Exclude<HostRead, { kind: 'unreachable' }> => host.kind !== 'unreachable');
  const database = answered?.database ?? '';
  const user = answered?.user ?? '';
  return {
    slotName,
    database,
    user,
    hostCount: urls.length,
    primary: primaries.length === 1 ? primaries[0]!.facts : null,
    standbys: read.filter((host): host is Extract<HostRead, { kind: 'standby' }> => host.kind === 'standby').map((host) => host.facts),
    unreachable: read.filter((host): host is Extract<HostRead, { kind: 'unreachable' }> => host.kind === 'unreachable').map(({ host, error }) => ({ host, error })),
    extraPrimaries: primaries.length > 1 ? primaries.map((primary) => primary.facts.host) : [],
  };
}

type HostRead = { kind: 'primary'; facts: PrimaryFacts; database: string; user: string } | { kind: 'standby'; facts: StandbyFacts; database: string; user: string } | { kind: 'unreachable'; host: string; error: string };

async function readHost(url: string, slotName: string, timeoutMs: number | undefined): Promise<HostRead> {
  const host = hostOf(url);
  let client: pg.Client;
  try {
    client = await connectSource(url, timeoutMs);
  } catch (error) {
    return { kind: 'unreachable', host, error: (error as Error).message };
  }
  try {
    const { rows } = await client.query<{ standby: boolean; version_num: string; version: string; database: string; user: string }>(
      "SELECT pg_is_in_recovery() AS standby, current_setting('server_version_num') AS version_num, current_setting('server_version') AS version, current_database() AS database, current_user AS user",
    );
    const { standby, version_num, version, database, user } = rows[0]!;
    const versionNum = Number(version_num);
    return standby
      ? { kind: 'standby', facts: await readStandby(client, host, slotName, versionNum), database, user }
      : { kind: 'primary', facts: await readPrimary(client, host, url, slotName, versionNum, version), database, user };
  } catch (error) {
    return { kind: 'unreachable', host, error: `reading it failed: ${(error as Error).message}` };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function readPrimary(client: pg.Client, host: string, url: string, slotName: string, versionNum: number, version: string): Promise<PrimaryFacts> {
  const failoverSlots = versionNum >= FAILOVER_SLOTS_VERSION;
  // failover exists from PostgreSQL 17 on: read through to_jsonb so the query works before.
  const slot = await client.query<{ failover: boolean | null; confirmed: string | null }>(
    "SELECT (to_jsonb(s) ->> 'failover')::boolean AS failover, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots s WHERE slot_name = $1",
    [slotName],
  );
  const physical = await client.query<{ name: string; active: boolean; wal_status: string | null }>("SELECT slot_name AS name, active, wal_status FROM pg_replication_slots WHERE slot_type = 'physical' ORDER BY slot_name");
  const connected = await client.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_replication WHERE pid NOT IN (SELECT active_pid FROM pg_replication_slots WHERE slot_type = 'logical' AND active_pid IS NOT NULL)",
  );
  const standbySlots = failoverSlots ? (await client.query<{ setting: string }>("SELECT current_setting('synchronized_standby_slots') AS setting")).rows[0]!.setting : null;
  return {
    host,
    url,
    versionNum,
    version,
    slot: slot.rows[0] === undefined ? null : { failover: slot.rows[0].failover, confirmedFlushLsn: slot.rows[0].confirmed },
    synchronizedStandbySlots: standbySlots === null ? null : standbySlotNames(standbySlots),
    physicalSlots: physical.rows.map((row) => ({ name: row.name, active: row.active, walStatus: row.wal_status })),
    connectedStandbys: connected.rows[0]!.n,
  };
}

async function readStandby(client: pg.Client, host: string, slotName: string, versionNum: number): Promise<StandbyFacts> {
  const failoverSlots = versionNum >= FAILOVER_SLOTS_VERSION;
  const { rows } = await client.query<{ sync: string | null; feedback: string; slot: string; wal_level: string }>(
    `SELECT ${failoverSlots ? "current_setting('sync_replication_slots')" : 'NULL::text'} AS sync, current_setting('hot_standby_feedback') AS feedback,
            current_setting('primary_slot_name') AS slot, current_setting('wal_level') AS wal_level`,
  );
  let primaryConninfo: string | null = null;
  let conninfoError: string | null = null;
  try {
    // It holds the replication password: readable by superusers and pg_read_all_settings only.
    primaryConninfo = (await client.query<{ conninfo: string }>("SELECT current_setting('primary_conninfo') AS conninfo")).rows[0]!.conninfo;
  } catch (error) {
    conninfoError = (error as Error).message;
  }
  const copy = await client.query<{ synced: boolean | null; temporary: boolean; invalidation_reason: string | null; confirmed: string | null }>(
    `SELECT (to_jsonb(s) ->> 'synced')::boolean AS synced, temporary, to_jsonb(s) ->> 'invalidation_reason' AS invalidation_reason, confirmed_flush_lsn::text AS confirmed
       FROM pg_replication_slots s WHERE slot_name = $1`,
    [slotName],
  );
  const row = copy.rows[0];
  return {
    host,
    settings: { syncReplicationSlots: rows[0]!.sync, hotStandbyFeedback: rows[0]!.feedback, primarySlotName: rows[0]!.slot, walLevel: rows[0]!.wal_level, primaryConninfo },
    conninfoError,
    slotCopy: row === undefined ? null : { synced: row.synced, temporary: row.temporary, invalidationReason: row.invalidation_reason, confirmedFlushLsn: row.confirmed },
  };
}
