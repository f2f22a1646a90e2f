import type { ReplicatorConfig } from '../config.js';
import { collectStatus } from '../inspect/collect-status.js';
import { judgeTopology, type TopologyLimits, topologyLevel } from './judge-topology.js';
import { readPostgresServer } from './read-postgres-server.js';
import { type RedisAccess } from './redis/redis-access.js';
import { readRedisServer } from './redis/read-redis-server.js';
import { receiverLagBytes, relateRedisToMaster, relateToPrimary, single } from './relate-servers.js';
import type { TopologyReport } from './topology-report.js';

export interface TopologyTargets {
  /** PostgreSQL servers of both hosts (URLs); their roles are found out, not assumed. */
  postgresUrls: readonly string[];
  /** Redis servers of both hosts (host:port); empty: Redis not checked. */
  redisServers: readonly string[];
  /** Needed when redisServers is not empty. */
  redisAccess: RedisAccess | undefined;
  /** How long one server may take to answer. */
  timeoutMs: number;
}

/**
 * Reads both hosts (PostgreSQL and Redis, concurrently, read-only) and the replicator's slot and
 * receiver (`storx-replicator status`'s collection), and judges the whole.
 */
export async function collectTopology(config: ReplicatorConfig, targets: TopologyTargets, limits: TopologyLimits & { maxSlotLagBytes: number }): Promise<TopologyReport> {
  const { redisAccess } = targets;
  const [postgres, redis, status] = await Promise.all([
    Promise.all(targets.postgresUrls.map((url) => readPostgresServer(url, targets.timeoutMs))),
    redisAccess === undefined ? Promise.resolve([]) : Promise.all(targets.redisServers.map((name) => readRedisServer(name, redisAccess, targets.timeoutMs))),
    collectStatus(config, limits.maxSlotLagBytes),
  ]);
  const primary = single(postgres, 'primary');
  relateToPrimary(postgres, primary);
  relateRedisToMaster(redis, single(redis, 'master'));
  const partial = {
    checked_at: new Date().toISOString(),
    postgres: { primary: primary?.name ?? null, servers: postgres },
    logical: { slot: status.slot, receiver: status.receiver, receiver_lag_bytes: receiverLagBytes(primary, status.receiver.watermark_lsn) },
    redis: { checked: redisAccess !== undefined && targets.redisServers.length > 0, master: single(redis, 'master')?.name ?? null, servers: redis },
  };
  const problems = judgeTopology(partial, status.problems, limits);
  return { ...topologyLevel(problems), ...partial, problems };
}
