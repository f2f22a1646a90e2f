// doctor, status and run agree: what run would refuse, doctor reports ✗ with the same fix, and
// status reports as an error. Each case on a real source: a partitioned table, a user who can
// neither create the publication nor read the schema. run is given an unreachable receiver: every
// one of these stops it before it asks the receiver anything, and it creates nothing.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { main as receiverMain } from '@storx-backup/backuptools-receiver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CapturedRun, captureRun } from '@storx-backup/service-kit';
import { main } from '../src/cli.js';
import { configuredBySetup, type Pair, startPair } from './support.js';

let pair: Pair;
let configPath: string;
const roles: string[] = [];

beforeAll(async () => {
  pair = await startPair();
  ({ configPath } = await configuredBySetup(pair, 'replicator-prerequisites-'));
});
afterAll(async () => {
  for (const role of roles) await pair.source.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`).catch(() => undefined);
  await pair.close();
});

const cli = (command: string, ...flags: string[]): Promise<CapturedRun> => captureRun(main, [command, '--config', configPath, ...flags], { STORX_CONFIG: '' });
/** run against a receiver that is not there: it must stop on the source's problem first. */
const run = (...flags: string[]): Promise<CapturedRun> => cli('run', '--replication.webhook-url', 'http://127.0.0.1:1/webhook', ...flags);

function failures(stdout: string): string[] {
  return stdout.split('\n').filter((line) => /^ {2}✗ /.test(line)).map((line) => line.trim());
}

/** Slots and publications of the source database: run must have created neither. */
async function created(): Promise<{ slots: string; publications: string }> {
  const { rows } = await pair.source.query<{ slots: string; publications: string }>(
    'SELECT (SELECT count(*) FROM pg_replication_slots WHERE database = current_database()) AS slots, (SELECT count(*) FROM pg_publication) AS publications',
  );
  return rows[0]!;
}

/** A REPLICATION login role with SELECT on the tables (and USAGE unless told otherwise), owning nothing. */
async function replicationRole(options: { usage: boolean }): Promise<{ role: string; url: string }> {
  const role = `prereq_${randomBytes(4).toString('hex')}`;
  roles.push(role);
  await pair.source.query(`CREATE ROLE ${role} LOGIN REPLICATION PASSWORD 'pw'`);
  await pair.source.query(`GRANT SELECT ON ALL TABLES IN SCHEMA "satellite/0" TO ${role}`);
  if (options.usage) await pair.source.query(`GRANT USAGE ON SCHEMA "satellite/0" TO ${role}`);
  const url = new URL(pair.sourceUrl);
  url.username = role;
  url.password = 'pw';
  return { role, url: url.toString() };
}

describe('doctor, status and run agree', () => {
  it('a partitioned table: doctor ✗ with how to list its partitions, run refuses it with the same fix', async () => {
    await pair.source.query('CREATE TABLE "satellite/0".events (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)');
    try {
      const doctor = await cli('doctor', '--replication.tables', 'objects,events');
      expect(doctor.code).toBe(1);
      expect(failures(doctor.stdout)).toEqual(['✗ "satellite/0".events is a partitioned table: its changes are published under its partitions\' names']);
      const fix = 'list its partitions in replication.tables instead (SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = \'"satellite/0".events\'::regclass;)';
      expect(doctor.stdout).toContain(`fix: ${fix}`);

      const refused = await run('--replication.tables', 'objects,events');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(`error: "satellite/0".events is a partitioned table: its changes are published under its partitions' names\nfix: ${fix}\n`);
      expect(await created()).toEqual({ slots: '0', publications: '0' });
    } finally {
      await pair.source.query('DROP TABLE "satellite/0".events');
    }
  });

  it('a user who cannot create the publication: doctor ✗ and status error (not "run creates it"), run stops; the printed statement fixes all three', async () => {
    const { role, url } = await replicationRole({ usage: true });
    const statement = 'CREATE PUBLICATION backuptools_pub FOR TABLE "satellite/0"."objects", "satellite/0"."segments";';
    const doctor = await cli('doctor', '--database', url);
    expect(doctor.code).toBe(1);
    const { rows } = await pair.source.query<{ db: string }>('SELECT current_database() AS db');
    expect(failures(doctor.stdout)).toEqual([
      `✗ publication backuptools_pub publishes the tables, or this user can make it: publication backuptools_pub does not exist and user ${role} cannot create it: it has no CREATE on database ${rows[0]!.db} and does not own "satellite/0".objects, "satellite/0".segments`,
    ]);
    expect(doctor.stdout).toContain(`fix: -- as the tables' owner (or a superuser), once:\n           ${statement}\n`);

    const status = await cli('status', '--database', url, '--json');
    const report = JSON.parse(status.stdout) as { exit_code: number; problems: { severity: string; item: string; message: string; fix: string }[] };
    expect(status.code).toBe(2);
    expect(report.problems.find((problem) => problem.item === 'publication')).toEqual({
      severity: 'error',
      item: 'publication',
      message: expect.stringContaining(`user ${role} cannot create it`) as string,
      fix: `-- as the tables' owner (or a superuser), once: ${statement}`,
    });

    const refused = await run('--database', url);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`error: publication backuptools_pub does not exist and user ${role} cannot create it`);
    expect(refused.stderr).toContain(`fix: -- as the tables' owner (or a superuser), once:\n     ${statement}\n`);
    expect(await created()).toEqual({ slots: '0', publications: '0' });

    // The owner runs the statement: doctor passes that item, status no longer names the publication.
    await pair.source.query(statement);
    try {
      const fixed = await cli('doctor', '--database', url);
      expect(failures(fixed.stdout)).toEqual([]);
      const after = JSON.parse((await cli('status', '--database', url, '--json')).stdout) as typeof report;
      expect(after.problems.filter((problem) => problem.item === 'publication')).toEqual([]);
    } finally {
      await pair.source.query('DROP PUBLICATION backuptools_pub');
    }
  });

  it('no USAGE on the schema: run names the missing USAGE (not "relation does not exist") with the GRANT doctor prints', async () => {
    const { role, url } = await replicationRole({ usage: false });
    const grant = `GRANT USAGE ON SCHEMA "satellite/0" TO ${role};`;
    const doctor = await cli('doctor', '--database', url);
    expect(failures(doctor.stdout)).toContain('✗ USAGE on schema "satellite/0": missing');
    expect(doctor.stdout).toContain(`fix: ${grant}`);

    const refused = await run('--database', url);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`error: permission denied for schema "satellite/0": user has no USAGE on it, so "satellite/0".objects cannot be read\nfix: ${grant}\n`);
    expect(await created()).toEqual({ slots: '0', publications: '0' });
  });
});

describe("run's own failures: error and fix, one line each", () => {
  it('PostgreSQL refusing the connection: the database name, nothing listening (never a bare server message)', async () => {
    const noDatabase = new URL(pair.sourceUrl);
    noDatabase.pathname = '/no_such_database';
    const missing = await run('--database', noDatabase.toString());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('error: database "no_such_database" does not exist\nfix: check the database name in the database URL (the path after host:port)\n');

    const nowhere = await run('--database', 'postgres://postgres@127.0.0.1:1/storx');
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toBe('error: connect ECONNREFUSED 127.0.0.1:1\nfix: nothing accepts connections at 127.0.0.1:1: check that PostgreSQL runs there and the host and port in the database URL\n');
  });

  it('a port in use: one line naming the address and the option, for run and for serve', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const replicator = await run('--replication.metrics-listen', `127.0.0.1:${port}`);
      expect(replicator.code).toBe(1);
      expect(replicator.stderr).toBe(`error: cannot listen on 127.0.0.1:${port}: another process already listens there\nfix: stop that process (ss -ltnp | grep ${port} shows which), or set replication.metrics-listen (topology: --metrics-listen) to a free port\n`);

      const receiver = await captureRun(receiverMain, [
        'serve', '--database-url', pair.backupUrl, '--listen-host', '127.0.0.1', '--listen-port', String(port),
        '--private-keys', join(pair.keyDir, 'backuptools_private.pem'), '--trusted-sender-keys', join(pair.keyDir, 'storx_signing_public.pem'),
      ], { BACKUPTOOLS_CONFIG: '' });
      expect(receiver.code).toBe(1);
      expect(receiver.stderr).toBe(`error: cannot listen on 127.0.0.1:${port}: another process already listens there\nfix: stop that process (ss -ltnp | grep ${port} shows which), or set listen-port (or listen-host) to a free port\n`);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });
});
