import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair, generateRsaKeyPair, type Lsn, parseLsn, writeKeyPair } from '@storx-backup/protocol';
import { connect, startCluster, waitFor } from '@storx-backup/test-postgres';
import { type CapturedRun, captureRun } from '@storx-backup/service-kit';
import { main } from '../src/cli.js';
import { collectStatus, walLevelProblem } from '../src/inspect/collect-status.js';
import { judgeSlot } from '../src/inspect/slot-health.js';
import type { StatusReport } from '../src/inspect/status-report.js';
import type { SlotState } from '../src/source/slot.js';
import { ReplicationStream } from '../src/source/replication-stream.js';
import { configuredBySetup, type Pair, runReplicator, SOURCE_DDL, startPair, withSearchPath } from './support.js';

const cli = (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CapturedRun> => captureRun(main, argv, env);

let pair: Pair;
let dir: string;
/** Written by `setup` with the pair's settings, as an operator would. */
let configPath: string;
let emptyConfig: string;
let otherKeys: { rsaPublic: string; signing: string };

beforeAll(async () => {
  pair = await startPair();
  ({ dir, configPath, emptyConfig } = await configuredBySetup(pair, 'replicator-status-'));
  otherKeys = {
    rsaPublic: (await writeKeyPair(join(dir, 'other'), 'backuptools', generateRsaKeyPair(2048))).publicKeyPath,
    signing: (await writeKeyPair(join(dir, 'other'), 'storx_signing', generateEd25519KeyPair())).privateKeyPath,
  };
});
afterAll(async () => {
  await pair.close();
});

async function status(...flags: string[]): Promise<{ code: number; report: StatusReport; stderr: string }> {
  const run = await cli(['status', '--json', '--config', configPath, ...flags]);
  expect(run.stderr).toBe('');
  return { code: run.code, report: JSON.parse(run.stdout) as StatusReport, stderr: run.stderr };
}

async function slotActive(name: string): Promise<boolean> {
  const { rows } = await pair.source.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [name]);
  return rows[0]?.active === true;
}

async function dropSlot(name: string): Promise<void> {
  await waitFor(async () => !(await slotActive(name)), { description: `slot ${name} released`, timeoutMs: 10_000 });
  await pair.source.query('SELECT pg_drop_replication_slot($1)', [name]);
}

describe('storx-replicator status on a running replicator', () => {
  const slot = 'status_running';
  let running: ReturnType<typeof runReplicator>;
  beforeAll(async () => {
    running = runReplicator(pair.config({ 'replication.slot-name': slot }));
    // Streaming, not just holding the slot: the first run holds it while creating it and copying.
    await waitFor(async () => (await pair.source.query("SELECT 1 FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'", [`storx-replicator:${slot}`])).rowCount === 1, { description: 'replicator streaming', timeoutMs: 30_000 });
    await pair.source.query(`INSERT INTO segments (stream_id, position) SELECT gen_random_uuid(), g FROM generate_series(1, 50) g`);
  });
  afterAll(async () => {
    await running.stop();
    await dropSlot(slot);
  });

  it('is healthy: exit 0, and the JSON has the slot, its lag, the publication and the receiver', async () => {
    const { code, report } = await status('--replication.slot-name', slot);
    expect(code).toBe(0);
    expect(report).toMatchObject({
      status: 'ok',
      exit_code: 0,
      config_file: configPath,
      database: { reachable: true, error: null },
      wal_level: 'logical',
      slot: { name: slot, exists: true, active: true, plugin: 'pgoutput', wal_status: 'reserved', max_lag_bytes: 1024 ** 3 },
      publication: { name: 'backuptools_pub', exists: true, all_tables: false, tables: ['"satellite/0"."objects"', '"satellite/0"."segments"'], missing_tables: [] },
      receiver: { url: `${pair.receiver.url}/webhook`, checked: true, reachable: true, accepted: true, http_status: 200, error: null },
      backup_tables: {
        checked: true,
        note: null,
        tables: [
          { table: '"satellite/0".objects', ok: true, problem: null, fix: [] },
          { table: '"satellite/0".segments', ok: true, problem: null, fix: [] },
        ],
      },
      replication: { blocked: false, run_health: null, failure: null },
      problems: [],
    });
    expect(typeof report.slot.lag_bytes).toBe('number');
    expect(report.slot.lag_bytes).toBeGreaterThanOrEqual(0);
    expect(Number(parseLsn(report.slot.current_wal_lsn!) - parseLsn(report.slot.confirmed_flush_lsn!))).toBe(report.slot.lag_bytes);
    expect(report.slot.active_pid).toEqual(expect.any(Number));
    expect(Date.parse(report.checked_at)).not.toBeNaN();

    const human = await cli(['status', '--config', configPath, '--replication.slot-name', slot]);
    expect(human.code).toBe(0);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines.map((line) => line.split(' ')[0])).toEqual(['✓', '✓', '✓', '✓', '✓', '✓', '✓', '✓', '✓', 'status:']);
    expect(human.stdout).toContain('✓ backup tables: the backup database can take 2 of 2 (the receiver prepared each as its first batch would, and rolled it back)');
    expect(human.stdout).toContain('✓ failover: no standby configured (database names one host, and no standby streams from it): nothing to fail over to');
    expect(human.stdout).toContain('✓ replication: the receiver records no refusal from this source');
    expect(human.stdout).toContain('✓ wal_level: logical');
    expect(human.stdout).toMatch(/✓ slot status_running: active \(pid \d+\), confirmed_flush_lsn [0-9A-F]+\/[0-9A-F]+, wal_status reserved/);
    expect(human.stdout).toMatch(/✓ lag: \d+ bytes.*, limit 1073741824 bytes \(1\.0 GiB\)/);
    expect(human.stdout).toContain('✓ publication backuptools_pub: "satellite/0"."objects", "satellite/0"."segments"');
    expect(human.stdout).toContain(`✓ receiver ${pair.receiver.url}/webhook: reachable, accepted our signed ping (HTTP 200; applied up to`);
    expect(lines.at(-1)).toBe('status: ok');
  });

  it('warns (exit 1) when the receiver is unreachable', async () => {
    const { code, report } = await status('--replication.slot-name', slot, '--replication.webhook-url', 'http://127.0.0.1:1/webhook');
    expect(code).toBe(1);
    expect(report.receiver).toMatchObject({ checked: true, reachable: false, accepted: false, http_status: null });
    expect(report.problems).toEqual([expect.objectContaining({ severity: 'warning', item: 'receiver', message: expect.stringContaining('the receiver is unreachable: http://127.0.0.1:1: connect ECONNREFUSED') as string })]);
    // The table question is not asked of a receiver that did not answer: a note, not a second problem.
    expect(report.backup_tables).toEqual({ checked: false, note: 'not checked (the receiver did not accept the ping)', tables: [] });
    const human = await cli(['status', '--config', configPath, '--replication.slot-name', slot, '--replication.webhook-url', 'http://127.0.0.1:1/webhook']);
    expect(human.stdout).toContain('! receiver http://127.0.0.1:1/webhook: unreachable\n    the receiver is unreachable');
    expect(human.stdout).toContain('status: warning');
  });

  it('is an error (exit 2) when the receiver rejects our encryption key or our signature (401)', async () => {
    for (const flags of [
      ['--replication.webhook-public-key', otherKeys.rsaPublic],
      ['--replication.signing-key', otherKeys.signing],
    ]) {
      const { code, report } = await status('--replication.slot-name', slot, ...flags);
      expect(code, flags[0]).toBe(2);
      expect(report.receiver).toMatchObject({ reachable: true, accepted: false, http_status: 401 });
      expect(report.problems).toHaveLength(1);
      expect(report.problems[0]).toMatchObject({ severity: 'error', item: 'receiver' });
      expect(report.problems[0]!.message).toMatch(/^the receiver rejects our signature or encryption key \(HTTP 401/);
      expect(report.problems[0]!.fix).toContain("trusted-sender-keys");
    }
  });

  it('is an error (exit 2) when the receiver answers 404 (wrong path) or a key file does not load', async () => {
    const wrongPath = await status('--replication.slot-name', slot, '--replication.webhook-url', `${pair.receiver.url}/hook`);
    expect(wrongPath.code).toBe(2);
    expect(wrongPath.report.problems[0]!.message).toMatch(/^the receiver rejects our requests \(HTTP 404/);

    const missingKey = await status('--replication.slot-name', slot, '--replication.webhook-public-key', join(dir, 'missing.pem'));
    expect(missingKey.code).toBe(2);
    expect(missingKey.report.receiver).toMatchObject({ checked: true, reachable: null });
    expect(missingKey.report.problems[0]!.message).toMatch(/^failed to load public key: cannot read .*missing\.pem \(ENOENT\)/);
  });

  it('skips the receiver with a note when the webhook settings are missing', async () => {
    const run = await cli(['status', '--json', '--config', emptyConfig, '--database', pair.sourceUrl, '--replication.slot-name', slot]);
    expect(run.code, run.stdout).toBe(0);
    const report = JSON.parse(run.stdout) as StatusReport;
    expect(report.receiver).toEqual({ url: null, checked: false, reachable: null, accepted: null, http_status: null, watermark_lsn: null, error: null, note: 'not checked: replication.webhook-url, replication.webhook-public-key, replication.signing-key are not set' });
    const human = await cli(['status', '--config', emptyConfig, '--database', pair.sourceUrl, '--replication.slot-name', slot]);
    expect(human.stdout).toContain('- receiver: not checked: replication.webhook-url');
    expect(human.stdout).toContain('status: ok');
  });
});

describe('storx-replicator status: slot problems', () => {
  it('is an error (exit 2) when the slot is missing; the receiver tells a fresh install from a lost slot', async () => {
    const { code, report } = await status('--replication.slot-name', 'status_no_such_slot');
    expect(code).toBe(2);
    expect(report.slot).toMatchObject({ name: 'status_no_such_slot', exists: false, active: null, lag_bytes: null });
    expect(report.receiver.watermark_lsn).toBeNull();
    expect(report.problems).toEqual([{ severity: 'error', item: 'slot', message: 'replication slot status_no_such_slot does not exist', fix: 'storx-replicator run creates it (the receiver has applied nothing from it yet)' }]);
    const human = await cli(['status', '--config', configPath, '--replication.slot-name', 'status_no_such_slot']);
    expect(human.code).toBe(2);
    expect(human.stdout).toContain('✗ slot status_no_such_slot: missing\n    replication slot status_no_such_slot does not exist\n    fix: storx-replicator run creates it');
    expect(human.stdout).toContain('status: error');
  });

  it('warns (exit 1) when the slot is not in use', async () => {
    const slot = 'status_idle';
    await pair.source.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    try {
      const { code, report } = await status('--replication.slot-name', slot);
      expect(code).toBe(1);
      expect(report.slot).toMatchObject({ exists: true, active: false, active_pid: null });
      expect(report.problems).toEqual([expect.objectContaining({ severity: 'warning', item: 'slot', message: `slot ${slot} is not in use: no replicator is streaming from it, and the source keeps its WAL` })]);
    } finally {
      await dropSlot(slot);
    }
  });

  it('warns (exit 1) when the lag is over --max-lag-bytes, and accepts sizes with a unit', async () => {
    const slot = 'status_lagging';
    await pair.source.query('CREATE PUBLICATION lag_pub FOR TABLE objects, segments');
    await pair.source.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    // A consumer that streams and never acknowledges: the slot is active and its lag only grows.
    const stream = await ReplicationStream.start(pair.sourceUrl, slot, 'lag_pub', { onData: () => undefined, onKeepalive: () => undefined });
    const { rows } = await pair.source.query<{ lsn: string }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    try {
      await waitFor(() => slotActive(slot), { description: 'slot active', timeoutMs: 10_000 });
      await pair.source.query(`INSERT INTO segments (stream_id, position, note) SELECT gen_random_uuid(), g, repeat('x', 100) FROM generate_series(1, 2000) g`);
      const flags = ['--replication.slot-name', slot, '--replication.publication-name', 'lag_pub'];

      const healthy = await status(...flags);
      expect(healthy.code).toBe(0);
      expect(healthy.report.slot.lag_bytes).toBeGreaterThan(100_000);

      const lagging = await status(...flags, '--max-lag-bytes', '1');
      expect(lagging.code).toBe(1);
      expect(lagging.report.slot.max_lag_bytes).toBe(1);
      expect(lagging.report.problems).toEqual([expect.objectContaining({ severity: 'warning', item: 'lag' })]);
      expect(lagging.report.problems[0]!.message).toMatch(new RegExp(`^slot ${slot} lags ${lagging.report.slot.lag_bytes} bytes behind the WAL \\(confirmed ${rows[0]!.lsn}, current .*\\), more than 1$`));
      const human = await cli(['status', '--config', configPath, ...flags, '--max-lag-bytes', '64KiB']);
      expect(human.code).toBe(1);
      expect(human.stdout).toMatch(/! lag: \d+ bytes \([\d.]+ [KM]iB\), limit 65536 bytes \(64\.0 KiB\)\n {4}slot status_lagging lags/);

      expect((await status(...flags, '--max-lag-bytes', '512MiB')).report.slot.max_lag_bytes).toBe(512 * 1024 ** 2);
      const bad = await cli(['status', '--config', configPath, ...flags, '--max-lag-bytes', 'lots']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--max-lag-bytes: "lots" is not a size; write it with a unit, for example 512KiB, 4MiB, 1GiB, or a number of bytes');
    } finally {
      await stream.stop(parseLsn(rows[0]!.lsn));
      await dropSlot(slot);
      await pair.source.query('DROP PUBLICATION lag_pub');
    }
  });

  it('warns (exit 1) when the publication is missing or lacks a configured table', async () => {
    const slot = 'status_publication';
    await pair.source.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    await pair.source.query('CREATE PUBLICATION partial_pub FOR TABLE objects');
    const stream = await ReplicationStream.start(pair.sourceUrl, slot, 'partial_pub', { onData: () => undefined, onKeepalive: () => undefined });
    try {
      await waitFor(() => slotActive(slot), { description: 'slot active', timeoutMs: 10_000 });
      const partial = await status('--replication.slot-name', slot, '--replication.publication-name', 'partial_pub');
      expect(partial.code).toBe(1);
      expect(partial.report.publication).toMatchObject({ exists: true, tables: ['"satellite/0"."objects"'], missing_tables: ['"satellite/0"."segments"'] });
      expect(partial.report.problems).toEqual([expect.objectContaining({ severity: 'warning', item: 'publication', message: 'publication partial_pub does not publish "satellite/0"."segments"' })]);
      const missing = await status('--replication.slot-name', slot, '--replication.publication-name', 'no_such_pub');
      expect(missing.code).toBe(1);
      expect(missing.report.publication).toMatchObject({ exists: false, tables: [] });
      expect(missing.report.problems).toEqual([expect.objectContaining({ item: 'publication', message: 'publication no_such_pub does not exist', fix: 'storx-replicator run creates it (this user may)' })]);
    } finally {
      await stream.stop(0n as Lsn);
      await dropSlot(slot);
      await pair.source.query('DROP PUBLICATION partial_pub');
    }
  });
});

describe('storx-replicator status: the database', () => {
  it('is an error (exit 2) when the database is unreachable, and still checks the receiver', async () => {
    const { code, report } = await status('--database', 'postgres://postgres:secret@127.0.0.1:1/storx');
    expect(code).toBe(2);
    expect(report.database.reachable).toBe(false);
    expect(report.database.error).toContain('ECONNREFUSED');
    expect(report).toMatchObject({ wal_level: null, slot: { exists: null }, publication: { exists: null }, receiver: { accepted: true } });
    expect(report.problems).toEqual([expect.objectContaining({ severity: 'error', item: 'database' })]);
    const human = await cli(['status', '--config', configPath, '--database', 'postgres://postgres:secret@127.0.0.1:1/storx']);
    expect(human.stdout).toContain('✗ database: unreachable\n    cannot connect to the database:');
    expect(human.stdout).toContain('- wal_level: not checked (no database connection)');
    expect(human.stdout).not.toContain('secret');
  });

  it('is an error when wal_level is not logical (judged here: test servers get wal_level=logical on their command line, which ALTER SYSTEM cannot override)', () => {
    expect(walLevelProblem('logical')).toBeUndefined();
    expect(walLevelProblem('replica')).toEqual({ severity: 'error', item: 'wal_level', message: 'wal_level is not logical (it is replica)', fix: 'ALTER SYSTEM SET wal_level = logical; -- Restart PostgreSQL' });
  });

  it('judges a slot of another plugin or database, and one about to be invalidated', () => {
    const slot: SlotState = { plugin: 'pgoutput', database: 'storx', active: true, activePid: 1, confirmedFlushLsn: 100n as Lsn, restartLsn: 90n as Lsn, walStatus: 'reserved', currentWalLsn: 200n as Lsn, lagBytes: 100n, failover: true, invalidationReason: null };
    expect(judgeSlot('s', slot, 'storx', 1000, null)).toEqual([]);
    expect(judgeSlot('s', { ...slot, plugin: 'test_decoding' }, 'storx', 1000, null)[0]).toMatchObject({ severity: 'error', message: 'slot s uses plugin test_decoding in database storx; expected pgoutput in storx' });
    expect(judgeSlot('s', slot, 'other', 1000, null)[0]).toMatchObject({ severity: 'error' });
    expect(judgeSlot('s', { ...slot, walStatus: 'unreserved' }, 'storx', 1000, null)).toEqual([expect.objectContaining({ severity: 'warning', message: expect.stringContaining('wal_status = unreserved') as string })]);
    expect(judgeSlot('s', undefined, 'storx', 1000, '0/16B3748')[0]).toMatchObject({ severity: 'error', message: 'replication slot s does not exist, but the receiver has applied changes from it up to 0/16B3748', fix: expect.stringContaining('resnapshot') as string });
  });
});

describe('storx-replicator status: an invalidated slot', () => {
  it('is an error (exit 2) when wal_status is lost, and says a resnapshot is needed', async () => {
    // A server of its own: max_slot_wal_keep_size applies to every slot of a cluster.
    const cluster = await startCluster({ name: 'status_lost', backend: 'embedded' });
    const url = withSearchPath(await cluster.createDatabase('lost'));
    const client = await connect(url);
    try {
      for (const statement of SOURCE_DDL) await client.query(statement);
      await client.query('CREATE PUBLICATION backuptools_pub FOR TABLE objects, segments');
      await client.query("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
      await client.query('SELECT pg_reload_conf()');
      await client.query("SELECT pg_create_logical_replication_slot('lost_slot', 'pgoutput')");
      await waitFor(
        async () => {
          await client.query(`INSERT INTO segments (stream_id, position, note) SELECT gen_random_uuid(), g, repeat('x', 200) FROM generate_series(1, 2000) g`);
          await client.query('SELECT pg_switch_wal()');
          await client.query('CHECKPOINT');
          const { rows } = await client.query<{ wal_status: string }>("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'lost_slot'");
          return rows[0]?.wal_status === 'lost';
        },
        { description: 'slot invalidated', timeoutMs: 30_000, intervalMs: 10 },
      );
      const { code, report } = await status('--database', url, '--replication.slot-name', 'lost_slot');
      expect(code).toBe(2);
      expect(report.slot).toMatchObject({ exists: true, wal_status: 'lost' });
      expect(report.problems).toEqual([expect.objectContaining({ severity: 'error', item: 'slot', message: expect.stringContaining('is invalidated (wal_status = lost, max_slot_wal_keep_size exceeded)') as string })]);
      expect(report.problems[0]!.message).toContain('a resnapshot is needed');
    } finally {
      await client.end();
      await cluster.stop();
    }
  });

  it('collectStatus changes nothing on the source', async () => {
    const before = await pair.source.query<{ n: string }>('SELECT (SELECT count(*) FROM pg_replication_slots) + (SELECT count(*) FROM pg_publication) AS n');
    await collectStatus(pair.config({ 'replication.slot-name': 'status_untouched', 'replication.publication-name': 'untouched_pub' }), 1024);
    const after = await pair.source.query<{ n: string }>('SELECT (SELECT count(*) FROM pg_replication_slots) + (SELECT count(*) FROM pg_publication) AS n');
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });
});
