import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { processUsage, type ProcessUsage } from './proc-usage.js';

const PACKAGES = join(import.meta.dirname, '..', '..');

/** The real command lines, as an operator runs them (`pnpm build` makes them). */
export const BINARIES = {
  replicator: join(PACKAGES, 'storx-replicator', 'bin', 'storx-replicator.js'),
  receiver: join(PACKAGES, 'backuptools-receiver', 'bin', 'backuptools-receiver.js'),
} as const;

// Enough of the output to explain a failure; the services log per batch at `info`, and a
// long run must not keep all of it.
const KEPT_OUTPUT = 64 * 1024;
const READY_TIMEOUT_MS = 120_000;

/**
 * One service run as a child process (a minimal copy of packages/e2e's, plus Node flags such as
 * `--cpu-prof` and the process's resource usage from /proc).
 */
export class ServiceProcess {
  private output = '';
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  private readyPattern: RegExp | undefined;
  private readyResolve: (() => void) | undefined;

  constructor(
    readonly name: string,
    private readonly binary: string,
    private readonly args: readonly string[],
    private readonly nodeArgs: readonly string[] = [],
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Spawns the process; the returned promise resolves when `ready` appears in its output and
   * rejects when the process exits first (or after two minutes: a start-up that hangs).
   */
  start(ready: RegExp): Promise<void> {
    this.output = '';
    const child = spawn(process.execPath, [...this.nodeArgs, this.binary, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, STORX_CONFIG: '', BACKUPTOOLS_CONFIG: '' },
    });
    this.child = child;
    const onData = (chunk: Buffer): void => this.append(chunk.toString());
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} was not ready after ${READY_TIMEOUT_MS / 1000} s: ${this.tail()}`)), READY_TIMEOUT_MS);
      this.readyPattern = ready;
      this.readyResolve = () => {
        clearTimeout(timer);
        resolve();
      };
      void this.exited.then((code) => {
        clearTimeout(timer);
        // After `ready` this rejection is ignored: a promise settles once.
        reject(new Error(`${this.name} exited (code ${code}) before it was ready: ${this.tail()}`));
      });
    });
  }

  /** Peak RSS and CPU time so far; undefined when the process is not running. */
  usage(): Promise<ProcessUsage | undefined> {
    return this.running ? processUsage(this.pid) : Promise.resolve(undefined);
  }

  /** SIGTERM (a clean stop: `--cpu-prof` writes its profile) and the exit code. */
  async stop(): Promise<number | null> {
    if (!this.running) return this.exited;
    this.child!.kill('SIGTERM');
    return this.exited;
  }

  /** SIGKILL, for cleanup after a failure. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  tail(): string {
    return this.output.slice(-2000);
  }

  private append(text: string): void {
    this.output += text;
    if (this.readyPattern?.test(this.output)) {
      this.readyPattern = undefined;
      this.readyResolve?.();
    }
    if (this.output.length > 2 * KEPT_OUTPUT) this.output = this.output.slice(-KEPT_OUTPUT);
  }
}
