import { rmSync } from 'node:fs';
import { isPostmasterOf, readPostmasterPidFile, terminatePostmasterSync } from './postmaster-process.js';

// Last-resort cleanup for embedded clusters whose stop() never ran: a failing or
// interrupted run, a test that forgot to stop its cluster, a worker killed by vitest
// (it sends SIGTERM). What even this cannot cover (SIGKILL, power loss) the stale sweep
// of the next run removes.

export interface TrackedCluster {
  directory: string;
  dataDir: string;
  /** Pid of the postmaster this process started, if it is running. */
  pid: () => number | undefined;
}

interface Registry {
  clusters: Map<string, TrackedCluster>;
  installed: boolean;
}

// Shared per process rather than per module instance: vitest can evaluate this module
// more than once in one process, and a single set of handlers must decide whether to
// re-raise a signal.
const REGISTRY_KEY = Symbol.for('@storx-backup/test-postgres/exit-cleanup');
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const SIGNAL_GRACE_MS = 1_000;

function registry(): Registry {
  const holder = globalThis as { [REGISTRY_KEY]?: Registry };
  holder[REGISTRY_KEY] ??= { clusters: new Map(), installed: false };
  return holder[REGISTRY_KEY];
}

export function trackCluster(cluster: TrackedCluster): void {
  const state = registry();
  if (!state.installed) {
    installHandlers();
    state.installed = true;
  }
  state.clusters.set(cluster.directory, cluster);
}

export function untrackCluster(directory: string): void {
  registry().clusters.delete(directory);
}

/** Synchronously kills every tracked postmaster and deletes its directory. */
function cleanupTrackedClustersSync(): void {
  const { clusters } = registry();
  for (const cluster of clusters.values()) {
    try {
      const pid = cluster.pid() ?? pidFromPidFile(cluster.dataDir);
      if (pid !== undefined) terminatePostmasterSync(pid, cluster.dataDir);
    } catch {
      // Best effort: the directory must go regardless.
    }
    try {
      rmSync(cluster.directory, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Left for the next run's stale sweep.
    }
  }
  clusters.clear();
}

function pidFromPidFile(dataDir: string): number | undefined {
  const pid = readPostmasterPidFile(dataDir)?.pid;
  return pid !== undefined && isPostmasterOf(pid, dataDir) ? pid : undefined;
}

function installHandlers(): void {
  // 'exit' covers process.exit() and uncaught exceptions; it only allows synchronous
  // work, hence the synchronous kill-and-wait.
  process.on('exit', cleanupTrackedClustersSync);
  for (const signal of SIGNALS) {
    // Listening to a signal disables Node's default "terminate"; stepping aside and
    // re-raising the signal restores it.
    const reRaise = (): void => {
      process.off(signal, onSignal);
      process.kill(process.pid, signal);
    };
    const onSignal = (): void => {
      cleanupTrackedClustersSync();
      // We run first (prepended), so every other listener is still registered here.
      if (process.listenerCount(signal) === 1) {
        reRaise();
        return;
      }
      // Usually another listener ends the process (vitest's main process exits within a
      // millisecond). But "polite" handlers such as signal-exit's (testcontainers loads it)
      // re-raise only when they are alone, and would wait for us forever: give the others
      // a moment, then step aside. Unref'd: an otherwise idle process just exits.
      setTimeout(reRaise, SIGNAL_GRACE_MS).unref();
    };
    process.prependListener(signal, onSignal);
  }
  // A vitest fork worker whose parent died (SIGINT/SIGKILL of the main process) is
  // orphaned and runs on until its current test ends; its IPC channel closing is the
  // first sign that nobody awaits the results any more.
  if (process.channel !== undefined) process.once('disconnect', cleanupTrackedClustersSync);
}
