import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { generateEd25519KeyPair, generateRsaKeyPair, writeKeyPair } from '@storx-backup/protocol';
import { type CapturedRun, captureRun } from '@storx-backup/service-kit';
import { main } from '../src/cli.js';
import { loadReplicatorConfig } from '../src/config.js';

const cli = (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CapturedRun> => captureRun(main, argv, env);

/** The seed's own connection string. */
const SEED_DATABASE = 'postgres://user:password@localhost:5432/storx?sslmode=disable&options=--search_path%3D%22satellite%2F0%22';

let dir: string;
let publicKey: string;
let signingKey: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'replicator-setup-'));
  publicKey = (await writeKeyPair(join(dir, 'keys'), 'backuptools', generateRsaKeyPair(2048))).publicKeyPath;
  signingKey = (await writeKeyPair(join(dir, 'keys'), 'storx_signing', generateEd25519KeyPair())).privateKeyPath;
});

function seedFlags(overrides: string[] = []): string[] {
  return [
    '--database', SEED_DATABASE,
    '--replication.webhook-url', 'http://localhost:8005/webhook',
    '--replication.webhook-public-key', publicKey,
    '--replication.signing-key', signingKey,
    ...overrides,
  ];
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

describe('storx-replicator setup', () => {
  it("lists setup, status and doctor among the commands, in order, each with --help", async () => {
    const usage = await cli(['--help']);
    expect(usage.code).toBe(0);
    const names = ['run', 'setup', 'status', 'doctor', 'keys generate'];
    const positions = names.map((name) => usage.stdout.search(new RegExp(`^  ${name} `, 'm')));
    expect(positions.every((position) => position > 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    for (const command of ['setup', 'status', 'doctor']) {
      const help = await cli([command, '--help']);
      expect(help.code, command).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: storx-replicator ${command}`));
      expect(help.stdout).toContain('--replication.webhook-url <string>');
    }
  });

  it("writes the seed's layout, mode 0600, in new directories, and run's config loader accepts it", async () => {
    const path = join(dir, 'a', 'b', 'config.yaml');
    const run = await cli(['setup', '--config', path, ...seedFlags(['--replication.max-retries', '7', '--replication.retry-delay', '2s', '--log-level', 'debug'])]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`wrote ${path} (mode 0600: it holds the database password)`);
    expect(run.stdout).toContain(`storx-replicator doctor --config ${path}`);
    expect(run.stdout).toContain(`storx-replicator run --config ${path}`);
    expect(run.stdout).not.toContain('password@');
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    const text = await readFile(path, 'utf8');
    expect(text).toContain(`database: ${JSON.stringify(SEED_DATABASE)}\n`);
    expect(text).toContain(
      [
        'replication:',
        '  webhook-url: "http://localhost:8005/webhook"',
        `  webhook-public-key: ${JSON.stringify(publicKey)}`,
        `  signing-key: ${JSON.stringify(signingKey)}`,
        '  slot-name: "backuptools_slot"',
        '  publication-name: "backuptools_pub"',
        '  tables:',
        '    - "objects"',
        '    - "segments"',
        '  max-retries: 7',
        '  retry-delay: "2s"',
      ].join('\n'),
    );
    // Only what was given plus the seed's documented three: the other defaults stay implicit.
    expect(text).not.toContain('webhook-timeout');
    expect(parseYaml(text)).toEqual({
      database: SEED_DATABASE,
      'log-level': 'debug',
      replication: {
        'webhook-url': 'http://localhost:8005/webhook',
        'webhook-public-key': publicKey,
        'signing-key': signingKey,
        'slot-name': 'backuptools_slot',
        'publication-name': 'backuptools_pub',
        tables: ['objects', 'segments'],
        'max-retries': 7,
        'retry-delay': '2s',
      },
    });

    const config = loadReplicatorConfig({ env: {}, flags: new Map(), configFile: path }, 'run');
    expect(config).toMatchObject({
      databaseUrl: SEED_DATABASE,
      webhookPublicKeyPath: publicKey,
      signingKeyPath: signingKey,
      slotName: 'backuptools_slot',
      publicationName: 'backuptools_pub',
      tables: ['objects', 'segments'],
      maxRetries: 7,
      retryDelayMs: 2000,
      webhookTimeoutMs: 30_000,
      sourceId: 'storx',
      logLevel: 'debug',
      configFile: path,
    });
    expect(config.webhookUrl.href).toBe('http://localhost:8005/webhook');
  });

  it('writes tables given as a flag as a YAML list, and uses STORX_CONFIG as the default path', async () => {
    const path = join(dir, 'from-env.yaml');
    const run = await cli(['setup', ...seedFlags(['--replication.tables', 'objects, segments,nodes'])], { STORX_CONFIG: path });
    expect(run.code, run.stderr).toBe(0);
    expect(await readFile(path, 'utf8')).toContain('  tables:\n    - "objects"\n    - "segments"\n    - "nodes"\n');
    expect(loadReplicatorConfig({ env: {}, flags: new Map(), configFile: path }).tables).toEqual(['objects', 'segments', 'nodes']);
  });

  it('refuses to overwrite an existing file without --force; --force replaces it, still 0600', async () => {
    const path = join(dir, 'existing.yaml');
    expect((await cli(['setup', '--config', path, ...seedFlags()])).code).toBe(0);
    const before = await readFile(path, 'utf8');

    const again = await cli(['setup', '--config', path, ...seedFlags(['--replication.webhook-url', 'http://backup-host:8005/webhook'])]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${path} already exists; run setup again with --force to overwrite it, or edit it`);
    expect(await readFile(path, 'utf8')).toBe(before);

    const forced = await cli(['setup', '--config', path, '--force', ...seedFlags(['--replication.webhook-url', 'http://backup-host:8005/webhook'])]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await readFile(path, 'utf8')).toContain('webhook-url: "http://backup-host:8005/webhook"');
    expect((await stat(path)).mode & 0o777).toBe(0o600);

    // A file someone else made (any mode) is replaced by a 0600 one.
    const foreign = join(dir, 'foreign.yaml');
    await writeFile(foreign, 'database: "x"\n', { mode: 0o644 });
    expect((await cli(['setup', '--config', foreign, '--force', ...seedFlags()])).code).toBe(0);
    expect((await stat(foreign)).mode & 0o777).toBe(0o600);
  });

  it('reports a bad value naming the key, and writes nothing', async () => {
    const path = join(dir, 'bad.yaml');
    const cases: [string[], string][] = [
      [['--replication.max-retries', 'lots'], 'replication.max-retries (from flag --replication.max-retries): expected a whole number, got "lots"'],
      [['--replication.slot-name', 'Backup-Slot'], 'replication.slot-name: "Backup-Slot" must be 1-63 characters of a-z, 0-9 and _'],
      [['--replication.webhook-url', 'ftp://backup-host/webhook'], 'replication.webhook-url: "ftp://backup-host/webhook" is not an http:// or https:// URL'],
      [['--replication.retry-delay', '5'], 'replication.retry-delay (from flag --replication.retry-delay): "5" is not a duration'],
      [['--replication.format', 'v4'], 'replication.format (from flag --replication.format): expected one of auto, v3, v2, seed-v1'],
      [['--database', 'not a url'], 'database: not a postgres:// URL'],
    ];
    for (const [flags, message] of cases) {
      const run = await cli(['setup', '--config', path, ...seedFlags(flags)]);
      expect(run.code, flags.join(' ')).toBe(2);
      expect(run.stderr).toContain(message);
      expect(run.stderr).toContain('nothing was written.');
      expect(await exists(path)).toBe(false);
    }
  });

  it("names the seed's three flags when they are missing, and says how to make the signing key", async () => {
    const path = join(dir, 'missing.yaml');
    const run = await cli(['setup', '--config', path, '--database', SEED_DATABASE]);
    expect(run.code).toBe(2);
    for (const key of ['replication.webhook-url', 'replication.webhook-public-key', 'replication.signing-key']) expect(run.stderr).toContain(`${key} is required`);
    expect(run.stderr).toContain('create the signing key with "storx-replicator keys generate --out DIR"');
    expect(await exists(path)).toBe(false);
  });

  it('refuses a mistyped flag with a pointer to --help', async () => {
    const run = await cli(['setup', '--config', join(dir, 'typo.yaml'), ...seedFlags(['--replication.max-retires', '3'])]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('error: unknown flag --replication.max-retires. Run "storx-replicator setup --help" for the options.\n');
    const short = await cli(['setup', '--config', join(dir, 'typo.yaml'), ...seedFlags(['--slot-name', 'x'])]);
    expect(short.stderr).toBe('error: unknown flag --slot-name (did you mean --replication.slot-name?). Run "storx-replicator setup --help" for the options.\n');
  });

  it('checks the key files before writing (a private key as the public one, a public key as the signing key, a missing CA): exit 2, nothing written', async () => {
    const path = join(dir, 'keys-checked.yaml');
    const receiverPrivate = join(dir, 'keys', 'backuptools_private.pem');
    const signingPublic = join(dir, 'keys', 'storx_signing_public.pem');
    const cases: [string[], string][] = [
      [['--replication.webhook-public-key', receiverPrivate], `error: RSA public key loads: failed to load public key: ${receiverPrivate} holds a private key`],
      [['--replication.signing-key', signingPublic], `error: signing key loads: failed to load signing key: ${signingPublic} holds a public key, not a private key`],
      [['--replication.signing-key', join(dir, 'nope.pem')], 'error: signing key loads: failed to load signing key: cannot read'],
      [['--replication.webhook-ca', join(dir, 'no-ca.pem')], `error: webhook CA loads: cannot read ${join(dir, 'no-ca.pem')} (ENOENT)`],
    ];
    for (const [flags, message] of cases) {
      const run = await cli(['setup', '--config', path, ...seedFlags(flags)]);
      expect(run.code, flags.join(' ')).toBe(2);
      expect(run.stderr).toContain(message);
      expect(run.stderr).toMatch(/\nfix: .*\n/);
      expect(run.stderr).toMatch(/nothing was written\.\n$/);
      expect(await exists(path)).toBe(false);
    }
  });
});
