import { readdir, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { clusterBaseDir, sweepStaleClusters } from '@storx-backup/test-postgres';

/** scripts/demo gives each run `/tmp/storx-demo-pg-<pid>` (STORX_TEST_PG_BASE_DIR); a directory named otherwise is left alone. */
const RUN_DIRECTORY = /^(?<prefix>storx-demo-pg-)(?<pid>\d+)$/;

/**
 * Each demo run owns its cluster directory, so a test run or a second demo never takes it for a
 * leak. What a killed run left (its postmasters, its directory) is removed by the next run: every
 * sibling directory of a process that no longer runs is swept and deleted.
 */
export async function sweepDeadRuns(): Promise<void> {
  const own = RUN_DIRECTORY.exec(basename(clusterBaseDir()))?.groups;
  if (own === undefined) return;
  const parent = dirname(clusterBaseDir());
  for (const entry of await readdir(parent).catch(() => [] as string[])) {
    const match = RUN_DIRECTORY.exec(entry)?.groups;
    if (match === undefined || match['prefix'] !== own['prefix'] || match['pid'] === own['pid'] || isRunning(Number(match['pid']))) continue;
    await sweepStaleClusters(join(parent, entry)).catch(() => undefined);
    await rmdir(join(parent, entry)).catch(() => undefined);
  }
}

/** The run's own directory, once its clusters are stopped (rmdir: only when empty). */
export async function removeRunDirectory(): Promise<void> {
  if (RUN_DIRECTORY.test(basename(clusterBaseDir()))) await rmdir(clusterBaseDir()).catch(() => undefined);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
