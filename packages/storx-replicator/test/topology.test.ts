import { parseLsn } from '@storx-backup/protocol';
import { captureRun, type CapturedRun } from '@storx-backup/service-kit';
import { freePort, SERVICE_BINARIES, ServiceProcess, waitFor } from '@storx-backup/test-postgres';
import { makeRedisCerts, type RedisPair, runRedisScript, startRedisPair } from '@storx-backup/test-redis';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { formatTopology } from '../src/topology/format-topology.js';
import type { TopologyProblem, TopologyReport } from '../src/topology/topology-report.js';
import { configuredBySetup, type Pair, runReplicator, startPair } from './support.js';

// `storx-replicator topology` against real servers: the source PostgreSQL with the replicator
// streaming from its slot into a real receiver, and a real Redis master and replica over TLS.
// No PostgreSQL standby here: the standby cases (replay lag, an inactive and a lost physical slot)
// run on a real primary and standby in failover-readiness.test.ts.

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

function topologyArgs(flags: { postgres?: string[]; redis?: string[] } = {}): string[] {
  const argv = ['topology', '--config', configPath, '--replication.slot-name', slot, '--redis-tls-dir', redis.master.tlsDir, '--timeout', '3'];
  argv.push('--postgres', (flags.postgres ?? [pair.sourceUrl]).join(','));
  argv.push('--redis', (flags.redis ?? [redisName(redis.master), redisName(redis.replica)]).join(','));
  return argv;
}

async function topology(flags: { postgres?: string[]; redis?: string[]; extra?: string[] } = {}): Promise<{ code: number; report: TopologyReport; run: CapturedRun }> {
  const run = await captureRun(main, [...topologyArgs(flags), '--json', ...(flags.extra ?? [])], { REDIS_PASSWORD: redis.password });
  expect(run.stderr).toBe('');
  return { code: run.code, report: JSON.parse(run.stdout) as TopologyReport, run };
}

/** Prometheus text as `name{labels}` → value. */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(storx_topology_\w+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) values.set(match[1]!, Number(match[2]));
  }
  return values;
}

/** What /metrics must say for `report`, written out from the JSON fields (not through TopologyMetrics). */
function expectedGauges(report: TopologyReport): Record<string, number> {
  const gauges: Record<string, number> = { storx_topology_status: report.exit_code };
  for (const server of report.postgres.servers) {
    const at = `{server="${server.name}"}`;
    gauges[`storx_topology_postgres_up${at}`] = server.reachable && server.error === null ? 1 : 0;
    gauges[`storx_topology_postgres_is_primary${at}`] = server.role === 'primary' ? 1 : 0;
  }
  const { slot: logicalSlot, receiver, receiver_lag_bytes } = report.logical;
  gauges['storx_topology_logical_slot_lag_bytes'] = logicalSlot.lag_bytes!;
  gauges['storx_topology_receiver_lag_bytes'] = receiver_lag_bytes!;
  gauges['storx_topology_receiver_watermark_lsn'] = Number(parseLsn(receiver.watermark_lsn!));
  for (const server of report.redis.servers) {
    const at = `{server="${server.name}"}`;
    gauges[`storx_topology_redis_up${at}`] = 1;
    gauges[`storx_topology_redis_is_master${at}`] = server.role === 'master' ? 1 : 0;
    gauges[`storx_topology_redis_repl_offset${at}`] = server.repl_offset!;
    gauges[`storx_topology_redis_sync_full${at}`] = server.sync_full!;
    if (server.link !== null) {
      gauges[`storx_topology_redis_link_up${at}`] = server.link.status === 'up' ? 1 : 0;
      gauges[`storx_topology_redis_replica_lag_bytes${at}`] = server.link.lag_bytes!;
    }
  }
  return gauges;
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

  it('--metrics-listen: /metrics scraped from the real process carries the figures of --json (roles, lag, slot, watermark, Redis offsets)', async () => {
    const port = await freePort();
    const exporter = new ServiceProcess('topology-exporter', SERVICE_BINARIES.replicator, [...topologyArgs(), '--metrics-listen', `127.0.0.1:${port}`], { env: { REDIS_PASSWORD: redis.password } });
    await exporter.start(/metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/);
    try {
      // Redis pings its replicas every 10 s (the offsets move): a scrape and a --json a moment
      // apart agree once no ping fell between them.
      let mismatch: unknown;
      await waitFor(
        async () => {
          const { report } = await topology();
          const scraped = parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
          const expected = expectedGauges(report);
          mismatch = Object.entries(expected).filter(([key, value]) => scraped.get(key) !== value);
          return (mismatch as unknown[]).length === 0;
        },
        { description: () => `/metrics to match --json (differing: ${JSON.stringify(mismatch)})`, timeoutMs: 30_000, intervalMs: 300 },
      );
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      expect(await exporter.stop()).toBe(0);
    }
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

  it('Redis link down (the master stopped) is critical; the master back: the link up, the offsets level, ok', async () => {
    await redis.master.stop({ keepFiles: true });
    try {
      const down = await waitFor(async () => {
        const result = await topology();
        return result.report.redis.servers[1]!.link?.status === 'down' && result;
      }, { description: 'the link down', timeoutMs: 30_000, intervalMs: 300 });
      expect(down.code).toBe(2);
      expect(messages(down.report.problems, 'critical')).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^Redis replica ${redisName(redis.replica)}: link to ${redisName(redis.master)} is down`)), expect.stringContaining('no Redis master')]));
    } finally {
      await redis.master.restart();
    }
    let seen: unknown;
    const recovered = await waitFor(async () => {
      const result = await topology();
      const [master, replica] = result.report.redis.servers;
      seen = { problems: result.report.problems, link: replica!.link };
      return result.code === 0 && replica!.link?.status === 'up' && replica!.link.offset === master!.repl_offset && result;
    }, { description: () => `the link recovered (seen: ${JSON.stringify(seen)})`, timeoutMs: 45_000, intervalMs: 500 });
    expect(recovered.report.redis.master).toBe(redisName(redis.master));
    expect(recovered.report.redis.servers[1]!.link).toMatchObject({ status: 'up', lag_bytes: 0, sync_in_progress: false });
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

    // Writes the stopped replicator does not deliver: the receiver's watermark stays, its lag
    // behind the primary's WAL grows by what was written, and equals the two positions' distance.
    await pair.source.query(`INSERT INTO segments (stream_id, position) SELECT gen_random_uuid(), g FROM generate_series(1, 2000) g`);
    const behind = (await topology({ redis: [] })).report;
    expect(behind.logical.receiver.watermark_lsn).toBe(report.logical.receiver.watermark_lsn);
    const primaryWal = parseLsn(behind.postgres.servers[0]!.current_wal_lsn!);
    expect(behind.logical.receiver_lag_bytes).toBe(Number(primaryWal - parseLsn(behind.logical.receiver.watermark_lsn!)));
    expect(behind.logical.receiver_lag_bytes!).toBeGreaterThan(report.logical.receiver_lag_bytes! + 100_000);
    expect(formatTopology(behind)).toContain(`applied up to ${behind.logical.receiver.watermark_lsn}, `);
  });
});
