import { parseLsn } from '@storx-backup/protocol';
import { captureRun, type CapturedRun } from '@storx-backup/service-kit';
import { freePort, waitFor } from '@storx-backup/test-postgres';
import { makeRedisCerts, type RedisPair, runRedisScript, startRedisPair } from '@storx-backup/test-redis';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { TopologyMetrics } from '../src/topology/topology-metrics.js';
import type { TopologyProblem, TopologyReport } from '../src/topology/topology-report.js';
import { configuredBySetup, type Pair, runReplicator, startPair } from './support.js';

// `storx-replicator topology` against real servers: the source PostgreSQL with the replicator
// streaming from its slot into a real receiver, and a real Redis master and replica over TLS.
// No PostgreSQL standby here (the standby cases are judged in topology-judge.test.ts).

let pair: Pair;
let redis: RedisPair;
let configPath: string;
let running: ReturnType<typeof runReplicator>;
const slot = 'topology_slot';

beforeAll(async () => {
  [pair, redis] = await Promise.all([startPair(), startRedisPair()]);
  ({ configPath } = await configuredBySetup(pair, 'replicator-topology-'));
  running = runReplicator(pair.config({ 'replication.slot-name': slot }));
  await waitFor(async () => (await pair.source.query("SELECT 1 FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'", [`storx-replicator:${slot}`])).rowCount === 1, { description: 'replicator streaming', timeoutMs: 30_000 });
});
afterAll(async () => {
  await running?.stop();
  await pair?.source.query('SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [slot]).catch(() => undefined);
  await Promise.all([pair?.close(), redis?.stop()]);
});

const redisName = (server: { port: number }): string => `127.0.0.1:${server.port}`;

async function topology(flags: { postgres?: string[]; redis?: string[]; extra?: string[] } = {}): Promise<{ code: number; report: TopologyReport; run: CapturedRun }> {
  const argv = ['topology', '--json', '--config', configPath, '--replication.slot-name', slot, '--redis-tls-dir', redis.master.tlsDir, '--timeout', '3'];
  argv.push('--postgres', (flags.postgres ?? [pair.sourceUrl]).join(','));
  argv.push('--redis', (flags.redis ?? [redisName(redis.master), redisName(redis.replica)]).join(','));
  const run = await captureRun(main, [...argv, ...(flags.extra ?? [])], { REDIS_PASSWORD: redis.password });
  expect(run.stderr).toBe('');
  return { code: run.code, report: JSON.parse(run.stdout) as TopologyReport, run };
}

const messages = (problems: readonly TopologyProblem[], severity: TopologyProblem['severity']): string[] => problems.filter((problem) => problem.severity === severity).map((problem) => problem.message);

describe('storx-replicator topology', () => {
  it('healthy: exit 0; the primary, the slot and the watermark, Redis roles with matching offsets', async () => {
    await pair.source.query(`INSERT INTO segments (stream_id, position) SELECT gen_random_uuid(), g FROM generate_series(1, 20) g`);
    await redis.master.cli(['SET', 'topology', 'ok']);
    // Settled: the slot acknowledged past the insert, the replica acknowledged the write.
    const { code, report } = await waitFor(
      async () => {
        const result = await topology();
        const master = result.report.redis.servers[0]!;
        return result.code === 0 && result.report.logical.receiver_lag_bytes !== null && master.replicas[0]?.offset === master.repl_offset && result;
      },
      { description: 'a healthy, settled topology', timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(code).toBe(0);
    expect(report.status).toBe('ok');
    expect(report.problems).toEqual([]);
    const [source] = report.postgres.servers;
    expect(source).toMatchObject({ reachable: true, error: null, role: 'primary', standbys: [], standby: null });
    // The replicator's own walsender is a logical one: not listed as a standby.
    expect(report.postgres.primary).toBe(source!.name);
    const { rows } = await pair.source.query<{ confirmed: string }>('SELECT confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    expect(report.logical.slot).toMatchObject({ name: slot, exists: true, active: true });
    expect(report.logical.receiver).toMatchObject({ checked: true, accepted: true });
    expect(report.logical.receiver.watermark_lsn).not.toBeNull();
    // The receiver has applied up to what the slot confirmed (the slot moves only after it).
    expect(parseLsn(report.logical.receiver.watermark_lsn!) <= parseLsn(rows[0]!.confirmed)).toBe(true);

    const [master, replica] = report.redis.servers;
    expect(report.redis.master).toBe(redisName(redis.master));
    expect(master).toMatchObject({ role: 'master', link: null, reachable: true, error: null });
    expect(master!.replicas).toHaveLength(1);
    expect(master!.replicas[0]).toMatchObject({ address: redisName(redis.replica), state: 'online', offset: master!.repl_offset });
    expect(replica).toMatchObject({ role: 'replica', link: { master: redisName(redis.master), status: 'up', sync_in_progress: false } });
    expect(replica!.link!.offset).toBe(master!.repl_offset);
    expect(replica!.link!.lag_bytes).toBe(0);
    expect(master!.sync_full).toBe(1);

    const human = await captureRun(main, ['topology', '--config', configPath, '--replication.slot-name', slot, '--redis-tls-dir', redis.master.tlsDir, '--postgres', pair.sourceUrl, '--redis', `${redisName(redis.master)},${redisName(redis.replica)}`], { REDIS_PASSWORD: redis.password });
    expect(human.stdout).toContain(`✓ ${redisName(redis.replica)}: replica of ${redisName(redis.master)}, link up`);
    expect(human.stdout).toMatch(/✓ .*: primary, WAL at /);
    expect(human.stdout).toContain(`✓ slot ${slot}: active`);
    expect(human.stdout).toMatch(/status: ok\n$/);
  });

  it('the figures as Prometheus metrics', async () => {
    const { report } = await topology();
    const metrics = new TopologyMetrics();
    metrics.update(report);
    const text = await metrics.registry.metrics();
    expect(text).toContain('storx_topology_status 0');
    expect(text).toContain(`storx_topology_redis_is_master{server="${redisName(redis.master)}"} 1`);
    expect(text).toContain(`storx_topology_redis_is_master{server="${redisName(redis.replica)}"} 0`);
    expect(text).toContain(`storx_topology_redis_link_up{server="${redisName(redis.replica)}"} 1`);
    expect(text).toContain(`storx_topology_redis_sync_full{server="${redisName(redis.master)}"} 1`);
    expect(text).toContain(`storx_topology_postgres_is_primary{server="${report.postgres.primary}"} 1`);
    expect(text).toMatch(/storx_topology_logical_slot_lag_bytes \d+/);
  });

  it('critical: a PostgreSQL server that does not answer, and two primaries (split brain)', async () => {
    const closed = await freePort();
    const unreachable = await topology({ postgres: [pair.sourceUrl, `postgres://nobody:x@127.0.0.1:${closed}/none`] });
    expect(unreachable.code).toBe(2);
    expect(messages(unreachable.report.problems, 'critical')).toEqual([expect.stringContaining(`PostgreSQL 127.0.0.1:${closed}:`)]);
    expect(unreachable.report.postgres.primary).not.toBeNull();

    const twoPrimaries = await topology({ postgres: [pair.sourceUrl, pair.backupUrl] });
    expect(twoPrimaries.code).toBe(2);
    expect(twoPrimaries.report.postgres.primary).toBeNull();
    expect(messages(twoPrimaries.report.problems, 'critical')).toEqual([expect.stringContaining('2 PostgreSQL primaries')]);
  });

  it('warning: an inactive physical slot keeps WAL for a standby that is not there', async () => {
    const name = `topology_standby_${process.pid}`;
    await pair.source.query('SELECT pg_create_physical_replication_slot($1, true)', [name]);
    try {
      const { code, report } = await topology();
      expect(code).toBe(1);
      expect(report.postgres.servers[0]!.physical_slots).toContainEqual(expect.objectContaining({ name, active: false, wal_status: 'reserved' }));
      expect(messages(report.problems, 'warning')).toEqual([expect.stringContaining(`physical slot ${name} is not in use`)]);
    } finally {
      await pair.source.query('SELECT pg_drop_replication_slot($1)', [name]);
    }
  });

  it('Redis: wrong password or no certificate the CA signed is critical; link silence over the limit is a warning', async () => {
    const wrongPassword = await captureRun(main, ['topology', '--json', '--config', configPath, '--replication.slot-name', slot, '--redis-tls-dir', redis.master.tlsDir, '--postgres', pair.sourceUrl, '--redis', redisName(redis.master)], { REDIS_PASSWORD: 'not-the-password-at-all' });
    expect(wrongPassword.code).toBe(2);
    const refused = JSON.parse(wrongPassword.stdout) as TopologyReport;
    expect(refused.redis.servers[0]).toMatchObject({ reachable: true, role: null });
    expect(refused.redis.servers[0]!.error).toContain('WRONGPASS');

    const strangerDir = await mkdtemp(join(tmpdir(), 'topology-stranger-'));
    try {
      const stranger = await makeRedisCerts(strangerDir, ['stranger', 'other']);
      const foreignCa = await captureRun(main, ['topology', '--json', '--config', configPath, '--replication.slot-name', slot, '--redis-tls-dir', stranger.stranger, '--postgres', pair.sourceUrl, '--redis', redisName(redis.master)], { REDIS_PASSWORD: redis.password });
      expect(foreignCa.code).toBe(2);
      const foreign = (JSON.parse(foreignCa.stdout) as TopologyReport).redis.servers[0]!;
      expect(foreign.role).toBeNull();
      expect(foreign.error).not.toBeNull();
    } finally {
      await rm(strangerDir, { recursive: true, force: true });
    }

    // Silence: the master pings every 10 s; wait until the replica has heard nothing for a second.
    await waitFor(async () => Number(await redis.replica.info('master_last_io_seconds_ago')) >= 2, { description: 'a second without I/O on the link', timeoutMs: 15_000, intervalMs: 200 });
    const silent = await topology({ extra: ['--max-lag-seconds', '1'] });
    expect(silent.code).toBe(1);
    expect(messages(silent.report.problems, 'warning')).toEqual([expect.stringMatching(new RegExp(`Redis replica ${redisName(redis.replica)}: no I/O from .* for \\d+ s \\(limit 1 s\\)`))]);
  });

  it('Redis failover: two masters are a split brain; the old master following the new one gives the new roles; a master down is critical', async () => {
    const promoted = await runRedisScript('redis-promote.sh', ['--force'], redis.replica);
    expect(promoted.code, promoted.stderr).toBe(0);
    const splitBrain = await topology();
    expect(splitBrain.code).toBe(2);
    expect(splitBrain.report.redis.master).toBeNull();
    expect(messages(splitBrain.report.problems, 'critical')).toContainEqual(expect.stringContaining('2 Redis masters'));

    const follow = await runRedisScript('redis-follow.sh', ['127.0.0.1', String(redis.replica.port)], redis.master);
    expect(follow.code, follow.stderr).toBe(0);
    const swapped = await waitFor(async () => {
      const result = await topology();
      return result.code === 0 && result;
    }, { description: 'the new roles, settled', timeoutMs: 30_000, intervalMs: 500 });
    expect(swapped.report.redis.master).toBe(redisName(redis.replica));
    expect(swapped.report.redis.servers.map((server) => server.role)).toEqual(['replica', 'master']);
    expect(swapped.report.redis.servers[0]!.link).toMatchObject({ master: redisName(redis.replica), status: 'up' });

    // The new master stops: the old one (its replica now) has its link down; no master at all.
    await redis.replica.stop({ keepFiles: true });
    try {
      const down = await waitFor(async () => {
        const result = await topology();
        return result.report.redis.servers[0]!.link?.status === 'down' && result;
      }, { description: 'the link down', timeoutMs: 30_000, intervalMs: 300 });
      expect(down.code).toBe(2);
      const critical = messages(down.report.problems, 'critical');
      expect(critical).toContainEqual(expect.stringContaining(`Redis ${redisName(redis.replica)}:`));
      expect(critical).toContainEqual(expect.stringContaining('no Redis master'));
      expect(critical).toContainEqual(expect.stringMatching(new RegExp(`Redis replica ${redisName(redis.master)}: link to .* is down`)));
    } finally {
      await redis.replica.restart();
    }
  });

  it('the logical slot not in use (replicator stopped) is a warning', async () => {
    await running.stop();
    await waitFor(async () => (await pair.source.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [slot])).rowCount === 1, { description: 'the slot released' });
    const { code, report } = await topology({ redis: [] });
    expect(report.redis.checked).toBe(false);
    expect(code).toBe(1);
    expect(report.problems.map((problem) => problem.item)).toEqual(['slot']);
  });
});
