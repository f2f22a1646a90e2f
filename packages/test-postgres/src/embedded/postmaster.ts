import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ShutdownMode } from '../types.js';
import type { PostgresBinaries } from './binaries.js';
import type { ClusterPaths } from './cluster-dir.js';
import type { RunAs } from './postgres-user.js';
import { readPostmasterPidFile } from './postmaster-process.js';

// Runs the postmaster as our child process, the way `pg_ctl start`/`stop` would, but
// keeping the ChildProcess handle so an unexpected exit is noticed at once.

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

// What pg_ctl sends for each `-m` mode.
const SHUTDOWN_SIGNAL: Record<ShutdownMode, NodeJS.Signals> = { fast: 'SIGINT', immediate: 'SIGQUIT' };

export interface PostmasterOptions {
  binaries: PostgresBinaries;
  paths: ClusterPaths;
  port: number;
  runAs: RunAs | undefined;
  /** `name=value` server settings, passed as `-c name=value`. */
  settings: readonly string[];
}

/** The port was taken between choosing it and binding it; retry with another. */
export class PortInUseError extends Error {}

export async function startPostmaster(options: PostmasterOptions): Promise<ChildProcess> {
  const { binaries, paths, port, runAs, settings } = options;
  // The server logs to a file, not a pipe: a pipe nobody drains would block the server
  // once full, and a file is still there to read after a failure.
  const logFd = openSync(paths.logFile, 'a', 0o644);
  const logOffset = fstatSync(logFd).size;
  let child: ChildProcess;
  try {
    child = spawn(binaries.postgres, ['-D', paths.dataDir, '-p', String(port), ...settings.flatMap((s) => ['-c', s])], {
      stdio: ['ignore', logFd, logFd],
      ...runAs,
    });
  } finally {
    closeSync(logFd);
  }
  // The server must not keep a test worker alive; stop() or the exit cleanup ends it.
  child.unref();

  try {
    await waitUntilReady(child, paths.dataDir);
    return child;
  } catch (error) {
    await stopPostmaster(child, 'immediate');
    const log = await readLogFrom(paths.logFile, logOffset);
    if (/could not bind|already in use|could not create any TCP\/IP sockets/i.test(log)) {
      throw new PortInUseError(`Port ${port} is already in use`);
    }
    throw new Error(`${(error as Error).message}\n--- ${paths.logFile} ---\n${lastLines(log, 30)}`, { cause: error });
  }
}

async function waitUntilReady(child: ChildProcess, dataDir: string): Promise<void> {
  let exited: string | undefined;
  const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
    exited = `postgres exited during startup (code ${code ?? 'null'}, signal ${signal ?? 'null'})`;
  };
  const onError = (error: Error): void => {
    exited = `could not run postgres: ${error.message}`;
  };
  child.once('exit', onExit);
  child.once('error', onError);
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exited !== undefined) throw new Error(exited);
      // pg_ctl's readiness test: the postmaster writes "ready" into its pid file once it
      // accepts connections (independent of the log's language), a hot standby included;
      // "standby" when it runs in recovery without accepting connections (hot_standby = off),
      // which pg_ctl also counts as started.
      const pidFile = readPostmasterPidFile(dataDir);
      if (pidFile !== undefined && pidFile.pid === child.pid && (pidFile.status === 'ready' || pidFile.status === 'standby')) return;
      if (Date.now() >= deadline) throw new Error(`postgres was not ready after ${START_TIMEOUT_MS} ms`);
      await sleep(10);
    }
  } finally {
    child.off('exit', onExit);
    child.off('error', onError);
  }
}

/** Shuts the postmaster down and waits for it to exit (SIGKILL if it takes too long). */
export async function stopPostmaster(child: ChildProcess, mode: ShutdownMode): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Keep the event loop alive until the exit is seen, even at the end of a script.
  child.ref();
  const timer = new AbortController();
  try {
    child.kill(SHUTDOWN_SIGNAL[mode]);
    const timeout = sleep(STOP_TIMEOUT_MS, 'timeout' as const, { signal: timer.signal });
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
  } finally {
    timer.abort();
    child.unref();
  }
}

async function readLogFrom(logFile: string, offset: number): Promise<string> {
  try {
    const handle = await open(logFile, 'r');
    try {
      const { size } = await handle.stat();
      const buffer = Buffer.alloc(Math.max(0, size - offset));
      await handle.read(buffer, 0, buffer.length, offset);
      return buffer.toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return '';
  }
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}
