import { parseLsn } from '@storx-backup/protocol';
import { captureRun } from '@storx-backup/service-kit';
import { freePort, type PgCluster, startCluster, startEmbeddedStandby, waitFor, withClient } from '@storx-backup/test-postgres';
import { runRedisScript, startRedisPair } from '@storx-backup/test-redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import type { StatusReport } from '../src/inspect/status-report.js';
import type { TopologyProblem, TopologyReport } from '../src/topology/topology-report.js';

// Failover readiness (doctor and status) and the topology view's standby cases, on one real
// PostgreSQL 17 primary with a streaming standby (low-level base backup, slot synchronization),
// plus a PostgreSQL 15 server for the "needs a resnapshot" branch. No replicator runs: the
// logical slot is made by hand, as `run` makes it (FAILOVER true on 17). The last cases destroy
// the pair (an invalidated copy, a lost physical slot) and run last.

const SLOT = 'backuptools_slot';
const STANDBY_SLOT = 'standby1_slot';
let primary: PgCluster;
let standby: PgCluster;
let old15: PgCluster;

const sql = (cluster: PgCluster, ...statements: string[]): Promise<void> =>
  withClient(cluster.url, async (client) => {
    for (const statement of statements) await client.query(statement);
  });
const row = <T>(cluster: PgCluster, query: string, params: unknown[] = []): Promise<T | undefined> => withClient(cluster.url, async (client) => (await client.query(query, params)).rows[0] as T | undefined);
const name = (cluster: PgCluster): string => `${cluster.host}:${cluster.port}`;
/** libpq's multi-host URL naming the primary and the standby, as an operator configures `database`. */
const bothHosts = (): string => `postgres://postgres:${primary.password}@${name(primary)},${name(standby)}/postgres`;

interface Copy {
  synced: boolean;
  temporary: boolean;
  invalidation_reason: string | null;
  confirmed: string | null;
}
const copyOn = (cluster: PgCluster, slot: string): Promise<Copy | undefined> => row<Copy>(cluster, 'SELECT synced, temporary, invalidation_reason, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1', [slot]);

/**
 * Until the standby holds a synced, persistent copy. The copy is persisted only once the primary's
 * slot has moved past what the standby reserved when it made the copy, so the slot is advanced
 * here as a streaming replicator would advance it (past a fresh standby snapshot).
 */
async function waitForSyncedCopy(slot: string): Promise<void> {
  let seen: Copy | undefined;
  await waitFor(
    async () => {
      await sql(primary, 'SELECT pg_log_standby_snapshot()', `SELECT pg_replication_slot_advance('${slot}', pg_current_wal_lsn())`);
      await sql(standby, 'SELECT pg_sync_replication_slots()').catch(() => undefined); // the worker may be in a round itself
      seen = await copyOn(standby, slot);
      return seen?.synced === true && !seen.temporary && seen.invalidation_reason === null;
    },
    { description: () => `a synced, persistent copy of ${slot} on the standby (seen: ${JSON.stringify(seen)})`, timeoutMs: 90_000, intervalMs: 300 },
  );
}

beforeAll(async () => {
  [primary, old15] = await Promise.all([startCluster({ name: 'failover-primary', backend: 'embedded' }), startCluster({ name: 'failover-pg15', backend: 'embedded', version: 15 })]);
  for (const cluster of [primary, old15]) await sql(cluster, 'CREATE TABLE t (id int PRIMARY KEY)', 'CREATE PUBLICATION failover_pub FOR TABLE t');
  await sql(primary, `SELECT pg_create_logical_replication_slot('${SLOT}', 'pgoutput', false, false, true)`);
  await sql(old15, `SELECT pg_create_logical_replication_slot('${SLOT}', 'pgoutput')`);
  standby = await startEmbeddedStandby({ name: 'failover-standby', primary, slotName: STANDBY_SLOT });
  await sql(primary, `ALTER SYSTEM SET synchronized_standby_slots = '${STANDBY_SLOT}'`, 'SELECT pg_reload_conf()');
  await waitForSyncedCopy(SLOT);
}, 180_000);
afterAll(async () => {
  await Promise.allSettled([standby?.stop(), primary?.stop(), old15?.stop()]);
});

const options = (database: string, slot: string): string[] => ['--database', database, '--replication.slot-name', slot, '--replication.tables', 't', '--replication.publication-name', 'failover_pub'];

async function status(database = bothHosts(), slot = SLOT): Promise<StatusReport> {
  const run = await captureRun(main, ['status', '--json', ...options(database, slot)]);
  expect(run.stderr).toBe('');
  return JSON.parse(run.stdout) as StatusReport;
}
/** The failover problems as `severity: message | fix: fix`. */
const failoverProblems = (report: StatusReport): string[] => report.problems.filter((problem) => problem.item === 'failover').map((problem) => `${problem.severity}: ${problem.message} | fix: ${problem.fix}`);

/** Sets a server setting and reloads; `value` is SQL (a quoted literal or a bare word). */
const setting = (cluster: PgCluster, setting: string, value: string): Promise<void> => sql(cluster, `ALTER SYSTEM SET ${setting} = ${value}`, 'SELECT pg_reload_conf()');
const literal = (text: string): string => `'${text.replace(/'/g, "''")}'`;

describe('failover readiness in doctor and status (PostgreSQL 17 primary and standby)', () => {
  it('everything set: every finding ok, the copy synced and valid at its position against the primary', async () => {
    const report = await status();
    expect(report.failover).toMatchObject({ checked: true, primary: name(primary), standbys: [name(standby)] });
    expect(report.failover.server_version_num).toBeGreaterThanOrEqual(170000);
    expect(failoverProblems(report)).toEqual([]);
    expect(report.failover.findings.map((finding) => finding.level)).toEqual(['ok', 'ok', 'ok', 'ok']);
    // The position: the copy's confirmed_flush_lsn against the primary's (which stays put: nothing streams).
    const original = (await row<{ confirmed: string }>(primary, 'SELECT confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1', [SLOT]))!.confirmed;
    const position = new RegExp(`^standby ${name(standby)} holds a synced, valid copy of slot ${SLOT} at (\\S+), (?:level with the primary's|(\\d+) bytes behind the primary's (\\S+))$`).exec(report.failover.findings[3]!.text);
    expect(position, report.failover.findings[3]!.text).not.toBeNull();
    const [, copyLsn, behind, primaryLsn] = position!;
    expect(BigInt(behind ?? 0)).toBe(parseLsn(primaryLsn ?? copyLsn!) - parseLsn(copyLsn!));
    if (primaryLsn !== undefined) expect(primaryLsn).toBe(original);
    expect(parseLsn(copyLsn!) <= parseLsn((await copyOn(standby, SLOT))!.confirmed!)).toBe(true);

    const doctor = await captureRun(main, ['doctor', ...options(bothHosts(), SLOT)]);
    expect(doctor.stdout).toContain(`✓ failover: slot ${SLOT} on ${name(primary)} has failover = true`);
    expect(doctor.stdout).toContain(`✓ failover: synchronized_standby_slots on ${name(primary)} names ${STANDBY_SLOT}`);
    expect(doctor.stdout).toContain(`✓ failover: standby ${name(standby)} synchronizes slots`);
    expect(doctor.stdout).toContain(`✓ failover: standby ${name(standby)} holds a synced, valid copy of slot ${SLOT}`);
    expect(doctor.stdout).not.toMatch(/[!✗] failover:/);

    const human = await captureRun(main, ['status', ...options(bothHosts(), SLOT)]);
    expect(human.stdout).toContain(`✓ failover: slot ${SLOT} on ${name(primary)} has failover = true;`);
  });

  it('each setting switched off is its own warning with its own fix; switched back, none', async () => {
    const conninfo = (await row<{ value: string }>(standby, "SELECT current_setting('primary_conninfo') AS value"))!.value;
    expect(conninfo).toContain('dbname=postgres');
    const cases: { on: PgCluster; setting: string; off: string; back: string; expected: RegExp[] }[] = [
      { on: standby, setting: 'sync_replication_slots', off: 'off', back: 'on', expected: [/^warning: standby \S+: sync_replication_slots is off: .* \| fix: on \S+: ALTER SYSTEM SET sync_replication_slots = on; SELECT pg_reload_conf\(\);$/] },
      { on: standby, setting: 'hot_standby_feedback', off: 'off', back: 'on', expected: [/^warning: standby \S+: hot_standby_feedback is off: .* \| fix: on \S+: ALTER SYSTEM SET hot_standby_feedback = on; SELECT pg_reload_conf\(\);$/] },
      { on: standby, setting: 'primary_conninfo', off: literal(conninfo.replace(/\s*dbname=\S+/, '')), back: literal(conninfo), expected: [/^warning: standby \S+: primary_conninfo has no dbname \(slot synchronization needs one\): .* \| fix: on \S+: ALTER SYSTEM SET primary_conninfo = '<its conninfo> dbname=postgres'; SELECT pg_reload_conf\(\);$/] },
      {
        on: standby,
        setting: 'primary_slot_name',
        off: "''",
        back: literal(STANDBY_SLOT),
        // Streaming without its slot, the standby leaves the slot synchronized_standby_slots names idle: said too.
        expected: [new RegExp(`^warning: synchronized_standby_slots on \\S+ names ${STANDBY_SLOT}, whose standby is not connected: logical decoding waits for it`), /^warning: standby \S+: primary_slot_name is not set: .* \| fix: on \S+: ALTER SYSTEM SET primary_slot_name = 'replica1_slot'/],
      },
      { on: primary, setting: 'synchronized_standby_slots', off: "''", back: literal(STANDBY_SLOT), expected: [new RegExp(`^warning: synchronized_standby_slots on \\S+ does not name ${STANDBY_SLOT} \\(the physical slot of its standby\\).* \\| fix: on \\S+: ALTER SYSTEM SET synchronized_standby_slots = '${STANDBY_SLOT}'; SELECT pg_reload_conf\\(\\);$`)] },
    ];
    for (const { on, setting: name, off, back, expected } of cases) {
      await setting(on, name, off);
      let seen: string[] = [];
      await waitFor(
        async () => {
          seen = failoverProblems(await status());
          return seen.length === expected.length && expected.every((pattern, index) => pattern.test(seen[index]!));
        },
        { description: () => `${name} = ${off} reported (seen: ${JSON.stringify(seen)})`, timeoutMs: 30_000, intervalMs: 300 },
      );
      await setting(on, name, back);
      await waitFor(async () => (seen = failoverProblems(await status())).length === 0, { description: () => `${name} back: no failover problem (seen: ${JSON.stringify(seen)})`, timeoutMs: 30_000, intervalMs: 300 });
    }
  });

  it("a slot without failover has no copy on the standby; a slot of the standby's own is not a synced copy", async () => {
    await sql(primary, "SELECT pg_create_logical_replication_slot('plain_slot', 'pgoutput')");
    try {
      expect(failoverProblems(await status(bothHosts(), 'plain_slot'))).toEqual([
        expect.stringMatching(/^warning: slot plain_slot on \S+ has failover = false: .* \| fix: restart storx-replicator run .*ALTER_REPLICATION_SLOT plain_slot \(FAILOVER true\)$/),
        expect.stringMatching(new RegExp(`^warning: standby ${name(standby)} holds no copy of slot plain_slot: promoting .* now stops the stream with SLOT_MISSING_AFTER_USE`)),
      ]);
    } finally {
      await sql(primary, "SELECT pg_drop_replication_slot('plain_slot')");
    }

    // A logical slot made on the standby (PostgreSQL 16+) waits for a standby snapshot from the primary.
    const snapshots = setInterval(() => void sql(primary, 'SELECT pg_log_standby_snapshot()').catch(() => undefined), 200);
    try {
      await sql(standby, "SELECT pg_create_logical_replication_slot('own_slot', 'pgoutput')");
    } finally {
      clearInterval(snapshots);
    }
    await sql(primary, "SELECT pg_create_logical_replication_slot('own_slot', 'pgoutput', false, false, true)");
    try {
      expect((await copyOn(standby, 'own_slot'))?.synced).toBe(false);
      expect(failoverProblems(await status(bothHosts(), 'own_slot'))).toEqual([
        expect.stringMatching(new RegExp(`^warning: standby ${name(standby)} has a slot own_slot that is not a synced copy \\(synced = false.* \\| fix: on ${name(standby)}: SELECT pg_drop_replication_slot\\('own_slot'\\)`)),
      ]);
    } finally {
      await sql(standby, "SELECT pg_drop_replication_slot('own_slot')");
      await sql(primary, "SELECT pg_drop_replication_slot('own_slot')");
    }
  });
});

describe("scripts/check-replication-status.sh with Redis's status for the same role", () => {
  it('passes it through: both ok is exit 0; the Redis replica down makes the master a warning and the replica host critical; without REDIS_PASSWORD PostgreSQL alone', async () => {
    const redis = await startRedisPair();
    const pgEnv = (cluster: PgCluster): Record<string, string> => ({ PGHOST: cluster.host, PGPORT: String(cluster.port), POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: cluster.password, POSTGRES_DB: 'postgres' });
    const check = (role: 'master' | 'replica', env: Record<string, string> = {}) => runRedisScript('check-replication-status.sh', [role], role === 'master' ? redis.master : redis.replica, { ...pgEnv(role === 'master' ? primary : standby), ...env });
    try {
      const master = await waitFor(async () => {
        const result = await check('master');
        return result.code === 0 && result;
      }, { description: 'both hosts ok', timeoutMs: 30_000, intervalMs: 300 });
      expect(master.stdout).toMatch(/✓ standby .*state=streaming/);
      expect(master.stdout).toContain(`✓ redis 127.0.0.1:${redis.master.port}: role master`);
      expect(master.stdout).toContain('redis status: ok');
      expect(master.stdout).toMatch(/replication status: ok\n$/);
      const replica = await check('replica');
      expect(replica.code, replica.stdout + replica.stderr).toBe(0);
      expect(replica.stdout).toMatch(new RegExp(`✓ link to master 127\\.0\\.0\\.1:${redis.master.port}: up`));

      const alone = await check('master', { REDIS_PASSWORD: '' });
      expect(alone.code).toBe(0);
      expect(alone.stdout).not.toContain('redis');

      await redis.replica.stop({ keepFiles: true });
      try {
        const noReplica = await waitFor(async () => {
          const result = await check('master');
          return result.code !== 0 && result;
        }, { description: 'the master without its replica', timeoutMs: 30_000, intervalMs: 300 });
        expect(noReplica.code).toBe(1);
        expect(noReplica.stdout).toContain('! no replica connected');
        expect(noReplica.stdout).toMatch(/redis status: warning\nreplication status: warning\n$/);
        const down = await check('replica');
        expect(down.code).toBe(2);
        expect(down.stdout).toMatch(/✗ redis .*: unreachable or refused/);
        expect(down.stdout).toMatch(/replication status: critical\n$/);
      } finally {
        await redis.replica.restart();
      }
      await waitFor(async () => (await check('master')).code === 0, { description: 'the Redis replica back: ok again', timeoutMs: 30_000, intervalMs: 300 });
    } finally {
      await redis.stop();
    }
  });
});

describe('failover readiness on PostgreSQL 15', () => {
  it('one host and no standby: info only; with a second host named: a warning that a failover needs a resnapshot', async () => {
    const alone = await status(old15.url);
    expect(failoverProblems(alone)).toEqual([]);
    expect(alone.failover.findings).toEqual([expect.objectContaining({ level: 'info', text: expect.stringMatching(/^no standby configured \(database names one host, and no standby streams from it\); PostgreSQL 15\.\d+ has no failover slots \(17\+\).*storx-replicator snapshot/) as string })]);

    const closed = await freePort();
    const two = `postgres://postgres:${old15.password}@${name(old15)},127.0.0.1:${closed}/postgres`;
    expect(failoverProblems(await status(two))).toEqual([
      expect.stringMatching(new RegExp(`^warning: source host 127.0.0.1:${closed} does not answer`)),
      expect.stringMatching(/^warning: PostgreSQL 15\.\d+ has no failover slots \(17\+\): a standby never holds a copy of slot backuptools_slot, so after a failover the backup needs a resnapshot: storx-replicator snapshot .* \| fix: plan the resnapshot for a failover, or upgrade both hosts to PostgreSQL 17/),
    ]);
    const doctor = await captureRun(main, ['doctor', ...options(two, SLOT)]);
    expect(doctor.stdout).toMatch(/\n {2}! failover: PostgreSQL 15\.\d+ has no failover slots/);
  });
});

async function topology(urls: readonly string[], extra: string[] = []): Promise<{ code: number; report: TopologyReport }> {
  const run = await captureRun(main, ['topology', '--json', ...options(bothHosts(), SLOT), '--postgres', urls.join(','), '--timeout', '3', ...extra]);
  expect(run.stderr).toBe('');
  return { code: run.code, report: JSON.parse(run.stdout) as TopologyReport };
}
/** The topology's own PostgreSQL problems (the logical items are status's, checked above). */
const pgProblems = (report: TopologyReport): TopologyProblem[] => report.problems.filter((problem) => ['postgres', 'standby', 'physical_slot'].includes(problem.item));
const described = (problems: readonly TopologyProblem[]): string[] => problems.map((problem) => `${problem.severity} ${problem.item}: ${problem.message}`);

describe('the topology view on the real primary and standby', () => {
  it('replay paused on the standby while the primary writes: lag over the limit is a warning; resumed: none', async () => {
    const both = [primary.url, standby.url];
    // Seconds of lag count from the last replayed commit: one is replayed first, as on any live standby.
    await sql(primary, 'INSERT INTO t VALUES (0)');
    await waitFor(async () => (await row<{ n: number }>(standby, 'SELECT count(*)::int AS n FROM t'))!.n === 1, { description: 'the insert replayed on the standby', timeoutMs: 30_000 });
    await sql(standby, 'SELECT pg_wal_replay_pause()');
    try {
      await sql(primary, 'INSERT INTO t SELECT g FROM generate_series(1, 1000) g');
      let seen: string[] = [];
      const lagging = await waitFor(
        async () => {
          const result = await topology(both, ['--max-lag-seconds', '1']);
          seen = described(pgProblems(result.report));
          return seen.length > 0 && result;
        },
        { description: () => `replay lag reported (seen: ${JSON.stringify(seen)})`, timeoutMs: 30_000, intervalMs: 300 },
      );
      expect(seen).toEqual([expect.stringMatching(new RegExp(`^warning standby: standby ${name(standby)} replays \\d+ s behind \\(limit 1 s\\)$`))]);
      const standbyView = lagging.report.postgres.servers[1]!.standby!;
      expect(standbyView.replay_lag_seconds!).toBeGreaterThan(1);
      expect(standbyView.replay_lag_bytes!).toBeGreaterThan(0);
      expect(standbyView.receiver_status).toBe('streaming');
      // The primary alone (the standby's host not given): its pg_stat_replication says the same.
      const primaryOnly = await waitFor(async () => {
        const result = await topology([primary.url], ['--max-lag-seconds', '1']);
        return pgProblems(result.report).length > 0 && result;
      }, { description: "the lag from the primary's side", timeoutMs: 30_000, intervalMs: 300 });
      expect(described(pgProblems(primaryOnly.report))).toEqual([expect.stringMatching(/^warning standby: standby \S+ \(127\.0\.0\.1\) replays \d+ s behind, by \S+'s pg_stat_replication \(limit 1 s\)$/)]);
    } finally {
      await sql(standby, 'SELECT pg_wal_replay_resume()');
    }
    await waitFor(async () => pgProblems((await topology(both, ['--max-lag-seconds', '1'])).report).length === 0, { description: 'replay caught up: no PostgreSQL problem', timeoutMs: 30_000, intervalMs: 300 });
  });

  it('the standby stopped: its physical slot inactive on the primary is a warning (unreachable and not connected are critical); started again: none', async () => {
    await standby.stopServer('fast');
    try {
      const alone = await waitFor(async () => {
        const result = await topology([primary.url]);
        return pgProblems(result.report).length > 0 && result;
      }, { description: 'the inactive slot reported', timeoutMs: 30_000, intervalMs: 300 });
      expect(described(pgProblems(alone.report))).toEqual([`warning physical_slot: physical slot ${STANDBY_SLOT} is not in use: it keeps WAL (${alone.report.postgres.servers[0]!.physical_slots[0]!.retained_bytes} bytes) until its standby returns`]);
      const withStandby = await topology([primary.url, standby.url]);
      expect(withStandby.code).toBe(2);
      expect(described(pgProblems(withStandby.report))).toEqual([
        expect.stringMatching(new RegExp(`^critical postgres: PostgreSQL ${name(standby)}: `)),
        expect.stringMatching(new RegExp(`^warning physical_slot: physical slot ${STANDBY_SLOT} is not in use`)),
      ]);
      // status says the same from the failover side: the standby host does not answer, its slot idle.
      expect(failoverProblems(await status())).toEqual([expect.stringMatching(new RegExp(`^warning: source host ${name(standby)} does not answer`)), expect.stringMatching(new RegExp(`^warning: synchronized_standby_slots on \\S+ names ${STANDBY_SLOT}, whose standby is not connected`))]);
    } finally {
      await standby.startServer();
    }
    await waitFor(async () => pgProblems((await topology([primary.url, standby.url])).report).length === 0, { description: 'the standby back: no PostgreSQL problem', timeoutMs: 60_000, intervalMs: 300 });
  });

  it("the standby's copy invalidated (its WAL removed past max_slot_wal_keep_size) is reported by status", async () => {
    await setting(standby, 'max_slot_wal_keep_size', "'1MB'");
    let seen: Copy | undefined;
    await waitFor(
      async () => {
        await sql(primary, 'INSERT INTO t SELECT g FROM generate_series(100001, 101000) g ON CONFLICT DO NOTHING', 'SELECT pg_switch_wal()', 'CHECKPOINT');
        const target = (await row<{ lsn: string }>(primary, 'SELECT pg_current_wal_lsn()::text AS lsn'))!.lsn;
        await waitFor(async () => (await row<{ ok: boolean }>(standby, 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [target]))!.ok, { description: 'the standby to replay the checkpoint', timeoutMs: 30_000 });
        await sql(standby, 'CHECKPOINT'); // a restartpoint: removes WAL, invalidating slots past the limit
        seen = await copyOn(standby, SLOT);
        return seen?.invalidation_reason != null;
      },
      { description: () => `the copy invalidated (seen: ${JSON.stringify(seen)})`, timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(seen!.invalidation_reason).toBe('wal_removed');
    expect(failoverProblems(await status())).toEqual([expect.stringMatching(new RegExp(`^warning: standby ${name(standby)}'s copy of slot ${SLOT} is invalidated \\(invalidation_reason = wal_removed\\): promoting .* now stops the stream with SLOT_MISSING_AFTER_USE`))]);
  });

  it('the standby gone and its physical slot lost (max_slot_wal_keep_size on the primary) is critical', async () => {
    await standby.stopServer('fast');
    await setting(primary, 'max_slot_wal_keep_size', "'1MB'");
    let result: { code: number; report: TopologyReport } | undefined;
    await waitFor(
      async () => {
        await sql(primary, 'INSERT INTO t SELECT g FROM generate_series(200001, 201000) g ON CONFLICT DO NOTHING', 'SELECT pg_switch_wal()', 'CHECKPOINT');
        result = await topology([primary.url]);
        return result.report.postgres.servers[0]!.physical_slots.some((slot) => slot.wal_status === 'lost') && result;
      },
      { description: () => `the physical slot lost (seen: ${JSON.stringify(result?.report.postgres.servers[0]?.physical_slots)})`, timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(result!.code).toBe(2);
    expect(described(pgProblems(result!.report))).toEqual([`critical physical_slot: physical slot ${STANDBY_SLOT} is lost (WAL it needed was removed)`]);
    // Logical decoding now waits for a slot that can never come back: status says so as an error.
    expect(failoverProblems(await status())).toContainEqual(expect.stringMatching(new RegExp(`^error: synchronized_standby_slots on \\S+ names ${STANDBY_SLOT}, which is lost`)));
  });
});
