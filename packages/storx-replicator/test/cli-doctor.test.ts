import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair, generateRsaKeyPair, writeKeyPair } from '@storx-backup/protocol';
import { type CapturedRun, captureRun } from '@storx-backup/service-kit';
import { main } from '../src/cli.js';
import { walLevelItem } from '../src/inspect/database-checks.js';
import { configuredBySetup, type Pair, startPair } from './support.js';

const cli = (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CapturedRun> => captureRun(main, argv, env);

/** The item lines of doctor's output: `✓ ...` / `✗ ...` (fix lines excluded). */
function items(stdout: string): string[] {
  return stdout.split('\n').filter((line) => /^ {2}[✓✗] /.test(line)).map((line) => line.trim());
}

function failures(stdout: string): string[] {
  return items(stdout).filter((line) => line.startsWith('✗'));
}

/** The SQL fixes doctor printed (one statement per `fix:` line). */
function sqlFixes(stdout: string): string[] {
  return [...stdout.matchAll(/^ {6}(?:fix:| {4}) ((?:ALTER|GRANT|CREATE PUBLICATION) .*;)$/gm)].map((match) => match[1]!);
}

let pair: Pair;
let dir: string;
let configPath: string;
let emptyConfig: string;
let database: string;
const roles: string[] = [];

beforeAll(async () => {
  // nopk: a table the tests below add on the source; the receiver takes it.
  pair = await startPair({ receiverFlags: { tables: 'objects,segments,nopk' } });
  ({ dir, configPath, emptyConfig } = await configuredBySetup(pair, 'replicator-doctor-'));
  const { rows } = await pair.source.query<{ db: string }>('SELECT current_database() AS db');
  database = rows[0]!.db;
});
afterAll(async () => {
  for (const role of roles) await pair.source.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`).catch(() => undefined);
  await pair.close();
});

function doctor(...flags: string[]): Promise<CapturedRun> {
  return cli(['doctor', '--config', configPath, ...flags]);
}

/** A login role with no privileges at all, and the source URL (same search_path) connecting as it. */
async function newRole(): Promise<{ role: string; url: string }> {
  const role = `doctor_${randomBytes(4).toString('hex')}`;
  roles.push(role);
  await pair.source.query(`CREATE ROLE ${role} LOGIN PASSWORD 'doctor-pw'`);
  const url = new URL(pair.sourceUrl);
  url.username = role;
  url.password = 'doctor-pw';
  return { role, url: url.toString() };
}

describe('storx-replicator doctor', () => {
  it('passes every item of the checklist on a healthy pair (config written by setup), and creates nothing', async () => {
    const run = await doctor();
    expect(run.code, run.stdout).toBe(0);
    expect(run.stderr).toBe('');
    expect(failures(run.stdout)).toEqual([]);
    const lines = items(run.stdout);
    for (const expected of [
      `✓ the service can connect to the database (${database} as postgres, PostgreSQL`,
      '✓ wal_level = logical',
      '✓ user postgres has the REPLICATION privilege',
      `✓ CONNECT on database ${database}`,
      `✓ tables exist on the connection's search_path ("satellite/0"): "satellite/0".objects, "satellite/0".segments`,
      '✓ max_replication_slots leaves room for the replicator (20, ',
      '✓ max_wal_senders leaves room for the replicator (20, ',
      '✓ USAGE on schema "satellite/0"',
      '✓ SELECT on "satellite/0".objects',
      '✓ SELECT on "satellite/0".segments',
      '✓ "satellite/0".objects has a primary key or REPLICA IDENTITY FULL (primary key)',
      '✓ "satellite/0".segments has a primary key or REPLICA IDENTITY FULL (primary key)',
      '✓ publication backuptools_pub publishes the tables, or this user can make it (publication backuptools_pub does not exist yet; run creates it (this user may))',
      '✓ failover: no standby configured (database names one host, and no standby streams from it): nothing to fail over to',
      `✓ the configuration loads (config file ${configPath})`,
      `✓ RSA public key loads: ${join(pair.keyDir, 'backuptools_public.pem')} (RSA 2048 bits, kid `,
      `✓ signing key loads: ${join(pair.keyDir, 'storx_signing_private.pem')} (ed25519, kid `,
      `✓ webhook URL configured: ${pair.receiver.url}/webhook`,
      `✓ the webhook URL answers and accepts our signature: ${pair.receiver.url}/webhook accepted a signed, encrypted ping (HTTP 200; applied from this source up to nothing yet); batches go as v3, signed v1d`,
      '✓ the backup database can take "satellite/0".objects (the receiver prepared it as its first batch would, and rolled it back)',
      '✓ the backup database can take "satellite/0".segments (the receiver prepared it as its first batch would, and rolled it back)',
    ]) {
      expect(lines.some((line) => line.startsWith(expected)), expected).toBe(true);
    }
    expect(lines).toHaveLength(21);
    expect(run.stdout).toMatch(/^PostgreSQL:\n/);
    expect(run.stdout).toContain('\nStorXMonitor:\n');
    expect(run.stdout).toContain('\nBackuptools:\n');
    expect(run.stdout).toContain('all 21 checks passed.');

    const { rows } = await pair.source.query<{ slots: string; publications: string }>(
      'SELECT (SELECT count(*) FROM pg_replication_slots WHERE database = current_database()) AS slots, (SELECT count(*) FROM pg_publication) AS publications',
    );
    expect(rows[0]).toEqual({ slots: '0', publications: '0' });
  });

  it('reports a role without REPLICATION, USAGE and SELECT, item by item, with GRANTs that work when run', async () => {
    const { role, url } = await newRole();
    const first = await doctor('--database', url);
    expect(first.code).toBe(1);
    expect(failures(first.stdout)).toEqual([
      `✗ user ${role} has the REPLICATION privilege: permission denied for replication slot`,
      '✗ USAGE on schema "satellite/0": missing',
      '✗ SELECT on "satellite/0".objects: missing',
      '✗ SELECT on "satellite/0".segments: missing',
      `✗ publication backuptools_pub publishes the tables, or this user can make it: publication backuptools_pub does not exist and user ${role} cannot create it: it has no CREATE on database ${database} and does not own "satellite/0".objects, "satellite/0".segments`,
    ]);
    expect(first.stdout).toContain(`✗ user ${role} has the REPLICATION privilege: permission denied for replication slot\n      fix: ALTER USER ${role} WITH REPLICATION;\n`);
    // Without USAGE, PostgreSQL skips the schema on the search_path; doctor still finds the tables.
    expect(items(first.stdout)).toContain(`✓ tables exist on the connection's search_path ("satellite/0"): "satellite/0".objects, "satellite/0".segments`);
    // It keeps going: the receiver is still checked.
    expect(items(first.stdout).some((line) => line.startsWith('✓ the webhook URL answers and accepts our signature'))).toBe(true);
    expect(sqlFixes(first.stdout)).toEqual([
      `ALTER USER ${role} WITH REPLICATION;`,
      `GRANT USAGE ON SCHEMA "satellite/0" TO ${role};`,
      `GRANT SELECT ON "satellite/0".objects TO ${role};`,
      `GRANT SELECT ON "satellite/0".segments TO ${role};`,
      'CREATE PUBLICATION backuptools_pub FOR TABLE "satellite/0"."objects", "satellite/0"."segments";',
    ]);

    // Apply every fix but the GRANT SELECT on segments (the owner, a superuser here, runs them): exactly that one is left.
    for (const statement of sqlFixes(first.stdout).filter((line) => !line.includes('SELECT ON "satellite/0".segments'))) await pair.source.query(statement);
    const second = await doctor('--database', url);
    expect(second.code).toBe(1);
    expect(failures(second.stdout)).toEqual(['✗ SELECT on "satellite/0".segments: missing']);
    expect(second.stdout).toContain(`✗ SELECT on "satellite/0".segments: missing\n      fix: GRANT SELECT ON "satellite/0".segments TO ${role};\n`);

    for (const statement of sqlFixes(second.stdout)) await pair.source.query(statement);
    const third = await doctor('--database', url);
    expect(third.code, third.stdout).toBe(0);
    expect(items(third.stdout)).toContain(`✓ user ${role} has the REPLICATION privilege`);
    expect(items(third.stdout)).toContain('✓ publication backuptools_pub publishes the tables, or this user can make it (publication backuptools_pub publishes exactly the configured tables)');
    await pair.source.query('DROP PUBLICATION backuptools_pub');
  });

  it('reports a database the role may not connect to, with the GRANT CONNECT, and checks the rest', async () => {
    const { role, url } = await newRole();
    await pair.source.query(`REVOKE CONNECT ON DATABASE ${database} FROM PUBLIC`);
    try {
      const run = await doctor('--database', url);
      expect(run.code).toBe(1);
      expect(run.stdout).toContain(`✗ the service can connect to the database: permission denied for database "${database}" (User does not have CONNECT privilege)\n`);
      expect(run.stdout).toContain(`      fix: GRANT CONNECT ON DATABASE "${database}" TO "${role}";\n`);
      expect(items(run.stdout)).toContain('✗ wal_level = logical: not checked (no database connection)');
      expect(items(run.stdout)).toContain(`✗ CONNECT on database ${database}: missing`);
      expect(items(run.stdout).some((line) => line.startsWith('✓ the webhook URL answers and accepts our signature'))).toBe(true);

      await pair.source.query(`GRANT CONNECT ON DATABASE "${database}" TO "${role}";`);
      const after = await doctor('--database', url);
      expect(items(after.stdout).some((line) => line.startsWith(`✓ the service can connect to the database (${database} as ${role}`))).toBe(true);
    } finally {
      await pair.source.query(`GRANT CONNECT ON DATABASE ${database} TO PUBLIC`);
    }
  });

  it("reports tables missing from the connection's search_path in the seed's words, showing the search_path", async () => {
    const url = new URL(pair.sourceUrl);
    url.searchParams.delete('options');
    const run = await doctor('--database', url.toString());
    expect(run.code).toBe(1);
    expect(failures(run.stdout)).toEqual([
      `✗ tables exist on the connection's search_path: relation does not exist: "objects", "segments" (search_path is "$user", public)`,
      '✗ the backup database can take objects, segments: not checked (none of the tables was found on the source)',
    ]);
    expect(run.stdout).toContain(
      [
        '      fix: Check schema path in connection string',
        '           Verify tables exist in that schema',
        '           Grant SELECT on tables',
      ].join('\n'),
    );
    const typo = await doctor('--replication.tables', 'objects,segmnets');
    expect(failures(typo.stdout)).toEqual([`✗ tables exist on the connection's search_path: relation does not exist: "segmnets" (search_path is "satellite/0")`]);
  });

  it('reports a table without primary key (or REPLICA IDENTITY FULL) with the ALTER TABLE that fixes it', async () => {
    await pair.source.query('CREATE TABLE "satellite/0".nopk (a int, b text)');
    try {
      const run = await doctor('--replication.tables', 'objects,nopk');
      expect(run.code).toBe(1);
      expect(failures(run.stdout)).toEqual(['✗ "satellite/0".nopk has no primary key and no REPLICA IDENTITY FULL, so its UPDATEs and DELETEs cannot be replicated']);
      expect(run.stdout).toContain('      fix: ALTER TABLE "satellite/0".nopk REPLICA IDENTITY FULL;\n           -- or give it a primary key');
      for (const statement of sqlFixes(run.stdout)) await pair.source.query(statement);
      const fixed = await doctor('--replication.tables', 'objects,nopk');
      expect(fixed.code, fixed.stdout).toBe(0);
      expect(items(fixed.stdout)).toContain('✓ "satellite/0".nopk has a primary key or REPLICA IDENTITY FULL (REPLICA IDENTITY FULL)');

      await pair.source.query('ALTER TABLE "satellite/0".objects REPLICA IDENTITY NOTHING');
      const nothing = await doctor();
      expect(failures(nothing.stdout)).toEqual(['✗ "satellite/0".objects is REPLICA IDENTITY NOTHING, so its UPDATEs and DELETEs cannot be replicated']);
      expect(sqlFixes(nothing.stdout)).toEqual(['ALTER TABLE "satellite/0".objects REPLICA IDENTITY DEFAULT;']);
    } finally {
      await pair.source.query('ALTER TABLE "satellite/0".objects REPLICA IDENTITY DEFAULT');
      await pair.source.query('DROP TABLE "satellite/0".nopk');
    }
  });

  it("reports a public key that does not load in the seed's words: a missing file, a private key", async () => {
    const seedFix = [
      '      fix: Verify public key file exists',
      '           Check file permissions (should be readable)',
      '           Ensure PEM format (starts with -----BEGIN PUBLIC KEY-----)',
    ].join('\n');
    const missing = join(dir, 'missing_public.pem');
    const run = await doctor('--replication.webhook-public-key', missing);
    expect(run.code).toBe(1);
    expect(failures(run.stdout)).toEqual([
      `✗ RSA public key loads: failed to load public key: cannot read ${missing} (ENOENT); the file must be PEM starting with -----BEGIN PUBLIC KEY-----; check that it exists and is readable`,
      '✗ the webhook URL answers and accepts our signature: not checked (the keys above did not load)',
      '✗ the backup database can take objects, segments: not checked (the receiver did not accept the ping above)',
    ]);
    expect(run.stdout).toContain(seedFix);
    // Keeps going: the signing key is still checked.
    expect(items(run.stdout).some((line) => line.startsWith('✓ signing key loads'))).toBe(true);

    const privateKey = join(pair.keyDir, 'backuptools_private.pem');
    const wrong = await doctor('--replication.webhook-public-key', privateKey);
    expect(wrong.code).toBe(1);
    expect(failures(wrong.stdout)[0]).toBe(`✗ RSA public key loads: failed to load public key: ${privateKey} holds a private key; give the source host only the public key (the file must be PEM starting with -----BEGIN PUBLIC KEY-----; check that it exists and is readable)`);
    expect(wrong.stdout).toContain(seedFix);
  });

  it('reports a signing key that does not load: a missing file, an RSA key', async () => {
    const missing = join(dir, 'missing_signing.pem');
    const run = await doctor('--replication.signing-key', missing);
    expect(run.code).toBe(1);
    expect(failures(run.stdout)[0]).toMatch(/^✗ signing key loads: failed to load signing key: cannot read .*missing_signing\.pem \(ENOENT\)/);
    expect(run.stdout).toContain('      fix: Verify signing key file exists\n');
    const rsa = await doctor('--replication.signing-key', join(pair.keyDir, 'backuptools_private.pem'));
    expect(failures(rsa.stdout)[0]).toMatch(/^✗ signing key loads: failed to load signing key: .* is an RSA key, expected Ed25519$/);
    const publicHalf = join(pair.keyDir, 'storx_signing_public.pem');
    const given = await doctor('--replication.signing-key', publicHalf);
    expect(failures(given.stdout)[0]).toBe(`✗ signing key loads: failed to load signing key: ${publicHalf} holds a public key, not a private key; the source host signs with the private half: give the <name>_private.pem that 'keys generate' wrote beside this file (its public half goes to the receiver's trusted-sender-keys)`);
  });

  it('reports a receiver that rejects our encryption key or our signature (401), with what to check', async () => {
    const other = join(dir, 'other');
    const otherPublic = (await writeKeyPair(other, 'backuptools', generateRsaKeyPair(2048))).publicKeyPath;
    const otherSigning = (await writeKeyPair(other, 'storx_signing', generateEd25519KeyPair())).privateKeyPath;
    for (const flags of [
      ['--replication.webhook-public-key', otherPublic],
      ['--replication.signing-key', otherSigning],
    ]) {
      const run = await doctor(...flags);
      expect(run.code, flags[0]).toBe(1);
      const failed = failures(run.stdout);
      expect(failed).toHaveLength(2);
      expect(failed[1]).toBe('✗ the backup database can take objects, segments: not checked (the receiver did not accept the ping above)');
      expect(failed[0]).toMatch(new RegExp(`^✗ the webhook URL answers and accepts our signature: ${pair.receiver.url}/webhook: the receiver rejects our signature or encryption key \\(HTTP 401`));
      expect(run.stdout).toContain("in its trusted-sender-keys");
      expect(run.stdout).toContain("must be the public key of one of the receiver's private-keys");
    }
  });

  it('reports an unreachable webhook URL and a wrong path', async () => {
    const run = await doctor('--replication.webhook-url', 'http://127.0.0.1:1/webhook');
    expect(run.code).toBe(1);
    expect(failures(run.stdout)).toEqual(['✗ the webhook URL answers and accepts our signature: http://127.0.0.1:1/webhook: the receiver is unreachable: http://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1', '✗ the backup database can take objects, segments: not checked (the receiver did not accept the ping above)']);
    expect(run.stdout).toContain('fix: nothing listens at 127.0.0.1:1: start backuptools-receiver serve there, or fix the host and port in replication.webhook-url; run keeps retrying');

    const path = await doctor('--replication.webhook-url', `${pair.receiver.url}/hook`);
    expect(failures(path.stdout)[0]).toMatch(/the receiver rejects our requests \(HTTP 404/);
  });

  it('reports receiver settings that are not set, and a configuration that does not load', async () => {
    const unset = await cli(['doctor', '--config', emptyConfig, '--database', pair.sourceUrl]);
    expect(unset.code).toBe(1);
    expect(failures(unset.stdout)).toEqual([
      '✗ RSA public key loads: replication.webhook-public-key is not set',
      '✗ signing key loads: replication.signing-key is not set',
      '✗ webhook URL configured: replication.webhook-url is not set',
      '✗ the webhook URL answers and accepts our signature: not checked (replication.webhook-url is not set)',
      '✗ the backup database can take objects, segments: not checked (the receiver did not accept the ping above)',
    ]);
    expect(unset.stdout).toContain('fix: storx-replicator keys generate --out DIR');

    const bad = await doctor('--replication.slot-name', 'Bad-Slot');
    expect(bad.code).toBe(2);
    expect(failures(bad.stdout)[0]).toContain('✗ the configuration loads: invalid configuration:');
    expect(bad.stdout).toContain('replication.slot-name: "Bad-Slot" must be 1-63 characters');
  });

  it("gives the seed's wal_level fix (judged here: test servers get wal_level=logical on their command line, which ALTER SYSTEM cannot override)", () => {
    expect(walLevelItem('logical')).toMatchObject({ ok: true });
    expect(walLevelItem('replica')).toEqual({ section: 'PostgreSQL', ok: false, title: 'wal_level = logical: wal_level is not logical (it is replica)', fix: ['ALTER SYSTEM SET wal_level = logical;', '-- Restart PostgreSQL'] });
  });
});
