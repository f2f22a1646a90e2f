import { describeBytes } from './byte-limit.js';
import { type Mark, MARK_SYMBOLS } from './marks.js';
import type { StatusProblem, StatusReport } from './status-report.js';

/**
 * The human form of a status report: one line per item, marked ✓ (fine), ! (warning),
 * ✗ (error) or - (not checked), with each problem and its fix indented below its item.
 */
export function formatStatus(report: StatusReport): string {
  const out: string[] = [];
  const { database, slot, publication, receiver } = report;
  const item = (name: StatusProblem['item'], summary: string, skipped = false): void => {
    const problems = report.problems.filter((problem) => problem.item === name);
    const mark: Mark = skipped ? 'skipped' : problems.some((problem) => problem.severity === 'error') ? 'error' : problems.length > 0 ? 'warning' : 'ok';
    out.push(`${MARK_SYMBOLS[mark]} ${summary}`);
    for (const problem of problems) out.push(`    ${problem.message}`, `    fix: ${problem.fix}`);
  };
  const notChecked = 'not checked (no database connection)';

  item('database', database.reachable ? `database: connected (source id ${report.source_id})` : 'database: unreachable');
  const connected = database.reachable && report.wal_level !== null;
  item('wal_level', `wal_level: ${report.wal_level ?? notChecked}`, !connected);
  if (!connected || slot.exists === null) item('slot', `slot ${slot.name}: ${notChecked}`, true);
  else if (!slot.exists) item('slot', `slot ${slot.name}: missing`);
  else {
    const use = slot.active ? `active (pid ${slot.active_pid ?? '?'})` : 'inactive';
    item('slot', `slot ${slot.name}: ${use}, confirmed_flush_lsn ${slot.confirmed_flush_lsn ?? 'none'}, wal_status ${slot.wal_status ?? 'n/a'}`);
    item('lag', `lag: ${describeBytes(slot.lag_bytes ?? 0)}, limit ${describeBytes(slot.max_lag_bytes)}`);
  }
  const { failover } = report;
  if (!failover.checked) item('failover', `failover: ${notChecked}`, true);
  else {
    const fine = failover.findings.filter((finding) => finding.level === 'info' || finding.level === 'ok').map((finding) => finding.text);
    item('failover', `failover: ${fine.join('; ') || 'see below'}`);
  }
  if (!connected || publication.exists === null) item('publication', `publication ${publication.name}: ${notChecked}`, true);
  else if (!publication.exists) item('publication', `publication ${publication.name}: missing`);
  else item('publication', `publication ${publication.name}: ${publication.all_tables ? 'FOR ALL TABLES' : publication.tables.join(', ') || 'no tables'}`);

  const where = receiver.url === null ? 'receiver' : `receiver ${receiver.url}`;
  if (!receiver.checked) item('receiver', `${where}: ${receiver.note ?? 'not checked'}`, true);
  else if (receiver.accepted) item('receiver', `${where}: reachable, accepted our signed ping (HTTP ${receiver.http_status ?? '?'}; applied up to ${receiver.watermark_lsn ?? 'nothing yet'})`);
  else if (receiver.reachable === null) item('receiver', `${where}: not pinged (the keys did not load)`);
  else item('receiver', `${where}: ${receiver.reachable ? `answered HTTP ${receiver.http_status ?? '?'}` : 'unreachable'}`);

  const tables = report.backup_tables;
  if (!tables.checked) item('backup_tables', `backup tables: ${tables.note ?? 'not checked'}`, true);
  else {
    const takes = tables.tables.filter((table) => table.ok).length;
    item('backup_tables', `backup tables: the backup database can take ${takes} of ${tables.tables.length} (the receiver prepared each as its first batch would, and rolled it back)`);
  }

  const { replication } = report;
  const failure = replication.failure;
  if (replication.blocked) item('replication', `replication: blocked since ${failure?.since ?? '?'} (${failure?.code ?? '?'})`);
  else if (failure !== null) item('replication', `replication: deliveries failing since ${failure.since} (${failure.code})`);
  else if (replication.run_health === 'ok') item('replication', 'replication: run delivers (its /healthz says ok)');
  else if (replication.blocked === false) item('replication', 'replication: the receiver records no refusal from this source');
  else item('replication', 'replication: not known (run has no metrics-listen or does not answer, and the receiver was not asked)', true);

  out.push(`status: ${report.status}`);
  return `${out.join('\n')}\n`;
}
