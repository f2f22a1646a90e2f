import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertOpen, trackChild } from './child-registry.js';
import { serviceEnvironment } from './commands.js';

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

/**
 * One service (`backuptools-receiver serve`, `storx-replicator run`) as a child process, its
 * output in a log file. Detached, in a process group of its own: Ctrl-C in the terminal then
 * reaches only the demo, which stops the services in order (replicator first, then receiver),
 * each with the SIGTERM an operator's service manager would send.
 */
export class ServiceProcess {
  #child: ChildProcess | undefined;
  #exited: Promise<number | null> = Promise.resolve(null);

  constructor(
    readonly name: string,
    private readonly command: readonly string[],
    readonly logFile: string,
  ) {}

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Starts the process and waits until its log matches `ready`. */
  async start(ready: RegExp): Promise<void> {
    assertOpen(this.name);
    const log = openSync(this.logFile, 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, this.command, { stdio: ['ignore', log, log], detached: true, env: serviceEnvironment() });
    } finally {
      closeSync(log);
    }
    this.#child = child;
    trackChild(child);
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(null));
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const text = await readFile(this.logFile, 'utf8').catch(() => '');
      if (ready.test(text)) return;
      if (!this.running) throw new Error(`${this.name} exited during start-up:\n${lastLines(text, 15)}`);
      if (Date.now() > deadline) throw new Error(`${this.name} was not ready after ${READY_TIMEOUT_MS / 1000} s:\n${lastLines(text, 15)}`);
      await sleep(50);
    }
  }

  /** SIGTERM (a graceful stop), SIGKILL if it takes too long; resolves with the exit code. */
  async stop(): Promise<number | null> {
    const child = this.#child;
    if (child === undefined || !this.running) return this.#exited;
    child.kill('SIGTERM');
    // A timer left pending would keep the demo alive after everything has stopped.
    const timer = new AbortController();
    const timeout = sleep(STOP_TIMEOUT_MS, 'timeout' as const, { signal: timer.signal }).catch(() => 'cancelled' as const);
    const outcome = await Promise.race([this.#exited, timeout]);
    timer.abort();
    if (outcome !== 'timeout') return this.#exited;
    child.kill('SIGKILL');
    return this.#exited;
  }

  async logTail(lines = 15): Promise<string> {
    return lastLines(await readFile(this.logFile, 'utf8').catch(() => ''), lines);
  }
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}
