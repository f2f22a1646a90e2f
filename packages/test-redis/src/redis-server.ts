import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitFor } from '@storx-backup/test-postgres';
import { type CliOptions, type CliResult, infoField, redisCli } from './redis-cli.js';
import { REPO_ROOT } from './repo.js';

export interface StartRedisOptions {
  role: 'master' | 'replica';
  /** A host's directory from makeRedisCerts. */
  tlsDir: string;
  password: string;
  /** Where its data, rendered config and log go; created, and removed by stop(). */
  dir: string;
  /** The replica's master port (on 127.0.0.1). */
  masterPort?: number;
  /** A port to listen on (a restarted server keeps its port); default a free one. */
  port?: number;
}

const started = new Set<RedisServer>();
let exitHookInstalled = false;

/**
 * A real redis-server started the way a host starts it: scripts/redis-start.sh renders
 * redis/redis.conf or redis/redis-replica.conf from the environment and execs redis-server,
 * here in the foreground as our child (TLS only, on 127.0.0.1).
 */
export class RedisServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly options: StartRedisOptions,
    public port: number,
  ) {}

  get tlsDir(): string {
    return this.options.tlsDir;
  }
  get password(): string {
    return this.options.password;
  }
  get logFile(): string {
    return join(this.options.dir, 'redis.log');
  }

  static async start(options: StartRedisOptions): Promise<RedisServer> {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    const server = new RedisServer(options, options.port ?? (await freePort()));
    for (let attempt = 1; ; attempt += 1) {
      try {
        await server.launch();
        return server;
      } catch (error) {
        // Another process took the free port in between: take another.
        if (attempt >= 3 || options.port !== undefined || !server.log().includes('Address already in use')) throw error;
        server.port = await freePort();
      }
    }
  }

  /** Starts it again after stop({ keepFiles: true }) or kill(), on the same port and data. */
  async restart(): Promise<void> {
    await this.launch();
  }

  private async launch(): Promise<void> {
    const { role, tlsDir, password, dir, masterPort } = this.options;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      REDIS_PASSWORD: password,
      REDIS_PORT: String(this.port),
      REDIS_BIND: '127.0.0.1',
      REDIS_TLS_DIR: tlsDir,
      REDIS_DATA_DIR: dir,
      REDIS_RUN_DIR: dir,
      ...(masterPort === undefined ? {} : { REDIS_MASTER_HOST: '127.0.0.1', REDIS_MASTER_PORT: String(masterPort) }),
    };
    const child = spawn('sh', [join(REPO_ROOT, 'scripts', 'redis-start.sh'), role, '--logfile', this.logFile], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    let exitedWith: string | undefined;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        exitedWith = `exited (${signal ?? code})`;
        resolve();
      });
      child.once('error', (error) => {
        exitedWith = `did not start: ${error.message} (is redis-server installed? apt-get install redis-server)`;
        resolve();
      });
    });
    this.child = child;
    track(this);
    await waitFor(
      async () => {
        if (exitedWith !== undefined) throw new Error(`redis-server ${exitedWith}: ${stderr}${this.log().split('\n').slice(-5).join('\n')}`);
        return (await this.cli(['PING'])).stdout.trim() === 'PONG';
      },
      { description: `redis-server (${role}) on port ${this.port} to answer PING`, timeoutMs: 30_000, intervalMs: 50 },
    ).catch(async (error: unknown) => {
      await this.kill();
      throw error;
    });
  }

  /** redis-cli with the documented flags (see redisCli). */
  cli(args: readonly string[], options?: CliOptions): Promise<CliResult> {
    return redisCli(this, args, options);
  }

  /** One field of INFO replication (or another section). */
  async info(field: string, section = 'replication'): Promise<string | undefined> {
    return infoField((await this.cli(['INFO', section])).stdout, field);
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** SIGKILL, files kept (restart() brings it back). */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
  }

  /** SIGTERM: Redis saves and exits cleanly. Removes its directory unless keepFiles. */
  async stop({ keepFiles = false } = {}): Promise<void> {
    this.child?.kill('SIGTERM');
    await this.exited;
    this.child = undefined;
    if (!keepFiles) {
      started.delete(this);
      rmSync(this.options.dir, { recursive: true, force: true });
    }
  }

  /** For the exit hook: synchronous. */
  killSync(): void {
    this.child?.kill('SIGKILL');
    rmSync(this.options.dir, { recursive: true, force: true });
  }
}

/** A redis-server a test forgot (or a failing run left) must not outlive the test process. */
function track(server: RedisServer): void {
  started.add(server);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const each of started) each.killSync();
  });
}
