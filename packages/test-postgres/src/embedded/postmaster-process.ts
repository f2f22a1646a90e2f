import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

// Signals and waits on a postmaster known only by its pid, the way pg_ctl does: the
// postmaster removes `postmaster.pid` as it exits. Used where no ChildProcess handle
// helps: in `process.on('exit')` (synchronous, the event loop no longer runs) and for
// postmasters left behind by dead processes.

/** SIGQUIT is pg_ctl's `-m immediate`: children quit at once, shared memory is released. */
const IMMEDIATE_SHUTDOWN = 'SIGQUIT';
const DEFAULT_TIMEOUT_MS = 5_000;

export interface PostmasterPidFile {
  pid: number;
  /** Line 8: `starting`, `stopping`, `ready` or `standby` (PostgreSQL >= 10). */
  status: string | undefined;
}

export function readPostmasterPidFile(dataDir: string): PostmasterPidFile | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  // Never signal pid 0, -1 or 1: a torn or empty file must not turn into "every process".
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  return { pid, status: lines[7]?.trim() };
}

/** Whether `pid` is a running (not exited, not zombie) process. */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // Our own exited child stays a zombie until the event loop reaps it, and a synchronous
  // wait never lets it: on Linux, read the state instead of trusting kill(pid, 0).
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}

/** Whether `pid` is a postmaster serving `dataDir` (guards against a reused pid). */
export function isPostmasterOf(pid: number, dataDir: string): boolean {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    try {
      // No /proc (macOS): ps prints the command line joined by spaces.
      argv = execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' }).trim().split(' ');
    } catch {
      return false;
    }
  }
  return argv.includes(dataDir);
}

function stillRunning(pid: number, dataDir: string): boolean {
  return isProcessRunning(pid) && readPostmasterPidFile(dataDir)?.pid === pid;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

const sleepState = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleepState, 0, 0, ms);
}

/** Immediate shutdown, blocking until the postmaster is gone (SIGKILL after the timeout). */
export function terminatePostmasterSync(pid: number, dataDir: string, timeoutMs = DEFAULT_TIMEOUT_MS): void {
  signal(pid, IMMEDIATE_SHUTDOWN);
  const deadline = Date.now() + timeoutMs;
  while (stillRunning(pid, dataDir)) {
    if (Date.now() >= deadline) {
      signal(pid, 'SIGKILL');
      return;
    }
    sleepSync(10);
  }
}

/** Immediate shutdown of a postmaster that is not our child (SIGKILL after the timeout). */
export async function terminatePostmaster(pid: number, dataDir: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  signal(pid, IMMEDIATE_SHUTDOWN);
  const deadline = Date.now() + timeoutMs;
  while (stillRunning(pid, dataDir)) {
    if (Date.now() >= deadline) {
      signal(pid, 'SIGKILL');
      return;
    }
    await sleep(10);
  }
}
