import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const PACKAGES = join(import.meta.dirname, '..', '..');

/** The real command lines, as an operator runs them (`pnpm build` makes them; scripts/test builds first). */
export const SERVICE_BINARIES = {
  replicator: join(PACKAGES, 'storx-replicator', 'bin', 'storx-replicator.js'),
  receiver: join(PACKAGES, 'backuptools-receiver', 'bin', 'backuptools-receiver.js'),
} as const;

// Enough of the output to explain a failure; the services log per batch at `info`, and a long
// run must not keep all of it.
const KEPT_OUTPUT = 64 * 1024;
// Generous: a start-up that hangs, not a slow one on a machine at load average 8.
const READY_TIMEOUT_MS = 120_000;

export interface ServiceProcessOptions {
  /** Node flags before the script, e.g. `--cpu-prof`. */
  nodeArgs?: readonly string[];
  /** Environment variables besides the inherited ones (e.g. a password a command reads only from there). */
  env?: Readonly<Record<string, string>>;
}

/**
 * One service (`backuptools-receiver serve`, `storx-replicator run`) as a child process for
 * tests and the bench: started (resolving once `ready` appears in its output), stopped with
 * SIGTERM, killed with SIGKILL (no cleanup at all), restarted. Keeps the end of its output for
 * assertions and failure messages. Configuration comes only from the arguments: the config
 * environment variables are cleared.
 */
export class ServiceProcess {
  #output = '';
  #child: ChildProcess | undefined;
  #exited: Promise<number | null> = Promise.resolve(null);
  #ready: { pattern: RegExp; text: string; resolve: () => void } | undefined;

  constructor(
    readonly name: string,
    private readonly binary: string,
    private readonly args: readonly string[],
    private readonly options: ServiceProcessOptions = {},
  ) {}

  /** The end of everything the process wrote, over all its starts. */
  get output(): string {
    return this.#output;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /**
   * Spawns the process; resolves when `ready` appears in what it writes from now on, rejects
   * when it exits first or is not ready in time.
   */
  start(ready: RegExp, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    const child = spawn(process.execPath, [...(this.options.nodeArgs ?? []), this.binary, ...this.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.options.env, STORX_CONFIG: '', BACKUPTOOLS_CONFIG: '' },
    });
    this.#child = child;
    const onData = (chunk: Buffer): void => this.#append(chunk.toString());
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(null));
    });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} was not ready after ${timeoutMs / 1000} s: ${this.tail()}`)), timeoutMs);
      this.#ready = {
        pattern: ready,
        text: '',
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      void this.#exited.then((code) => {
        clearTimeout(timer);
        // After `ready` this rejection is ignored: a promise settles once.
        reject(new Error(`${this.name} exited (code ${code}) before it was ready: ${this.tail()}`));
      });
    });
  }

  /** SIGKILL: the process gets no chance to finish anything. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.#child!.kill('SIGKILL');
    await this.#exited;
  }

  /** SIGTERM (a graceful stop) and the exit code. */
  async stop(): Promise<number | null> {
    if (!this.running) return this.#exited;
    this.#child!.kill('SIGTERM');
    return this.#exited;
  }

  tail(): string {
    return this.#output.slice(-2000);
  }

  #append(text: string): void {
    this.#output += text;
    if (this.#output.length > 2 * KEPT_OUTPUT) this.#output = this.#output.slice(-KEPT_OUTPUT);
    const ready = this.#ready;
    if (ready === undefined) return;
    ready.text = (ready.text + text).slice(-KEPT_OUTPUT);
    if (ready.pattern.test(ready.text)) {
      this.#ready = undefined;
      ready.resolve();
    }
  }
}
