import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type PgCluster, startCluster, waitFor, withClient } from '../src/index.js';

// The seed's PostgreSQL scripts (scripts/setup-master.sh, init-replica.sh,
// check-replication-status.sh, pg-promote.sh) on real servers: an embedded PostgreSQL 15 master
// and a standby made by init-replica.sh with Debian's pg_basebackup 15 (installed by .ci/run;
// it cannot copy a newer major, hence 15), started with the embedded 15 binaries.

const SCRIPTS = fileURLToPath(new URL('../../../scripts/', import.meta.url));
const ROOT = process.getuid?.() === 0;
const OS_USER = 'postgres';

interface Run {
  code: number;
  output: string;
}

function script(name: string, args: readonly string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(join(SCRIPTS, name), [...args], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

/** pg_ctl as the user the embedded clusters run as (pg_ctl refuses root). */
function pgCtl(binDir: string, args: readonly string[]): Promise<void> {
  const command = [join(binDir, 'pg_ctl'), ...args].map((part) => `'${part.replace(/'/g, `'\\''`)}'`).join(' ');
  const [file, argv] = ROOT ? ['su', ['-s', '/bin/sh', OS_USER, '-c', command]] : ['/bin/sh', ['-c', command]];
  return new Promise((resolve, reject) =>
    execFile(file, argv, { timeout: 120_000 }, (error, stdout, stderr) => {
      if (!error) return resolve();
      void readFile(join(standbyData, 'standby.log'), 'utf8')
        .catch(() => '')
        .then((log) => reject(new Error(`${command}: ${stdout}${stderr}\n${log}`)));
    }),
  );
}

const hasBaseBackup = await new Promise<boolean>((resolve) => execFile('pg_basebackup', ['--version'], (error, stdout) => resolve(error === null && / 15\./.test(stdout))));

let master: PgCluster;
let workDir: string;
let standbyData: string;
let standbyPort = 0;
let standbyRunning = false;
let masterEnv: Record<string, string>;
let standbyEnv: Record<string, string>;

describe.skipIf(!hasBaseBackup)('the seed\'s PostgreSQL scripts (pg_basebackup 15 from postgresql-15)', () => {
  beforeAll(async () => {
    master = await startCluster({ name: 'scripts-master', backend: 'embedded', version: 15 });
    workDir = await mkdtemp(join(tmpdir(), 'storx-scripts-'));
    await chmod(workDir, 0o755);
    standbyData = join(workDir, 'data');
    standbyPort = await freePort();
    const common = { POSTGRES_USER: master.user, POSTGRES_PASSWORD: master.password, POSTGRES_DB: 'postgres', POSTGRES_REPLICATOR_USER: 'replicator', POSTGRES_REPLICATOR_PASSWORD: "it's secret", PGHOST: master.host };
    masterEnv = { ...common, PGPORT: String(master.port), REPLICA_ADDRESS: '127.0.0.1' };
    standbyEnv = { ...common, PGPORT: String(standbyPort), POSTGRES_MASTER_HOST: master.host, POSTGRES_MASTER_PORT: String(master.port), PGDATA: standbyData, POSTGRES_OS_USER: OS_USER };
  });
  afterAll(async () => {
    if (standbyRunning) await pgCtl(master.binDir!, ['-D', standbyData, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    await master?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('setup-master.sh and init-replica.sh make a real streaming standby, twice without change; status reports it; writes reach it and it refuses its own', async () => {
    const first = await script('setup-master.sh', [], masterEnv);
    expect(first).toMatchObject({ code: 0 });
    expect(first.output).toContain('created role replicator');
    expect(first.output).toContain('created physical slot replica1_slot');
    const again = await script('setup-master.sh', [], masterEnv);
    expect(again.code).toBe(0);
    expect(again.output).toContain('physical slot replica1_slot exists');
    const hba = await readFile(join(master.dataDir!, 'pg_hba.conf'), 'utf8');
    expect(hba.split('\n').filter((line) => line === 'host replication replicator 127.0.0.1/32 scram-sha-256')).toHaveLength(1);
    // Whatever would allow more than the replica, or leave a line PostgreSQL refuses at its next
    // restart, is refused before pg_hba.conf is touched.
    for (const address of ['0.0.0.0/0', '::0/0', '10.0.0.2 trust', 'all', '10.0.0.2/33']) {
      expect(await script('setup-master.sh', [], { ...masterEnv, REPLICA_ADDRESS: address }), address).toMatchObject({ code: 2, output: expect.stringContaining("is not the replica's address") as string });
    }
    expect(await script('setup-master.sh', [], { ...masterEnv, POSTGRES_REPLICATOR_USER: 'rep all' })).toMatchObject({ code: 2, output: expect.stringContaining('is not a plain name') as string });
    // An address only PostgreSQL can judge: the line is added, found refused in
    // pg_hba_file_rules, and taken back before any reload.
    expect(await script('setup-master.sh', [], { ...masterEnv, REPLICA_ADDRESS: ':::::/64' })).toMatchObject({ code: 2, output: expect.stringContaining('PostgreSQL refuses the pg_hba.conf line') as string });
    expect(await readFile(join(master.dataDir!, 'pg_hba.conf'), 'utf8')).toBe(hba);

    // A run stopped during its copy left a partial copy in PGDATA/.init-replica: it is started
    // again, unless something else lies beside it.
    const staging = join(standbyData, '.init-replica');
    await mkdir(join(staging, 'base'), { recursive: true });
    await writeFile(join(staging, 'base', 'half-copied'), 'x');
    await writeFile(join(standbyData, 'stray'), 'x');
    expect(await script('init-replica.sh', [], standbyEnv)).toMatchObject({ code: 2, output: expect.stringContaining('holds files beside an unfinished copy') as string });
    await rm(join(standbyData, 'stray'));
    const made = await script('init-replica.sh', [], standbyEnv);
    expect(made.output).toContain('stopped during its copy: removing the partial copy and copying again');
    expect(made.output).toContain('is a standby of');
    expect(made.code).toBe(0);
    expect(await readdir(standbyData)).not.toContain('.init-replica');
    // A run stopped while moving its configured copy into place: the next one finishes the move
    // (the standby started below is that one).
    await mkdir(staging);
    for (const entry of ['base', 'global', 'standby.signal', 'postgresql.auto.conf']) await rename(join(standbyData, entry), join(staging, entry));
    await writeFile(join(staging, '.configured'), '');
    expect(await script('init-replica.sh', [], standbyEnv)).toMatchObject({ code: 0, output: expect.stringContaining('stopped while moving its finished copy') as string });
    expect(await readdir(standbyData)).not.toContain('.init-replica');
    expect(await script('init-replica.sh', [], standbyEnv)).toMatchObject({ code: 0, output: expect.stringContaining('already a standby: nothing to do') as string });
    const auto = await readFile(join(standbyData, 'postgresql.auto.conf'), 'utf8');
    expect(auto).toMatch(/primary_conninfo = '.*password=''it\\+''s secret'' dbname=''postgres''.*'/);
    expect(auto).toContain("primary_slot_name = 'replica1_slot'");
    expect(auto).toContain('hot_standby_feedback = on');

    await pgCtl(master.binDir!, ['-D', standbyData, '-l', join(standbyData, 'standby.log'), '-w', '-o', `-p ${standbyPort} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=200 -c max_wal_senders=20 -c max_replication_slots=20`, 'start']);
    standbyRunning = true;
    const standbyUrl = `postgres://${master.user}:${master.password}@127.0.0.1:${standbyPort}/postgres`;
    await withClient(master.url, (client) => client.query("CREATE TABLE test_replication (id serial, data text); INSERT INTO test_replication (data) VALUES ('Test data')"));
    await waitFor(() => withClient(standbyUrl, async (client) => (await client.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_class WHERE relname = 'test_replication'")).rows[0]!.n === 1 && (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM test_replication')).rows[0]!.n === 1), { description: 'the write on the master to reach the standby', timeoutMs: 60_000 });
    await expect(withClient(standbyUrl, (client) => client.query("INSERT INTO test_replication (data) VALUES ('Should fail')"))).rejects.toThrow(/read-only transaction/);

    await waitFor(async () => (await script('check-replication-status.sh', ['master'], masterEnv)).code === 0, { description: 'the master to report a streaming standby', timeoutMs: 60_000 });
    const onMaster = await script('check-replication-status.sh', ['master'], masterEnv);
    expect(onMaster.output).toMatch(/✓ standby 127\.0\.0\.1 replica1_slot state=streaming sent_lag=\d+B write_lag=\d+B flush_lag=\d+B replay_lag=\d+B\/[\d.]+s sync=async/);
    expect(onMaster.output).toContain('✓ physical slot replica1_slot active=true wal_status=reserved');
    const onReplica = await script('check-replication-status.sh', ['replica'], standbyEnv);
    expect(onReplica.output).toContain('✓ postgresql: is_replica=true, WAL receiver streaming from 127.0.0.1');
    expect(onReplica.code).toBe(0);
    // The roles swapped: each host asked for the other role is critical.
    expect((await script('check-replication-status.sh', ['replica'], masterEnv)).code).toBe(2);
    expect((await script('check-replication-status.sh', ['master'], standbyEnv)).code).toBe(2);
    expect((await script('check-replication-status.sh', [], masterEnv)).code).toBe(2);
  }, 180_000);

  it('pg-promote.sh promotes the standby to timeline 2 (again: nothing to do); status then reports the lost standby', async () => {
    expect(standbyRunning, 'the standby test must pass first').toBe(true);
    const promoted = await script('pg-promote.sh', [], standbyEnv);
    expect(promoted).toMatchObject({ code: 0, output: expect.stringContaining('now a primary on timeline 2') as string });
    expect(await script('pg-promote.sh', [], standbyEnv)).toMatchObject({ code: 0, output: expect.stringContaining('already a primary (timeline 2)') as string });
    const standbyUrl = `postgres://${master.user}:${master.password}@127.0.0.1:${standbyPort}/postgres`;
    await withClient(standbyUrl, (client) => client.query("INSERT INTO test_replication (data) VALUES ('after promotion')"));

    const replica = await script('check-replication-status.sh', ['replica'], standbyEnv);
    expect(replica).toMatchObject({ code: 2, output: expect.stringContaining('is_replica=false') as string });
    const orphaned = await script('check-replication-status.sh', ['master'], masterEnv);
    expect(orphaned.code).toBe(2);
    expect(orphaned.output).toContain('✗ no standby connected');
    expect(orphaned.output).toContain('! physical slot replica1_slot active=false');
  });
});
