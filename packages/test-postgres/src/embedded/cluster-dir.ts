import { randomBytes } from 'node:crypto';
import { chmod, chown, lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunAs } from './postgres-user.js';

/**
 * Every embedded cluster lives in `<base>/<name>-<owner pid>-<random>/`:
 *
 *     data/          PGDATA, owned by the user postgres runs as (mode 0700, initdb's rule)
 *     postgres.log   the server's stderr
 *
 * Not under os.tmpdir()/mkdtemp: as root, postgres runs as another user that must be able
 * to traverse every parent, and TMPDIR may be private (/root/…, a 0700 mkdtemp). The
 * owner pid in the name is what lets a later run sweep directories of dead processes.
 */
export function clusterBaseDir(): string {
  return process.env['STORX_TEST_PG_BASE_DIR'] ?? '/tmp/storx-test-pg';
}

export interface ClusterPaths {
  directory: string;
  dataDir: string;
  logFile: string;
}

export interface ParsedClusterDirName {
  name: string;
  ownerPid: number;
}

const DIR_NAME = /^(?<name>.+)-(?<pid>\d+)-(?<random>[0-9a-f]{8})$/;

export function parseClusterDirName(entry: string): ParsedClusterDirName | undefined {
  const match = DIR_NAME.exec(entry);
  if (match?.groups === undefined) return undefined;
  const { name, pid } = match.groups;
  if (name === undefined || pid === undefined) return undefined;
  return { name, ownerPid: Number(pid) };
}

export function clusterPaths(directory: string): ClusterPaths {
  return { directory, dataDir: join(directory, 'data'), logFile: join(directory, 'postgres.log') };
}

async function ensureBaseDir(): Promise<string> {
  const base = clusterBaseDir();
  await mkdir(base, { recursive: true, mode: 0o755 });
  // In a shared /tmp anyone could have created this path first: refuse a symlink, and
  // only fix the mode (mkdir's is filtered by the umask) of a directory that is ours.
  const stats = await lstat(base);
  if (!stats.isDirectory()) throw new Error(`${base} is not a directory (a symlink?); set STORX_TEST_PG_BASE_DIR`);
  if (stats.uid === process.getuid?.()) await chmod(base, 0o755);
  return base;
}

/** Creates a new, empty cluster directory whose data dir belongs to `runAs`. */
export async function createClusterDir(name: string, ownerPid: number, runAs: RunAs | undefined): Promise<ClusterPaths> {
  const base = await ensureBaseDir();
  const paths = clusterPaths(join(base, `${name}-${ownerPid}-${randomBytes(4).toString('hex')}`));
  // Not recursive: fails instead of sharing a directory if the random part ever collides.
  await mkdir(paths.directory, { mode: 0o755 });
  await chmod(paths.directory, 0o755);
  await mkdir(paths.dataDir, { mode: 0o700 });
  if (runAs !== undefined) await chown(paths.dataDir, runAs.uid, runAs.gid);
  return paths;
}
