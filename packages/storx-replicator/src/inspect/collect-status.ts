import type pg from 'pg';
import { formatLsn } from '@storx-backup/protocol';
import type { ReplicatorConfig } from '../config.js';
import { REPLICATOR_ERRORS } from '../errors.js';
import { loadReplicatorKeys, type ReplicatorKeys } from '../replicator-keys.js';
import { judgePublication, readPublicationFacts } from '../source/publication-access.js';
import { walLevel } from '../source/server-checks.js';
import { readSlot, type SlotState } from '../source/slot.js';
import { qualified, resolveTables } from '../source/source-tables.js';
import { askBackupTables } from './backup-tables-check.js';
import { checkFailover, failoverProblems, failoverSection } from './failover-report.js';
import { pingProblem } from './ping-problem.js';
import { pingReceiver, type PingOutcome, signatureRejectedFix } from './receiver-ping.js';
import { judgeReplication } from './replication-check.js';
import { readRunHealth } from './run-health.js';
import { WAL_LEVEL_FIX } from './seed-fixes.js';
import { judgeSlot } from './slot-health.js';
import { connectSource } from './source-connect.js';
import { type StatusProblem, type StatusReport, statusLevel } from './status-report.js';
import { missingWebhookSettings } from './webhook-settings.js';

/**
 * Looks at the source and the receiver without changing either (plain SELECTs and two pings,
 * which the receiver answers without writing; the second asks whether it could take each
 * table, prepared in a transaction it rolls back), and judges what it saw.
 */
export async function collectStatus(config: ReplicatorConfig, maxLagBytes: number): Promise<StatusReport> {
  const report: StatusReport = {
    status: 'ok',
    exit_code: 0,
    checked_at: new Date().toISOString(),
    config_file: config.configFile ?? null,
    source_id: config.sourceId,
    database: { reachable: false, error: null },
    wal_level: null,
    slot: { name: config.slotName, exists: null, active: null, active_pid: null, plugin: null, confirmed_flush_lsn: null, restart_lsn: null, wal_status: null, current_wal_lsn: null, lag_bytes: null, max_lag_bytes: maxLagBytes },
    publication: { name: config.publicationName, exists: null, all_tables: null, tables: [], missing_tables: [] },
    receiver: { url: null, checked: false, reachable: null, accepted: null, http_status: null, watermark_lsn: null, error: null, note: null },
    backup_tables: { checked: false, note: null, tables: [] },
    replication: { blocked: null, run_health: null, failure: null },
    failover: { checked: false, primary: null, server_version_num: null, standbys: [], findings: [] },
    problems: [],
  };

  // The receiver first: whether it has applied anything tells what a missing slot means.
  const receiverProblems: StatusProblem[] = [];
  // One host: its connection is opened meanwhile (a firewalled host costs one timeout, not two).
  const connecting = config.sourceUrls.length === 1 ? connectSource(config.databaseUrl) : undefined;
  connecting?.catch(() => undefined); // observed below
  const [ping, runHealth, failover] = await Promise.all([checkReceiver(config, report, receiverProblems), readRunHealth(config), checkFailover(config)]);
  report.failover = failoverSection(failover.facts, failover.findings);
  const watermark = ping?.outcome.kind === 'accepted' ? ping.outcome.watermarkLsn : undefined;
  const replication = judgeReplication(runHealth, ping?.outcome.kind === 'accepted' ? ping.outcome.refusal : undefined);
  report.replication = replication.section;

  const sourceProblems: StatusProblem[] = [];
  let client: pg.Client | undefined;
  try {
    // With several source hosts the slot and the publication are read on the primary.
    client = await (connecting ?? connectSource(failover.facts.primary?.url ?? config.databaseUrl));
  } catch (error) {
    report.database.error = (error as Error).message;
    sourceProblems.push({ severity: 'error', item: 'database', message: `cannot connect to the database: ${(error as Error).message}`, fix: 'check the database URL (host, port, user, password, sslmode) and that PostgreSQL runs; storx-replicator doctor checks the rest' });
  }
  if (client !== undefined) {
    report.database.reachable = true;
    try {
      sourceProblems.push(...(await checkSource(client, config, report, maxLagBytes, watermark)));
    } catch (error) {
      report.database.error = (error as Error).message;
      sourceProblems.push({ severity: 'error', item: 'database', message: `reading the source failed: ${(error as Error).message}`, fix: 'storx-replicator doctor shows what the user lacks' });
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  // Asked once the source answered (the tables are read there): an unreachable host costs no second timeout.
  const tableProblems = report.database.reachable ? await askTableQuestion(config, report, ping) : [];
  if (!report.database.reachable) report.backup_tables.note = 'not checked (no database connection)';
  if (report.replication.blocked) explainInactiveSlot(sourceProblems);
  // An unreachable single host is already the database error; failover findings add nothing then.
  report.problems = [...sourceProblems, ...(report.database.reachable ? failoverProblems(failover.findings) : []), ...receiverProblems, ...tableProblems, ...replication.problems];
  Object.assign(report, statusLevel(report.problems));
  return report;
}

async function checkSource(client: pg.Client, config: ReplicatorConfig, report: StatusReport, maxLagBytes: number, watermark: string | null | undefined): Promise<StatusProblem[]> {
  const problems: StatusProblem[] = [];
  const level = await walLevel(client);
  report.wal_level = level;
  const walProblem = walLevelProblem(level);
  if (walProblem) problems.push(walProblem);

  const { rows } = await client.query<{ database: string }>('SELECT current_database() AS database');
  const slot = await readSlot(client, config.slotName);
  describeSlot(report, slot);
  problems.push(...judgeSlot(config.slotName, slot, rows[0]!.database, maxLagBytes, watermark));

  const facts = await readPublicationFacts(client, config.publicationName);
  report.publication.exists = facts.exists;
  report.publication.all_tables = facts.exists ? facts.allTables : null;
  report.publication.tables = facts.published;
  const { found, missing } = await resolveTables(client, config.tables);
  const verdict = judgePublication(facts, found);
  if (facts.exists) report.publication.missing_tables = facts.allTables ? missing : [...found.map(qualified).filter((table) => !facts.published.includes(table)), ...missing];
  if (!verdict.ok) {
    // run would stop here: an error, with the statement that fixes it (the same as doctor's).
    problems.push({ severity: 'error', item: 'publication', message: verdict.message, fix: verdict.fix.join(' ') });
  } else if (verdict.action === 'create') {
    problems.push({ severity: 'warning', item: 'publication', message: `publication ${config.publicationName} does not exist`, fix: 'storx-replicator run creates it (this user may)' });
  } else if (report.publication.missing_tables.length > 0) {
    problems.push({ severity: 'warning', item: 'publication', message: `publication ${config.publicationName} does not publish ${report.publication.missing_tables.join(', ')}`, fix: 'storx-replicator run reconciles it with replication.tables (storx-replicator doctor checks the tables)' });
  }
  return problems;
}

/** Without wal_level = logical there is no logical decoding at all: an error. */
export function walLevelProblem(level: string): StatusProblem | undefined {
  return level === 'logical' ? undefined : { severity: 'error', item: 'wal_level', message: `wal_level is not logical (it is ${level})`, fix: WAL_LEVEL_FIX.join(' ') };
}

function describeSlot(report: StatusReport, slot: SlotState | undefined): void {
  report.slot.exists = slot !== undefined;
  if (slot === undefined) return;
  Object.assign(report.slot, {
    active: slot.active,
    active_pid: slot.activePid,
    plugin: slot.plugin,
    confirmed_flush_lsn: slot.confirmedFlushLsn === undefined ? null : formatLsn(slot.confirmedFlushLsn),
    restart_lsn: slot.restartLsn === undefined ? null : formatLsn(slot.restartLsn),
    wal_status: slot.walStatus,
    current_wal_lsn: formatLsn(slot.currentWalLsn),
    lag_bytes: Number(slot.lagBytes),
  });
}

/** While run is blocked its slot may be idle: "start run" would be the wrong advice. */
function explainInactiveSlot(problems: StatusProblem[]): void {
  for (const problem of problems) {
    if (problem.item === 'slot' && problem.severity === 'warning' && problem.message.includes('is not in use')) {
      problem.fix = 'run is blocked by a refusal of the receiver (see replication below): fix that, and it streams again';
    }
  }
}

/**
 * Asks the receiver whether the backup could take each table, as doctor does, once it accepted
 * the plain ping. A table it could not take is an error: run would be refused at its first
 * batch (TABLE_INCOMPATIBLE); one it could not check (its database unavailable) a warning. Not asked (the ping above failed, no tables found, an older
 * receiver): a note, the problem being reported by its own item.
 */
async function askTableQuestion(config: ReplicatorConfig, report: StatusReport, ping: { outcome: PingOutcome; keys: ReplicatorKeys } | undefined): Promise<StatusProblem[]> {
  if (ping?.outcome.kind !== 'accepted') {
    report.backup_tables.note = 'not checked (the receiver did not accept the ping)';
    return [];
  }
  const answer = await askBackupTables(config, ping.keys);
  if (answer.kind !== 'answered') {
    report.backup_tables.note = `not checked: ${answer.reason}${answer.fix.length > 0 ? `; fix: ${answer.fix.join('; ')}` : ''}`;
    return [];
  }
  report.backup_tables.checked = true;
  report.backup_tables.tables = answer.tables.map((table) => ({ table: table.name, ok: table.ok, problem: table.problem, fix: table.fix }));
  return answer.tables
    .filter((table) => !table.ok)
    .map((table) =>
      table.transient
        ? { severity: 'warning', item: 'backup_tables', message: `the receiver could not check ${table.name}: ${table.problem ?? ''}`, fix: table.fix.join(' ') }
        : { severity: 'error', item: 'backup_tables', message: `the backup database cannot take ${table.name}: ${table.problem ?? ''}`, fix: table.fix.join(' ') },
    );
}

/** Pings the receiver; undefined when it could not be pinged (settings or keys missing). */
async function checkReceiver(config: ReplicatorConfig, report: StatusReport, problems: StatusProblem[]): Promise<{ outcome: PingOutcome; keys: ReplicatorKeys } | undefined> {
  const missing = missingWebhookSettings(config);
  if (!missing.includes('replication.webhook-url')) report.receiver.url = config.webhookUrl.href;
  if (missing.length > 0) {
    report.receiver.note = `not checked: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set`;
    return undefined;
  }
  report.receiver.checked = true;
  let keys;
  try {
    keys = await loadReplicatorKeys(config);
  } catch (error) {
    report.receiver.error = (error as Error).message;
    problems.push({ severity: 'error', item: 'receiver', message: (error as Error).message, fix: `${REPLICATOR_ERRORS.KEY_PROBLEM.fix} (storx-replicator doctor shows the details)` });
    return undefined;
  }
  const outcome = await pingReceiver(config, keys);
  recordPing(report, outcome);
  const problem = pingProblem(outcome, signatureRejectedFix(config, keys), config.format, config.webhookUrl);
  if (problem) problems.push({ severity: problem.severity, item: 'receiver', message: problem.message, fix: problem.fix.join('; ') });
  return { outcome, keys };
}

function recordPing(report: StatusReport, outcome: PingOutcome): void {
  report.receiver.reachable = outcome.kind !== 'unreachable';
  report.receiver.accepted = outcome.kind === 'accepted';
  report.receiver.http_status = outcome.kind === 'unreachable' ? null : outcome.httpStatus;
  if (outcome.kind === 'accepted') report.receiver.watermark_lsn = outcome.watermarkLsn;
  else report.receiver.error = outcome.reason;
}
