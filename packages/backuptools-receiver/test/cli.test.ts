import { spawn } from 'node:child_process';
import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { writeKeyPair } from '@storx-backup/protocol';
import { createDatabase, waitFor } from '@storx-backup/test-postgres';
import { type CapturedRun, captureRun } from '@storx-backup/service-kit';
import { main } from '../src/cli.js';
import { batchOf, OBJECTS, objectRow, signedRequest, testKeys } from './support.js';

const cli = (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CapturedRun> => captureRun(main, argv, env);

let dir: string;
let databaseUrl: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'receiver-cli-'));
  databaseUrl = await createDatabase(inject('pgBackupUrl'), 'receiver_cli');
});

describe('backuptools-receiver command line', () => {
  it('lists the commands; every command has --help', async () => {
    const usage = await cli(['--help']);
    expect(usage.code).toBe(0);
    for (const command of ['serve', 'status', 'migrate', 'keys generate']) expect(usage.stdout).toContain(command);
    expect((await cli([])).code).toBe(2);
    for (const command of [['serve'], ['status'], ['migrate'], ['keys', 'generate']]) {
      const help = await cli([...command, '--help']);
      expect(help.code, command.join(' ')).toBe(0);
      expect(help.stdout).toMatch(/^Usage: backuptools-receiver /);
    }
    const serveHelp = await cli(['serve', '--help']);
    expect(serveHelp.stdout).toContain('--listen-port <integer>\n      port to listen on (the seed uses 8005) (default 8005; env BACKUPTOOLS_LISTEN_PORT)');
  });

  it('refuses an unknown command or flag with exit 2 and a pointer to --help', async () => {
    expect(await cli(['serf'])).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "serf"') as string });
    const flag = await cli(['serve', '--listen-prot', '1']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('Run "backuptools-receiver serve --help" for the options.');
  });

  it('keys generate: a 0600 private key, a public key, and which one goes to the source host', async () => {
    const out = join(dir, 'keys');
    const run = await cli(['keys', 'generate', '--out', out, '--bits', '2048']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('backuptools_public.pem (public: copy it to the source host and set replication.webhook-public-key to it)');
    expect((await stat(join(out, 'backuptools_private.pem'))).mode & 0o777).toBe(0o600);
    const again = await cli(['keys', 'generate', '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
    expect((await cli(['keys', 'generate', '--out', out, '--bits', '1024'])).stderr).toContain('--bits must be a whole number of at least 2048');
    expect((await cli(['keys', 'generate'])).stderr).toContain('keys generate needs --out DIR');
  });

  it('serve: reports every configuration problem at once, naming key and source', async () => {
    const run = await cli(['serve', '--listen-port', 'eighty'], { BACKUPTOOLS_TIMESTAMP_TOLERANCE: '300' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('database-url is required: set it in the config file, as BACKUPTOOLS_DATABASE_URL, or with --database-url');
    expect(run.stderr).toContain('private-keys is required');
    expect(run.stderr).toContain('listen-port (from flag --listen-port): expected a whole number, got "eighty"');
    expect(run.stderr).toContain('timestamp-tolerance (from environment variable BACKUPTOOLS_TIMESTAMP_TOLERANCE): "300" is not a duration; write it with a unit');
  });

  it("serve: a key file that does not load is reported in the seed's words", async () => {
    const run = await cli(['serve', '--database-url', databaseUrl, '--private-keys', join(dir, 'missing.pem'), '--trusted-sender-keys', join(dir, 'missing2.pem')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/failed to load private key: cannot read .*missing\.pem \(ENOENT\)/);
  });

  it('migrate, then status: exit 1 before any batch, exit 2 when the database is unreachable', async () => {
    expect((await cli(['migrate', '--database-url', databaseUrl])).code).toBe(0);
    const empty = await cli(['status', '--database-url', databaseUrl]);
    expect(empty).toMatchObject({ code: 1, stdout: 'no source has applied a batch yet\n' });
    const down = await cli(['status', '--json'], { BACKUPTOOLS_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
    expect(down.code).toBe(2);
    expect(JSON.parse(down.stdout)).toMatchObject({ status: 'error' });
  });

  it('serve runs as a process: applies a signed batch over HTTP, reports it in status, stops cleanly on SIGTERM', async () => {
    const keys = testKeys();
    const keyDir = join(dir, 'serve-keys');
    const { privateKeyPath } = await writeKeyPair(keyDir, 'receiver', keys.pem.receiver);
    const { publicKeyPath } = await writeKeyPair(keyDir, 'sender', keys.pem.sender);
    const config = join(dir, 'receiver.yaml');
    await writeFile(config, `database-url: ${databaseUrl}\nlisten-host: 127.0.0.1\nlisten-port: 0\nprivate-keys: [${privateKeyPath}]\ntrusted-sender-keys: [${publicKeyPath}]\n`);

    const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'bin', 'backuptools-receiver.js'), 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const listening = await waitFor(() => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output)?.[1], { description: `receiver to listen (output: ${output})`, timeoutMs: 30_000 });
      const batch = batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(1), old_data: null, unchanged_toast: [] }], { sourceId: 'cli-source' });
      const request = await signedRequest(batch, keys);
      const response = await fetch(`${listening}/webhook`, { method: 'POST', headers: request.headers, body: request.payload });
      expect(response.status, await response.clone().text()).toBe(200);
      expect(await response.json()).toMatchObject({ status: 'applied' });

      const status = await cli(['status', '--json', '--database-url', databaseUrl]);
      expect(status.code).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ status: 'ok', sources: [{ source_id: 'cli-source', watermark_lsn: batch.commit_lsn, events_applied: '1' }] });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(output).toContain('"msg":"stopped"');
  });
});
