// The second seed meets the first: the source's primary fails, its streaming standby is promoted,
// and the backup stream continues from the standby's synced copy of the slot (PostgreSQL 17
// failover slots) with nothing lost and nothing applied twice. The old primary started again on
// its own timeline is refused with nothing applied; a standby promoted without a synced slot
// stops with SLOT_MISSING_AFTER_USE instead of leaving a gap.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type PgCluster, SERVICE_BINARIES as BINARIES, ServiceProcess, startEmbeddedStandby, storjSchemaDdl, waitFor, withClient } from '@storx-backup/test-postgres';
import { e2eTableDigest, expectBackupEqualsSource } from '../src/invariant.js';
import { System } from '../src/system.js';
import { sampleWatermarks } from '../src/watermark-sampler.js';
import { runWorkload } from '../src/workload.js';

const SCHEMA = '"satellite/0"';
let system: System;
let standby: PgCluster;
/** The later scenarios build on the failover; they fail at once without it. */
let failedOver = false;

beforeAll(async () => {
  system = await System.start({ standby: { slotName: 'standby1_slot' }, replication: { 'heartbeat-interval': '1s', 'max-batch-bytes': '64KiB' }, servicesStopped: true });
  standby = system.standbyCluster!;
  // "No row applied twice", measured: segments are only ever inserted by the workload, so each
  // backup row must have been written exactly once (a second apply is an ON CONFLICT update).
  await withClient(system.backupUrl, async (backup) => {
    // The source's own definition of segments (the receiver checks the backup table matches it).
    for (const statement of storjSchemaDdl().filter((ddl) => /CREATE TABLE\s+"satellite\/0"\.segments\b/.test(ddl))) await backup.query(statement);
    await backup.query('CREATE TABLE public.segment_writes (stream_id uuid, position bigint, op text)');
    await backup.query(`CREATE FUNCTION public.log_segment_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.segment_writes VALUES (NEW.stream_id, NEW.position, TG_OP); RETURN NULL; END $$`);
    await backup.query(`CREATE TRIGGER log_write AFTER INSERT OR UPDATE ON ${SCHEMA}.segments FOR EACH ROW EXECUTE FUNCTION public.log_segment_write()`);
  });
  await system.receiver.start(/receiver listening/);
  await system.replicator.start(/replication stream started/);
}, 120_000);
afterAll(async () => {
  await system?.stop();
});

interface WatermarkRow {
  commit_lsn: string;
  source_timeline: string;
  events_applied: string;
}

async function watermark(): Promise<WatermarkRow | undefined> {
  return withClient(system.backupUrl, async (client) => (await client.query<WatermarkRow>('SELECT commit_lsn::text, source_timeline::text, events_applied::text FROM backuptools_state.watermarks')).rows[0]);
}

/** The backup as a whole: every table's digest and the watermark row. */
async function backupState(): Promise<unknown> {
  const backup = await connect(system.backupUrl);
  try {
    const tables: Record<string, unknown> = {};
    for (const table of ['objects', 'segments', 'toasty'] as const) tables[table] = await e2eTableDigest(backup, table);
    return { tables, watermark: await watermark() };
  } finally {
    await backup.end();
  }
}

/**
 * What `run` prints for each refusal (its `error: ...` line; the CLI prints the message and the
 * fix, not the code).
 */
const REFUSAL_TEXT = {
  SOURCE_TIMELINE_FORKED: /error: source \S+: the batch comes from timeline \d+, which (does not descend from|forked from) timeline/,
  SLOT_MISSING_AFTER_USE: /error: replication slot \S+ does not exist\b.*, but the (receiver has applied changes from it|stream used it) up to/,
} as const;

/** A second replicator, alone on `database`, expected to refuse to start with `code`. */
async function expectReplicatorRefuses(database: string, code: keyof typeof REFUSAL_TEXT): Promise<void> {
  const config = (await readFile(system.replicatorConfigPath, 'utf8')).replace(/^database: .*$/m, `database: "${database}"`);
  const path = `${system.replicatorConfigPath}.${code}.yaml`;
  await writeFile(path, config);
  const other = new ServiceProcess(`replicator-${code}`, BINARIES.replicator, ['run', '--config', path]);
  await expect(other.start(/replication stream started/)).rejects.toThrow(/exited \(code 1\)/);
  expect(other.output).toMatch(REFUSAL_TEXT[code]);
}

interface TopologyJson {
  exit_code: number;
  postgres: {
    primary: string | null;
    servers: { name: string; reachable: boolean; role: string | null; standbys: { state: string }[]; physical_slots: { name: string; active: boolean; wal_status: string | null }[]; standby: { receiver_status: string | null } | null }[];
  };
  problems: { severity: string; item: string; message: string }[];
}

/** `storx-replicator topology --json` over the primary and its standby, as an operator runs it. */
async function topology(urls: readonly string[]): Promise<TopologyJson> {
  const argv = [BINARIES.replicator, 'topology', '--json', '--config', system.replicatorConfigPath, '--postgres', urls.join(','), '--timeout', '5'];
  const { stdout } = await promisify(execFile)(process.execPath, argv).catch((error: { code?: unknown; stdout?: string }) => {
    if (typeof error.code !== 'number' || !error.stdout) throw error; // exit 1 and 2 still print the report
    return { stdout: error.stdout };
  });
  return JSON.parse(stdout) as TopologyJson;
}
const pgProblems = (report: TopologyJson) => report.problems.filter((problem) => ['postgres', 'standby', 'physical_slot'].includes(problem.item));

describe('failover of the source PostgreSQL to its streaming standby', () => {
  it('continues from the promoted standby under a write load: backup equals the new primary, the watermark never moves backwards, nothing applied twice', async () => {
    // The standby must hold a synced, persistent, valid copy of the failover slot. Its slot sync
    // worker makes the copy persistent only once the primary's slot needs no older catalog rows
    // than the standby can keep, which, under load, waits for a few xl_running_xacts records and
    // acknowledgements, and the worker naps up to 30 s meanwhile: so the copy is made while the
    // source is idle, as after a real deployment, and the load starts after.
    let seen = '';
    await waitFor(
      () =>
        withClient(system.sourceUrlOn(standby), async (client) => {
          const { rows } = await client.query<{ synced: boolean; temporary: boolean; invalidation_reason: string | null; positioned: boolean }>("SELECT slot_name, synced, temporary, invalidation_reason, confirmed_flush_lsn IS NOT NULL AS positioned FROM pg_replication_slots WHERE slot_name = 'backuptools_slot'");
          seen = JSON.stringify(rows);
          return rows[0]?.synced === true && rows[0].temporary === false && rows[0].invalidation_reason === null && rows[0].positioned === true;
        }),
      { description: () => `the standby to hold a synced copy of the failover slot (standby: ${seen})`, timeoutMs: 60_000, intervalMs: 250 },
    );
    // The topology view on the real pair: the primary with its standby streaming through an
    // active physical slot, the standby's WAL receiver streaming; no PostgreSQL problem.
    const servers = [system.sourceUrl, system.sourceUrlOn(standby)];
    const healthy = await waitFor(async () => {
      const report = await topology(servers);
      return pgProblems(report).length === 0 && report.postgres.servers.every((server) => server.reachable) && report;
    }, { description: 'topology to show a healthy primary and standby', timeoutMs: 30_000, intervalMs: 500 });
    const [primaryView, standbyView] = healthy.postgres.servers;
    expect(healthy.postgres.primary).toBe(primaryView!.name);
    expect(primaryView).toMatchObject({ role: 'primary', standbys: [{ state: 'streaming' }] });
    expect(primaryView!.physical_slots).toContainEqual(expect.objectContaining({ name: 'standby1_slot', active: true }));
    expect(standbyView).toMatchObject({ role: 'standby', standby: { receiver_status: 'streaming' } });

    const sampler = sampleWatermarks(system.backupUrl);
    let primaryUrl = system.sourceUrl;
    const stopLoad = new AbortController();
    const load = runWorkload(() => primaryUrl, { writers: 2, transactions: 1_000_000, signal: stopLoad.signal, followFailover: true });

    await waitFor(async () => Number((await watermark())?.events_applied ?? 0) > 100, { description: 'the backup to apply some of the load', timeoutMs: 30_000 });

    await system.source.end();
    await system.sourceCluster.stopServer('immediate');
    // Before the promotion the view is critical: the primary unreachable, no primary at all,
    // the standby's WAL receiver no longer streaming.
    const down = await waitFor(async () => {
      const report = await topology(servers);
      return report.postgres.servers[1]!.standby?.receiver_status !== 'streaming' && report;
    }, { description: "topology to see the standby's WAL receiver stop", timeoutMs: 60_000, intervalMs: 500 });
    expect(down.exit_code).toBe(2);
    expect(down.postgres.primary).toBeNull();
    expect(down.postgres.servers[0]!.reachable).toBe(false);
    expect(pgProblems(down).map((problem) => problem.message)).toEqual(expect.arrayContaining([expect.stringMatching(/^no PostgreSQL primary/), expect.stringMatching(/^standby \S+ is not streaming/)]));
    await withClient(system.sourceUrlOn(standby), (client) => client.query('SELECT pg_promote(true, 60)'));
    primaryUrl = system.sourceUrlOn(standby);

    // The promoted standby inherited synchronized_standby_slots = 'standby1_slot', a slot it does
    // not have: logical decoding waits silently. The replicator must say so, with the fix.
    await waitFor(() => /STREAM_HELD_BACK[^\n]*synchronized_standby_slots names standby1_slot/.test(system.replicator.output), { description: 'the replicator to report the stream held back by synchronized_standby_slots', timeoutMs: 60_000 });
    await withClient(primaryUrl, async (client) => {
      await client.query('ALTER SYSTEM RESET synchronized_standby_slots');
      await client.query('SELECT pg_reload_conf()');
    });

    await new Promise((resolve) => setTimeout(resolve, 2_000));
    stopLoad.abort();
    expect(await load).toBeGreaterThan(0);
    const newPrimary = { sourceUrl: primaryUrl, backupUrl: system.backupUrl, slotName: system.slotName };
    const digests = await expectBackupEqualsSource(newPrimary);
    expect(await sampler.stop()).toEqual([]);
    expect((await watermark())?.source_timeline).toBe('2');
    const twice = await withClient(system.backupUrl, async (client) => (await client.query<{ stream_id: string; writes: number }>('SELECT stream_id, position, count(*)::int AS writes FROM public.segment_writes GROUP BY 1, 2 HAVING count(*) > 1')).rows);
    expect(twice).toEqual([]);
    const writes = await withClient(system.backupUrl, async (client) => (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM public.segment_writes')).rows[0]!.n);
    expect(writes).toBe(digests.segments.count);
    expect(system.replicator.running).toBe(true);
    // Roles are found out, not assumed: the promoted standby is the primary now.
    const after = await topology(servers);
    expect(after.postgres.primary).toBe(after.postgres.servers[1]!.name);
    expect(after.postgres.servers[1]).toMatchObject({ role: 'primary', standby: null });
    failedOver = true;
  });

  it('refuses the old primary started again on its own timeline, with nothing applied', async () => {
    expect(failedOver, 'the failover scenario must pass first').toBe(true);
    await system.sourceCluster.startServer();
    await withClient(system.sourceUrl, (client) => client.query("INSERT INTO segments (stream_id, position, plain_size) SELECT gen_random_uuid(), g, g FROM generate_series(1, 100) g"));
    const before = await backupState();
    await expectReplicatorRefuses(system.sourceUrl, 'SOURCE_TIMELINE_FORKED');
    expect(await backupState()).toEqual(before);
    await system.sourceCluster.stopServer('fast');
  });

  it('stops with SLOT_MISSING_AFTER_USE, not a gap, when a standby without a synced slot is promoted', async () => {
    expect(failedOver, 'the failover scenario must pass first').toBe(true);
    const primaryUrl = system.sourceUrlOn(standby);
    const second = await startEmbeddedStandby({ name: 'e2e-standby2', primary: standby, slotName: 'standby2_slot', syncReplicationSlots: false });
    try {
      await system.replicator.stop();
      const target = await withClient(primaryUrl, async (client) => (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn);
      await waitFor(() => withClient(system.sourceUrlOn(second), async (client) => (await client.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [target])).rows[0]!.ok), { description: 'the second standby to replay everything', timeoutMs: 30_000 });
      await withClient(system.sourceUrlOn(second), (client) => client.query('SELECT pg_promote(true, 60)'));
      const before = await backupState();
      await expectReplicatorRefuses(system.sourceUrlOn(second), 'SLOT_MISSING_AFTER_USE');
      expect(await backupState()).toEqual(before);
    } finally {
      await second.stop();
    }
  });
});
