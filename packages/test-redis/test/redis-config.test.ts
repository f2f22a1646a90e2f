import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/index.js';

const work = mkdtempSync(join(tmpdir(), 'storx-test-redis-conf-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function render(template: string, env: Record<string, string>, output = join(work, 'out.conf')): Promise<{ code: number; stderr: string; output: string }> {
  return new Promise((resolve) => {
    execFile('sh', [join(REPO_ROOT, 'scripts', 'redis-render-config.sh'), template, output], { env: { PATH: process.env['PATH'], ...env } }, (error, _stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code), stderr, output });
    });
  });
}

const REPLICA = join(REPO_ROOT, 'redis', 'redis-replica.conf');
const MASTER = join(REPO_ROOT, 'redis', 'redis.conf');
const PASSWORD = 'Xk2/p+9aQ0w3eR7tY=uI';

describe('redis-render-config.sh', () => {
  it('fills every placeholder of the replica template, with the defaults the docs give, mode 0600', async () => {
    const result = await render(REPLICA, { REDIS_PASSWORD: PASSWORD, REDIS_MASTER_HOST: 'master.example' });
    expect(result.code, result.stderr).toBe(0);
    const text = readFileSync(result.output, 'utf8');
    expect(text).not.toContain('REPLACE_WITH_');
    expect(text).toMatch(/^port 0$/m);
    expect(text).toMatch(/^tls-port 6380$/m);
    expect(text).toMatch(/^replicaof master\.example 6380$/m);
    expect(text).toContain(`requirepass "${PASSWORD}"`);
    expect(text).toContain(`masterauth "${PASSWORD}"`);
    expect(text).toMatch(/^tls-ca-cert-file \/usr\/local\/etc\/redis\/tls\/ca\.crt$/m);
    expect(statSync(result.output).mode & 0o777).toBe(0o600);
  });

  it('refuses a template whose variable is not set, naming it, and writes nothing', async () => {
    const output = join(work, 'missing.conf');
    const result = await render(REPLICA, { REDIS_PASSWORD: PASSWORD }, output);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('not set: REDIS_MASTER_HOST');
    expect(() => statSync(output)).toThrow();
  });

  it('refuses a placeholder with no variable behind it (an unknown REPLACE_WITH_ name)', async () => {
    const template = join(work, 'unknown.conf');
    writeFileSync(template, 'requirepass "REPLACE_WITH_REDIS_PASSWORD"\nreplicaof REPLACE_WITH_MASTER_HOST 6380\n');
    const result = await render(template, { REDIS_PASSWORD: PASSWORD, REDIS_MASTER_HOST: 'x' }, join(work, 'unknown.out'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('not set: MASTER_HOST');
  });

  it('refuses passwords Redis would read differently, and short ones', async () => {
    for (const password of ['has"quote-1234567890', 'back\\slash-1234567890', 'short']) {
      const result = await render(MASTER, { REDIS_PASSWORD: password }, join(work, 'bad.conf'));
      expect(result.code, password).toBe(2);
      expect(result.stderr).toMatch(/REDIS_PASSWORD/);
    }
  });

  it('copies & and other sed/awk metacharacters literally', async () => {
    const password = 'a&b|c/d\\1$HOME*x%y';
    const result = await render(MASTER, { REDIS_PASSWORD: password.replace('\\', '') });
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(result.output, 'utf8')).toContain(`requirepass "${password.replace('\\', '')}"`);
  });

  it('both templates share every setting but the replica block', () => {
    const settings = (file: string): string[] =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => line !== '' && !line.startsWith('#'));
    const replicaOnly = ['replicaof REPLACE_WITH_REDIS_MASTER_HOST REPLACE_WITH_REDIS_MASTER_PORT', 'replica-serve-stale-data yes'];
    expect(settings(REPLICA).filter((line) => !replicaOnly.includes(line))).toEqual(settings(MASTER));
  });
});
