import { parseLsn, quoteIdentifier } from '@storx-backup/protocol';
import { FAILOVER_SLOTS_VERSION } from '../source/slot.js';
import type { FailoverFacts, PrimaryFacts, StandbyFacts } from './failover-facts.js';

/**
 * One finding about failover readiness. `info` is no problem (no standby configured, the slot
 * not created yet); `warning`: a failover now would cost a resnapshot or be refused, but the
 * stream runs; `error`: logical decoding is held back right now.
 */
export interface FailoverFinding {
  level: 'ok' | 'info' | 'warning' | 'error';
  /** host:port concerned; null for the setup as a whole. */
  host: string | null;
  /** What was checked and what was found, one line. */
  text: string;
  /** For a warning or error: what to do, one line each (SQL naming the real slot and host). */
  fix: string[];
}

const RELOAD = 'SELECT pg_reload_conf();';
const RESNAPSHOT = 'after a failover the backup needs a resnapshot: storx-replicator snapshot (or a new replication.slot-name and storx-replicator run; docs/operations.md, "Slot lost: resnapshot")';
const SETTINGS_DOC = 'docs/operations.md, "Settings (PostgreSQL 17)"';

/**
 * Whether the backup stream would survive a failover of the source to one of the standbys
 * `database` names (pure: every rule is unit-tested apart, and on a real primary and standby).
 * PostgreSQL 17+: the slot is a failover slot, the primary's synchronized_standby_slots names
 * each standby's physical slot, each standby synchronizes slots (sync_replication_slots,
 * hot_standby_feedback, primary_slot_name, dbname in primary_conninfo, wal_level = logical) and
 * holds a synced, persistent, valid copy of the slot. Before 17 there are no failover slots:
 * a failover needs a resnapshot, which is said plainly (a warning, not an error).
 */
export function judgeFailover(facts: FailoverFacts): FailoverFinding[] {
  const findings: FailoverFinding[] = [];
  const add = (level: FailoverFinding['level'], host: string | null, text: string, fix: readonly string[] = []): void => {
    findings.push({ level, host, text, fix: [...fix] });
  };
  for (const { host, error } of facts.unreachable) {
    if (facts.hostCount > 1) add('warning', host, `source host ${host} does not answer (${error}): whether it could take over is not known`, ['check that it runs and that this host reaches it (URL, firewall, pg_hba.conf)']);
  }
  if (facts.extraPrimaries.length > 0) {
    add('error', null, `${facts.extraPrimaries.length} source hosts accept writes (${facts.extraPrimaries.join(', ')}): a split brain, or an old primary started again after a failover`, ['stop all but the real primary; rebuild the others as its standbys (scripts/init-replica.sh)']);
    return findings;
  }
  const primary = facts.primary;
  if (primary === null) {
    if (facts.standbys.length > 0) add('error', null, `no source host is a primary (${facts.standbys.map((standby) => `${standby.host} is in recovery`).join(', ')}): nothing to stream from`, ['promote the standby (scripts/pg-promote.sh) or start the primary']);
    return findings;
  }
  const noStandby = facts.hostCount === 1 && facts.standbys.length === 0 && primary.connectedStandbys === 0;
  if (primary.versionNum < FAILOVER_SLOTS_VERSION) {
    const text = `PostgreSQL ${primary.version} has no failover slots (17+): a standby never holds a copy of slot ${facts.slotName}, so ${RESNAPSHOT}`;
    if (noStandby) add('info', null, `no standby configured (database names one host, and no standby streams from it); ${text}`);
    else add('warning', null, text, ['plan the resnapshot for a failover, or upgrade both hosts to PostgreSQL 17 or later to keep the stream across it (docs/operations.md, "Failover")']);
    return findings;
  }
  if (noStandby) {
    // Nothing to fail over to: the slot's failover flag and the standby settings do not matter.
    add('info', null, 'no standby configured (database names one host, and no standby streams from it): nothing to fail over to');
    return findings;
  }
  judgeSlot(facts, primary, add);
  if (facts.hostCount === 1) {
    add('warning', primary.host, `${primary.connectedStandbys} standby(s) stream from ${primary.host}, but database names only this host: after a promotion the replicator does not follow`, [
      'name every host in database, in libpq\'s multi-host form: postgres://user:password@primary:5432,standby:5432/db (docs/operations.md, "Failover")',
    ]);
  }
  judgeStandbySlotsSetting(facts, primary, add);
  for (const standby of facts.standbys) {
    judgeStandbySettings(facts, standby, add);
    judgeSlotCopy(facts, primary, standby, add);
  }
  return findings;
}

type Add = (level: FailoverFinding['level'], host: string | null, text: string, fix?: readonly string[]) => void;

function judgeSlot(facts: FailoverFacts, primary: PrimaryFacts, add: Add): void {
  const slot = primary.slot;
  if (slot === null) add('info', primary.host, `slot ${facts.slotName} does not exist yet on ${primary.host}: storx-replicator run creates it with failover = true`);
  else if (slot.failover !== true) {
    add('warning', primary.host, `slot ${facts.slotName} on ${primary.host} has failover = false: no standby keeps a copy of it, so ${RESNAPSHOT}`, [
      `restart storx-replicator run (it turns failover on before it streams), or on a replication connection to ${primary.host}: ALTER_REPLICATION_SLOT ${facts.slotName} (FAILOVER true)`,
    ]);
  } else add('ok', primary.host, `slot ${facts.slotName} on ${primary.host} has failover = true`);
}

/** The primary must wait for every standby before decoding: else the backup can hold what a promoted standby lacks. */
function judgeStandbySlotsSetting(facts: FailoverFacts, primary: PrimaryFacts, add: Add): void {
  const named = primary.synchronizedStandbySlots ?? [];
  for (const name of named) {
    const slot = primary.physicalSlots.find((candidate) => candidate.name === name);
    const state = slot === undefined ? 'missing' : slot.walStatus === 'lost' ? 'lost' : slot.active ? undefined : 'inactive';
    if (state === undefined) continue;
    const why = { missing: 'which this primary does not have (a promoted standby inherits the setting from its old primary)', lost: 'which is lost (wal_status = lost)', inactive: 'whose standby is not connected' }[state];
    add(state === 'inactive' ? 'warning' : 'error', primary.host, `synchronized_standby_slots on ${primary.host} names ${name}, ${why}: logical decoding waits for it`, [
      state === 'inactive' ? `start that standby, or take ${name} out of synchronized_standby_slots on ${primary.host}: ALTER SYSTEM SET synchronized_standby_slots = '${named.filter((other) => other !== name).join(',')}'; ${RELOAD}` : `on ${primary.host}: ALTER SYSTEM SET synchronized_standby_slots = '${named.filter((other) => other !== name).join(',')}'; ${RELOAD} (set it again to its own standby's slot once one is attached)`,
    ]);
  }
  const missing = facts.standbys.map((standby) => standby.settings.primarySlotName).filter((name) => name !== '' && !named.includes(name));
  if (missing.length > 0) {
    add('warning', primary.host, `synchronized_standby_slots on ${primary.host} does not name ${missing.join(', ')} (the physical slot of its standby): the backup can get ahead of the standby, and a promotion is then refused with SOURCE_TIMELINE_FORKED`, [
      `on ${primary.host}: ALTER SYSTEM SET synchronized_standby_slots = '${[...named, ...missing].join(',')}'; ${RELOAD}`,
    ]);
  } else if (named.length > 0 && facts.standbys.length > 0) {
    add('ok', primary.host, `synchronized_standby_slots on ${primary.host} names ${named.join(', ')}`);
  }
}

function judgeStandbySettings(facts: FailoverFacts, standby: StandbyFacts, add: Add): void {
  const { host, settings } = standby;
  const set = (name: string, value: string): string => `on ${host}: ALTER SYSTEM SET ${name} = ${value}; ${RELOAD}`;
  /** unknown: not a setting found wrong, one that could not be read. */
  const problems: { text: string; fix: string; unknown?: true }[] = [];
  if (settings.syncReplicationSlots !== 'on') problems.push({ text: `sync_replication_slots is ${settings.syncReplicationSlots ?? 'unknown'}`, fix: set('sync_replication_slots', 'on') });
  if (settings.hotStandbyFeedback !== 'on') problems.push({ text: `hot_standby_feedback is ${settings.hotStandbyFeedback}`, fix: set('hot_standby_feedback', 'on') });
  if (settings.primarySlotName === '') problems.push({ text: 'primary_slot_name is not set', fix: `${set('primary_slot_name', "'replica1_slot'")} (the slot must exist on the primary: scripts/setup-master.sh makes it)` });
  if (settings.primaryConninfo === null) {
    problems.push({ text: `primary_conninfo cannot be read by this user (${standby.conninfoError ?? 'permission denied'}), so dbname in it is not checked`, unknown: true, fix: `on the primary (the grant reaches the standby): GRANT pg_read_all_settings TO ${quoteIdentifier(facts.user)}; or check primary_conninfo on ${host} as a superuser` });
  } else if (!conninfoHasDbname(settings.primaryConninfo)) {
    problems.push({ text: 'primary_conninfo has no dbname (slot synchronization needs one)', fix: `on ${host}: ALTER SYSTEM SET primary_conninfo = '<its conninfo> dbname=${facts.database}'; ${RELOAD}` });
  }
  if (settings.walLevel !== 'logical') problems.push({ text: `wal_level is ${settings.walLevel}`, fix: `on ${host}: ALTER SYSTEM SET wal_level = logical; then restart it` });
  if (problems.length === 0) {
    add('ok', host, `standby ${host} synchronizes slots: sync_replication_slots = on, hot_standby_feedback = on, primary_slot_name = ${settings.primarySlotName}, dbname in primary_conninfo, wal_level = logical`);
    return;
  }
  for (const problem of problems) add('warning', host, `standby ${host}: ${problem.text}${problem.unknown ? '' : `: it keeps no usable copy of slot ${facts.slotName} (${SETTINGS_DOC})`}`, [problem.fix]);
}

function judgeSlotCopy(facts: FailoverFacts, primary: PrimaryFacts, standby: StandbyFacts, add: Add): void {
  if (primary.slot === null) return; // nothing to copy yet
  const { host, slotCopy: copy } = standby;
  const promoted = `promoting ${host} now stops the stream with SLOT_MISSING_AFTER_USE and ${RESNAPSHOT.replace('after a failover ', '')}`;
  if (copy === null) {
    add('warning', host, `standby ${host} holds no copy of slot ${facts.slotName}: ${promoted}`, [
      primary.slot.failover === true ? `fix the settings above; with them right the slot sync worker copies it within a minute (${host}'s log says why not: "could not synchronize replication slot")` : 'turn failover on for the slot (above); the standby then copies it',
    ]);
  } else if (copy.synced !== true) {
    add('warning', host, `standby ${host} has a slot ${facts.slotName} that is not a synced copy (synced = false: made there, or left from before a pg_rewind): slot synchronization stops for that name`, [
      `on ${host}: SELECT pg_drop_replication_slot('${facts.slotName}'); the slot sync worker then copies the primary's`,
    ]);
  } else if (copy.invalidationReason !== null) {
    add('warning', host, `standby ${host}'s copy of slot ${facts.slotName} is invalidated (invalidation_reason = ${copy.invalidationReason}): ${promoted}`, [
      `its cause on ${host}: wal_removed (max_slot_wal_keep_size there), rows_removed (hot_standby_feedback, primary_slot_name); once fixed, rebuild the standby (scripts/init-replica.sh) to get a valid copy`,
    ]);
  } else if (copy.temporary) {
    add('warning', host, `standby ${host}'s copy of slot ${facts.slotName} is not persistent yet (temporary): it is dropped at promotion, so ${promoted}`, [
      `wait: the slot sync worker persists it once the primary's slot needs no older WAL or catalog rows than ${host} has (docs/operations.md, "Before promoting: is the copy usable?")`,
    ]);
  } else {
    add('ok', host, `standby ${host} holds a synced, valid copy of slot ${facts.slotName}${describePosition(copy.confirmedFlushLsn, primary.slot.confirmedFlushLsn)}`);
  }
}

function describePosition(copy: string | null, primary: string | null): string {
  if (copy === null) return '';
  if (primary === null) return ` at ${copy}`;
  const behind = parseLsn(primary) - parseLsn(copy);
  return behind <= 0n ? ` at ${copy}, level with the primary's` : ` at ${copy}, ${behind} bytes behind the primary's ${primary}`;
}

/** Whether a libpq conninfo (keyword=value pairs or a URI) names a database. */
export function conninfoHasDbname(conninfo: string): boolean {
  const uri = /^postgres(?:ql)?:\/\/[^/?#]*(\/[^?#]*)?(\?[^#]*)?/.exec(conninfo.trim());
  if (uri) return decodeURIComponent(uri[1]?.slice(1) ?? '') !== '' || /(?:^\?|&)dbname=[^&]/.test(uri[2] ?? '');
  const keyword = /(?:^|\s)dbname\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))/.exec(conninfo);
  return keyword !== null && (keyword[1] ?? keyword[2] ?? '') !== '';
}
