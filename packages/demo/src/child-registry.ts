import type { ChildProcess } from 'node:child_process';

// Every child process the demo starts (services and one-off commands) is tracked here, so that
// none outlives the demo: the teardown waits for them, and should the process exit without its
// teardown, the 'exit' hook kills what is left (synchronous work only: a signal is).

const running = new Set<ChildProcess>();
let closed = false;
let hookInstalled = false;

/** Registers a child that was just spawned; it leaves the registry when it exits. */
export function trackChild(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.once('error', () => running.delete(child));
  if (!hookInstalled) {
    process.on('exit', killAllNow);
    hookInstalled = true;
  }
}

/** After `closeChildren()`, starting anything new is refused: the demo is shutting down. */
export function assertOpen(what: string): void {
  if (closed) throw new Error(`not starting ${what}: the demo is stopping`);
}

/** Refuses new children, kills the running ones (SIGKILL: one-off commands have nothing to finish) and waits for them. */
export async function closeChildren(): Promise<void> {
  closed = true;
  const exits = [...running].map((child) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()))));
  killAllNow();
  await Promise.all(exits);
}

function killAllNow(): void {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
