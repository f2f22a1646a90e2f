import { execFile } from 'node:child_process';
import { chown, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { PostgresBinaries } from './binaries.js';
import type { ClusterPaths } from './cluster-dir.js';
import type { RunAs } from './postgres-user.js';

const execFileAsync = promisify(execFile);

export interface InitdbOptions {
  binaries: PostgresBinaries;
  paths: ClusterPaths;
  runAs: RunAs | undefined;
  user: string;
  password: string;
}

/** Creates the cluster in `paths.dataDir` (which must exist, empty, owned by `runAs`). */
export async function initdb({ binaries, paths, runAs, user, password }: InitdbOptions): Promise<void> {
  // initdb reads the superuser password from a file; it lives beside PGDATA only until
  // initdb is done and only its owner can read it.
  const passwordFile = join(paths.directory, 'initdb-password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (runAs !== undefined) await chown(passwordFile, runAs.uid, runAs.gid);
  try {
    await execFileAsync(
      binaries.initdb,
      [
        `--pgdata=${paths.dataDir}`,
        `--username=${user}`,
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        // C.UTF-8 exists on every glibc system (no locales package needed) and keeps
        // server messages in English, which the port-conflict detection reads.
        '--locale=C.UTF-8',
        '--lc-messages=C.UTF-8',
        // A throwaway cluster: skip fsyncing the fresh files (the biggest part of initdb).
        '--no-sync',
        '--no-instructions',
      ],
      { ...runAs, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    // execFile's message already carries initdb's stderr.
    throw new Error(`initdb failed: ${(error as Error).message}`, { cause: error });
  } finally {
    await rm(passwordFile, { force: true });
  }
}
