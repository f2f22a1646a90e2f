import type { StatusProblem } from '../inspect/status-report.js';
import type { PostgresServer, RedisServer, TopologyLevel, TopologyProblem, TopologyReport } from './topology-report.js';

export interface TopologyLimits {
  /** Standby replay lag and Redis link silence above which it warns (the seed: 30 s). */
  maxLagSeconds: number;
}

const PROMOTE_PG = 'promote the standby (docs/operations.md) or start the primary';
const LAG_FIX = 'disk I/O or CPU on the standby, long queries with hot_standby_feedback, or the network between the hosts';
const SPLIT_BRAIN = 'stop writes to all but one, and make the others follow it';

/**
 * Everything the topology view warns about, from what was read (pure: unit-tested apart).
 * `logicalProblems` are `storx-replicator status`'s, its errors counted as critical.
 */
export function judgeTopology(report: Omit<TopologyReport, 'status' | 'exit_code' | 'problems'>, logicalProblems: readonly StatusProblem[], limits: TopologyLimits): TopologyProblem[] {
  return [...judgePostgres(report.postgres.servers, limits), ...judgeLogical(logicalProblems), ...(report.redis.checked ? judgeRedis(report.redis.servers, limits) : [])];
}

function judgePostgres(servers: readonly PostgresServer[], { maxLagSeconds }: TopologyLimits): TopologyProblem[] {
  const problems: TopologyProblem[] = [];
  const add = (severity: TopologyProblem['severity'], item: TopologyProblem['item'], server: string | null, message: string, fix: string): void => {
    problems.push({ severity, item, server, message, fix });
  };
  for (const server of servers) {
    if (server.error !== null) add('critical', 'postgres', server.name, `PostgreSQL ${server.name}: ${server.error}`, 'check that it runs and that this host reaches it (URL, firewall, pg_hba.conf)');
  }
  const primaries = servers.filter((server) => server.role === 'primary');
  if (primaries.length === 0) add('critical', 'postgres', null, 'no PostgreSQL primary among the servers: nothing takes writes', PROMOTE_PG);
  if (primaries.length > 1) add('critical', 'postgres', null, `${primaries.length} PostgreSQL primaries (${primaries.map((server) => server.name).join(', ')}): a split brain, or an old primary back on its own timeline`, `${SPLIT_BRAIN} (rebuild the old primary as a standby)`);
  // A standby's own view counts lag from its last replayed commit (none yet after a restart:
  // unknown); the primary's pg_stat_replication measures it too, and speaks for a standby the
  // view was not given. One warning per lag, the standby's own first.
  let lagSeen = false;
  for (const server of servers) {
    const standby = server.standby;
    if (standby === null) continue;
    if (standby.receiver_status !== 'streaming') {
      add('critical', 'standby', server.name, `standby ${server.name} is not streaming (WAL receiver ${standby.receiver_status ?? 'not running'})`, "its PostgreSQL log says why: primary_conninfo, the replication user's password, pg_hba.conf, or the primary's slot");
    } else if (standby.replay_lag_seconds !== null && standby.replay_lag_seconds > maxLagSeconds) {
      add('warning', 'standby', server.name, `standby ${server.name} replays ${Math.round(standby.replay_lag_seconds)} s behind (limit ${maxLagSeconds} s)`, LAG_FIX);
      lagSeen = true;
    }
  }
  for (const primary of primaries) {
    const standbys = servers.filter((server) => server.role === 'standby');
    if (standbys.length > 0 && primary.standbys.length === 0) {
      add('critical', 'standby', primary.name, `primary ${primary.name} has no standby connected`, 'check the standby host (its WAL receiver and log)');
    }
    for (const connection of primary.standbys) {
      if (connection.state !== 'streaming') add('warning', 'standby', primary.name, `standby ${connection.application_name} (${connection.client_addr ?? 'local'}) is ${connection.state}, not streaming`, 'wait for catchup to finish; if it stays, the standby log says why');
      else if (!lagSeen && connection.replay_lag_seconds !== null && connection.replay_lag_seconds > maxLagSeconds) {
        add('warning', 'standby', primary.name, `standby ${connection.application_name} (${connection.client_addr ?? 'local'}) replays ${Math.round(connection.replay_lag_seconds)} s behind, by ${primary.name}'s pg_stat_replication (limit ${maxLagSeconds} s)`, LAG_FIX);
      }
    }
    for (const slot of primary.physical_slots) {
      if (slot.wal_status === 'lost') add('critical', 'physical_slot', primary.name, `physical slot ${slot.name} is lost (WAL it needed was removed)`, 'rebuild the standby (init-replica) and recreate the slot');
      else if (!slot.active) add('warning', 'physical_slot', primary.name, `physical slot ${slot.name} is not in use: it keeps WAL (${slot.retained_bytes ?? '?'} bytes) until its standby returns`, 'bring the standby back, or drop the slot if the standby is gone for good');
    }
  }
  return problems;
}

function judgeLogical(problems: readonly StatusProblem[]): TopologyProblem[] {
  return problems.map((problem) => ({ severity: problem.severity === 'error' ? 'critical' : 'warning', item: problem.item === 'receiver' ? 'receiver' : 'slot', server: null, message: problem.message, fix: problem.fix }));
}

function judgeRedis(servers: readonly RedisServer[], { maxLagSeconds }: TopologyLimits): TopologyProblem[] {
  const problems: TopologyProblem[] = [];
  const add = (severity: TopologyProblem['severity'], server: string | null, message: string, fix: string): void => {
    problems.push({ severity, item: 'redis', server, message, fix });
  };
  for (const server of servers) {
    if (server.error !== null) add('critical', server.name, `Redis ${server.name}: ${server.error}`, 'check that it runs, REDIS_PASSWORD, and --redis-tls-dir (a certificate signed by its CA)');
  }
  const masters = servers.filter((server) => server.role === 'master');
  if (masters.length === 0) add('critical', null, 'no Redis master among the servers: nothing takes writes', 'scripts/redis-promote.sh on the replica host, or start the master');
  if (masters.length > 1) add('critical', null, `${masters.length} Redis masters (${masters.map((server) => server.name).join(', ')}): a split brain`, `${SPLIT_BRAIN} (scripts/redis-follow.sh)`);
  for (const server of servers) {
    const link = server.link;
    if (link === null) continue;
    if (link.status !== 'up') {
      add('critical', server.name, `Redis replica ${server.name}: link to ${link.master} is ${link.status}${link.down_seconds === null ? '' : ` for ${link.down_seconds} s`}`, 'the replica serves stale data meanwhile; its log says why (TLS, masterauth, network)');
      continue;
    }
    if (link.sync_in_progress) add('warning', server.name, `Redis replica ${server.name} is syncing from ${link.master}`, 'wait; a sync that repeats is a full-resync loop (raise repl-backlog-size)');
    if (link.last_io_seconds > maxLagSeconds) add('warning', server.name, `Redis replica ${server.name}: no I/O from ${link.master} for ${link.last_io_seconds} s (limit ${maxLagSeconds} s)`, 'the master pings every 10 s: the link or the master is stuck');
    const backlog = masters[0]?.repl_backlog_size;
    if (link.lag_bytes !== null && backlog != null && link.lag_bytes > backlog / 2) {
      add('warning', server.name, `Redis replica ${server.name} is ${link.lag_bytes} bytes behind, over half the master's backlog (${backlog})`, 'a cut now would cost a full resync: raise repl-backlog-size, look at the network');
    }
  }
  const replicas = servers.filter((server) => server.role === 'replica');
  for (const master of masters) {
    if (replicas.length > 0 && master.replicas.length === 0) add('warning', master.name, `Redis master ${master.name} has no replica connected`, 'check the replica host (scripts/check-redis-status.sh replica)');
  }
  return problems;
}

/** The worst problem's level and exit code. */
export function topologyLevel(problems: readonly TopologyProblem[]): { status: TopologyLevel; exit_code: 0 | 1 | 2 } {
  if (problems.some((problem) => problem.severity === 'critical')) return { status: 'critical', exit_code: 2 };
  if (problems.length > 0) return { status: 'warning', exit_code: 1 };
  return { status: 'ok', exit_code: 0 };
}
