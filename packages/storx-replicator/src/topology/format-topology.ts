import { describeBytes } from '../inspect/byte-limit.js';
import { type Mark, MARK_SYMBOLS } from '../inspect/marks.js';
import type { PostgresServer, RedisServer, TopologyProblem, TopologyReport } from './topology-report.js';

/**
 * The human form: one line per server and per logical-replication item, marked ✓ / ! / ✗ by
 * the worst problem about it, then every problem with its fix, then the overall status.
 */
export function formatTopology(report: TopologyReport): string {
  const out: string[] = [];
  const mark = (about: (problem: TopologyProblem) => boolean, skipped = false): string => {
    const problems = report.problems.filter(about);
    const level: Mark = skipped ? 'skipped' : problems.some((problem) => problem.severity === 'critical') ? 'error' : problems.length > 0 ? 'warning' : 'ok';
    return MARK_SYMBOLS[level];
  };
  const sections = ['postgres', 'standby', 'physical_slot'] as const;

  out.push('PostgreSQL');
  for (const server of report.postgres.servers) out.push(`  ${mark((p) => p.server === server.name && sections.includes(p.item as (typeof sections)[number]))} ${describePostgres(server)}`);
  if (report.postgres.servers.length === 0) out.push('  - no server given');

  out.push('Logical replication (the backup stream)');
  const { slot, receiver, receiver_lag_bytes } = report.logical;
  const slotText = slot.exists === null ? 'not checked' : !slot.exists ? 'missing' : `${slot.active ? 'active' : 'inactive'}, confirmed ${slot.confirmed_flush_lsn ?? 'none'}, lag ${describeBytes(slot.lag_bytes ?? 0)}, wal_status ${slot.wal_status ?? 'n/a'}`;
  out.push(`  ${mark((p) => p.item === 'slot', slot.exists === null)} slot ${slot.name}: ${slotText}`);
  const receiverText = !receiver.checked
    ? (receiver.note ?? 'not checked')
    : receiver.accepted
      ? `applied up to ${receiver.watermark_lsn ?? 'nothing yet'}${receiver_lag_bytes === null ? '' : `, ${describeBytes(receiver_lag_bytes)} behind the primary`}`
      : receiver.reachable
        ? `answered HTTP ${receiver.http_status ?? '?'}`
        : 'unreachable';
  out.push(`  ${mark((p) => p.item === 'receiver', !receiver.checked)} receiver${receiver.url === null ? '' : ` ${receiver.url}`}: ${receiverText}`);

  out.push('Redis');
  if (!report.redis.checked) out.push('  - not checked (no --redis)');
  for (const server of report.redis.servers) out.push(`  ${mark((p) => p.item === 'redis' && p.server === server.name)} ${describeRedis(server)}`);

  if (report.problems.length > 0) {
    out.push('Problems');
    for (const problem of report.problems) out.push(`  ${problem.severity === 'critical' ? MARK_SYMBOLS.error : MARK_SYMBOLS.warning} ${problem.message}`, `      fix: ${problem.fix}`);
  }
  out.push(`status: ${report.status}`);
  return `${out.join('\n')}\n`;
}

function describePostgres(server: PostgresServer): string {
  if (server.error !== null && server.role === null) return `${server.name}: unreachable`;
  if (server.role === 'primary') {
    const standbys = server.standbys.map((standby) => `${standby.application_name || standby.client_addr || 'standby'} ${standby.state}, replay ${describeBytes(standby.replay_lag_bytes ?? 0)}${standby.replay_lag_seconds === null ? '' : ` / ${standby.replay_lag_seconds.toFixed(1)} s`} behind`);
    const slots = server.physical_slots.map((slot) => `${slot.name} ${slot.active ? 'active' : 'inactive'}${slot.wal_status === null ? '' : ` (${slot.wal_status})`}`);
    return `${server.name}: primary, WAL at ${server.current_wal_lsn ?? '?'}; standbys: ${standbys.join('; ') || 'none'}${slots.length > 0 ? `; physical slots: ${slots.join(', ')}` : ''}`;
  }
  const standby = server.standby;
  if (standby === null) return `${server.name}: ${server.role ?? 'unknown'}`;
  const lag = `${standby.replay_lag_bytes === null ? '? bytes' : describeBytes(standby.replay_lag_bytes)} / ${standby.replay_lag_seconds === null ? '?' : standby.replay_lag_seconds.toFixed(1)} s`;
  return `${server.name}: standby, WAL receiver ${standby.receiver_status ?? 'not running'}${standby.upstream === null ? '' : ` from ${standby.upstream}`}, replayed ${standby.replay_lsn ?? '?'}, ${lag} behind`;
}

function describeRedis(server: RedisServer): string {
  if (server.role === null) return `${server.name}: ${server.reachable ? 'refused' : 'unreachable'}`;
  const resyncs = `full resyncs served ${server.sync_full ?? '?'}, partial ${server.sync_partial_ok ?? '?'}`;
  if (server.role === 'master') {
    const replicas = server.replicas.map((replica) => `${replica.address} ${replica.state}, offset ${replica.offset}, ack ${replica.ack_seconds} s ago`);
    return `${server.name}: master, offset ${server.repl_offset ?? '?'}; replicas: ${replicas.join('; ') || 'none'}; ${resyncs}`;
  }
  const link = server.link!;
  return `${server.name}: replica of ${link.master}, link ${link.status}, last I/O ${link.last_io_seconds} s ago, offset ${link.offset}, ${link.lag_bytes === null ? '? bytes' : describeBytes(link.lag_bytes)} behind`;
}
