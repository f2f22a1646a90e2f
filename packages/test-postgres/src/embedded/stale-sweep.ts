import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { clusterBaseDir, clusterPaths, parseClusterDirName } from './cluster-dir.js';
import { isPostmasterOf, isProcessRunning, readPostmasterPidFile, terminatePostmaster } from './postmaster-process.js';

// Removes what a process that died without cleaning up (SIGKILL, OOM, a crash of node
// itself) left behind: a cluster directory whose owner pid is no longer running, and
// the postmaster that may still be serving it.

let sweptOnce: Promise<string[]> | undefined;

/** Sweeps once per process; embedded start-up awaits it. */
export function sweepStaleClustersOnce(): Promise<string[]> {
  sweptOnce ??= sweepStaleClusters();
  return sweptOnce;
}

/** Returns the directories it removed. */
export async function sweepStaleClusters(baseDir = clusterBaseDir()): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(baseDir);
  } catch {
    return [];
  }
  const removed = await Promise.all(
    entries.map(async (entry) => {
      const parsed = parseClusterDirName(entry);
      if (parsed === undefined || parsed.ownerPid === process.pid || isProcessRunning(parsed.ownerPid)) return undefined;
      const paths = clusterPaths(join(baseDir, entry));
      try {
        const pidFile = readPostmasterPidFile(paths.dataDir);
        if (pidFile !== undefined && isPostmasterOf(pidFile.pid, paths.dataDir)) {
          await terminatePostmaster(pidFile.pid, paths.dataDir);
        }
        await rm(paths.directory, { recursive: true, force: true, maxRetries: 3 });
        return paths.directory;
      } catch {
        // Someone else's directory we may not delete: not a reason to fail start-up.
        return undefined;
      }
    }),
  );
  return removed.filter((directory) => directory !== undefined);
}
