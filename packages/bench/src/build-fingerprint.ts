import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '..', '..', '..');
/** The packages whose built code the services run. */
const PRODUCT = ['protocol', 'service-kit', 'storx-replicator', 'backuptools-receiver'];

/**
 * A short hash of the services' built code (every file under the product packages' dist/).
 * Taken before every run of ours: in a working tree shared with others, a `pnpm build` during
 * the benchmark changes what is measured, and the report says so.
 */
export async function buildFingerprint(): Promise<string> {
  const hash = createHash('sha256');
  for (const name of PRODUCT) {
    const dist = join(REPO, 'packages', name, 'dist');
    for (const file of await listFiles(dist)) {
      hash.update(relative(REPO, file));
      hash.update(await readFile(file).catch(() => Buffer.alloc(0)));
    }
  }
  return hash.digest('hex').slice(0, 12);
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(full)));
    else if (entry.name.endsWith('.js')) files.push(full);
  }
  return files.sort();
}

/** The commit and the product source files that differ from it (uncommitted work being measured). */
export async function sourceRevision(): Promise<{ commit: string | null; uncommitted: string[] }> {
  try {
    const { stdout: commit } = await run('git', ['rev-parse', 'HEAD'], { cwd: REPO });
    const { stdout: status } = await run('git', ['status', '--porcelain', '--', ...PRODUCT.map((name) => `packages/${name}/src`)], { cwd: REPO });
    return { commit: commit.trim(), uncommitted: status.split('\n').filter((line) => line.trim() !== '').map((line) => line.slice(3)) };
  } catch {
    return { commit: null, uncommitted: [] };
  }
}
