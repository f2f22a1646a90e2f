import { formatFlagsHelp, formatOptionsHelp, parseCommandLine, UsageError } from '@storx-backup/service-kit';
import type { Command, CommandContext } from '@storx-backup/service-kit';
import { DEFAULT_CONFIG_PATH, ENV_PREFIX, loadReplicatorConfig, REPLICATOR_OPTIONS } from '../config.js';
import { parseByteLimit } from '../inspect/byte-limit.js';
import { collectTopology, type TopologyTargets } from '../topology/collect-topology.js';
import { formatTopology } from '../topology/format-topology.js';
import { loadRedisAccess, redisAddress } from '../topology/redis/redis-access.js';
import { serveTopologyMetrics } from '../topology/serve-topology-metrics.js';

/** The environment variables `topology` reads besides the configuration's. */
export const TOPOLOGY_ENVIRONMENT = ['STORX_TOPOLOGY_POSTGRES', 'STORX_TOPOLOGY_REDIS', 'REDIS_PASSWORD', 'REDIS_TLS_DIR'] as const;

const DEFAULT_MAX_LAG_SECONDS = 30;
const DEFAULT_MAX_LAG_BYTES = 1024 ** 3;
const DEFAULT_TIMEOUT_SECONDS = 5;
const DEFAULT_REDIS_TLS_DIR = '/usr/local/etc/redis/tls';

const FLAGS = {
  config: { type: 'string', description: `YAML config file (or STORX_CONFIG; default ${DEFAULT_CONFIG_PATH} when it exists): the slot and the receiver` },
  postgres: { type: 'string', description: "both hosts' PostgreSQL, comma-separated URLs (or STORX_TOPOLOGY_POSTGRES; default: the config's database)" },
  redis: { type: 'string', description: "both hosts' Redis, comma-separated host:port (or STORX_TOPOLOGY_REDIS); password from REDIS_PASSWORD" },
  'redis-tls-dir': { type: 'string', description: `ca.crt, redis.crt, redis.key for Redis's mutual TLS (or REDIS_TLS_DIR; default ${DEFAULT_REDIS_TLS_DIR})` },
  json: { type: 'boolean', description: 'print the report as one JSON object' },
  'max-lag-seconds': { type: 'string', description: `standby replay lag and Redis link silence above which it warns (default ${DEFAULT_MAX_LAG_SECONDS}, the seed's alert)` },
  'max-lag-bytes': { type: 'string', description: 'slot lag above which it warns: a size (512MiB) or bytes (default 1GiB)' },
  timeout: { type: 'string', description: `seconds one server may take to answer (default ${DEFAULT_TIMEOUT_SECONDS})` },
  'metrics-listen': { type: 'string', description: 'serve the figures as Prometheus metrics on HOST:PORT (/metrics, collected on each scrape) instead of printing once' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const;

export const topologyCommand: Command = {
  name: 'topology',
  summary: "one view of both hosts: PostgreSQL roles and standby lag, the slot and the receiver, Redis roles and offsets; exit 0/1/2",
  async run(argv, context) {
    const parsed = parseCommandLine(argv, REPLICATOR_OPTIONS, FLAGS, 'storx-replicator topology');
    if (parsed.flags['help']) {
      context.stdout(HELP);
      return 0;
    }
    const config = loadReplicatorConfig({ env: context.env, flags: parsed.options, configFile: parsed.flags['config'] as string | undefined }, 'inspect');
    const targets = topologyTargets(parsed.flags, context, config.databaseUrl);
    const limits = {
      maxLagSeconds: positiveNumber(parsed.flags['max-lag-seconds'], DEFAULT_MAX_LAG_SECONDS, '--max-lag-seconds'),
      maxSlotLagBytes: typeof parsed.flags['max-lag-bytes'] === 'string' ? parseByteLimit(parsed.flags['max-lag-bytes'], '--max-lag-bytes') : DEFAULT_MAX_LAG_BYTES,
    };
    const listen = parsed.flags['metrics-listen'];
    if (typeof listen === 'string') {
      await serveTopologyMetrics(listen, () => collectTopology(config, targets, limits), context);
      return 0;
    }
    const report = await collectTopology(config, targets, limits);
    context.stdout(parsed.flags['json'] ? `${JSON.stringify(report, null, 2)}\n` : formatTopology(report));
    return report.exit_code;
  },
};

function topologyTargets(flags: Record<string, string | boolean | undefined>, context: CommandContext, databaseUrl: string): TopologyTargets {
  const list = (flag: string, env: string): string[] => {
    const value = typeof flags[flag] === 'string' ? flags[flag] : context.env[env];
    return (value ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '');
  };
  const postgresUrls = list('postgres', 'STORX_TOPOLOGY_POSTGRES');
  const redisServers = list('redis', 'STORX_TOPOLOGY_REDIS');
  for (const name of redisServers) {
    try {
      redisAddress(name);
    } catch (error) {
      throw new UsageError(`--redis: ${(error as Error).message} (e.g. 10.0.0.1:6380,10.0.0.2:6380)`);
    }
  }
  let redisAccess;
  if (redisServers.length > 0) {
    const password = context.env['REDIS_PASSWORD'];
    if (!password) throw new UsageError('--redis needs REDIS_PASSWORD in the environment (the one in the hosts\' .env)');
    const tlsDir = typeof flags['redis-tls-dir'] === 'string' ? flags['redis-tls-dir'] : (context.env['REDIS_TLS_DIR'] ?? DEFAULT_REDIS_TLS_DIR);
    try {
      redisAccess = loadRedisAccess(tlsDir, password);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const timeoutMs = positiveNumber(flags['timeout'], DEFAULT_TIMEOUT_SECONDS, '--timeout') * 1000;
  return { postgresUrls: postgresUrls.length > 0 ? postgresUrls : [databaseUrl], redisServers, redisAccess, timeoutMs };
}

function positiveNumber(value: string | boolean | undefined, fallback: number, flag: string): number {
  if (typeof value !== 'string') return fallback;
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new UsageError(`${flag}: ${JSON.stringify(value)} is not a positive number of seconds`);
  return number;
}

const HELP = `Usage: storx-replicator topology [--postgres URL,URL] [--redis HOST:PORT,HOST:PORT] [--json] [options]

One view of the two-host topology, runnable on either host: both PostgreSQL servers (which one
is the primary, its standbys and their lag, physical slots), the backup stream's logical slot
and the receiver's watermark (as storx-replicator status reads them), and both Redis servers
(roles, link, offsets, lag). Roles are found out, not assumed: after a failover the same
command shows the new ones. Read-only: plain SELECTs, AUTH and INFO, one signed ping.

Exit status:
  0  ok
  1  warning: standby replay lag or Redis link silence over --max-lag-seconds, a standby not
     streaming yet (catchup), an inactive physical slot, a Redis replica syncing or more than
     half the master's backlog behind, a master with no replica connected, any warning of
     storx-replicator status
  2  critical: a server unreachable or refusing us, no primary or several (split brain), the
     same for Redis masters, a standby whose WAL receiver is not streaming, a primary with no
     standby connected, a lost physical slot, a Redis replica whose link is down, any error
     of storx-replicator status

--json prints one object:
  status              "ok" | "warning" | "critical"
  exit_code           0 | 1 | 2
  checked_at          ISO 8601 time
  postgres            { primary: "host:port"|null,
                        servers: [{ name, reachable, error, role: "primary"|"standby"|null,
                                    current_wal_lsn,
                                    standbys: [{ application_name, client_addr, state, sync_state,
                                                 replay_lsn, replay_lag_bytes, replay_lag_seconds }],
                                    physical_slots: [{ name, active, wal_status, retained_bytes }],
                                    standby: { receiver_status, upstream, receive_lsn, replay_lsn,
                                               replay_lag_bytes, replay_lag_seconds } | null }] }
  logical             { slot: (as in status --json), receiver: (as in status --json),
                        receiver_lag_bytes: the primary's WAL position - the watermark }
  redis               { checked, master: "host:port"|null,
                        servers: [{ name, reachable, error, role: "master"|"replica"|null,
                                    repl_offset, repl_backlog_size, sync_full, sync_partial_ok,
                                    replicas: [{ address, state, offset, ack_seconds }],
                                    link: { master, status, last_io_seconds, down_seconds,
                                            sync_in_progress, offset, lag_bytes } | null }] }
  problems            [{ severity: "warning"|"critical",
                         item: "postgres"|"standby"|"physical_slot"|"slot"|"receiver"|"redis",
                         server: "host:port"|null, message, fix }]

A standby's replay_lag_seconds counts only while WAL waits to be replayed: on an idle primary
the last replayed commit gets old without any lag, and that is no alarm. Where the standby
cannot say (no commit replayed since it started) or is not given, the primary's
pg_stat_replication.replay_lag is judged against the same limit.

--metrics-listen serves the same figures as storx_topology_* gauges (docs/operations.md,
"Monitoring"; alerts in docker/monitoring/alerts.yml) and runs until SIGTERM.

${formatFlagsHelp(FLAGS)}

Options (flags > environment > config file > defaults):
${formatOptionsHelp(REPLICATOR_OPTIONS, ENV_PREFIX)}
`;
