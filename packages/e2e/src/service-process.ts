import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from '@storx-backup/test-postgres';

const PACKAGES = join(import.meta.dirname, '..', '..');

/** The real command lines, as an operator runs them (built by scripts/test before the tests). */
export const BINARIES = {
  replicator: join(PACKAGES, 'storx-replicator', 'bin', 'storx-replicator.js'),
  receiver: join(PACKAGES, 'backuptools-receiver', 'bin', 'backuptools-receiver.js'),
} as const;

/**
 * One service run as a child process: started, killed (SIGKILL, no cleanup at all), restarted.
 * Keeps its output for assertions and for the failure message.
 */
export class ServiceProcess {
  output = '';
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);

  constructor(
    readonly name: string,
    private readonly binary: string,
    private readonly args: readonly string[],
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process and waits for `ready` to appear in its output. */
  async start(ready: RegExp, timeoutMs = 60_000): Promise<void> {
    const from = this.output.length;
    const child = spawn(process.execPath, [this.binary, ...this.args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STORX_CONFIG: '', BACKUPTOOLS_CONFIG: '' } });
    this.child = child;
    child.stdout.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor(() => ready.test(this.output.slice(from)) || (!this.running && Promise.reject(new Error(`${this.name} exited: ${this.tail()}`))), {
      description: `${this.name} to be ready (${this.tail()})`,
      timeoutMs,
      intervalMs: 50,
    });
  }

  /** SIGKILL: the process gets no chance to finish anything. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM and the exit code. */
  async stop(): Promise<number | null> {
    if (!this.running) return this.exited;
    this.child!.kill('SIGTERM');
    return this.exited;
  }

  tail(): string {
    return this.output.slice(-2000);
  }
}
