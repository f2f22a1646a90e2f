import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { CliResult } from './redis-cli.js';
import { REPO_ROOT } from './repo.js';

/** The server a script runs against, as the host's environment names it (scripts/lib/redis.sh). */
export interface ScriptHost {
  port: number;
  tlsDir: string;
  password: string;
}

/**
 * Runs one of scripts/*.sh as an operator does on a host: REDIS_HOST/REDIS_PORT/
 * REDIS_TLS_DIR/REDIS_PASSWORD from `host`, plus `env`. Never throws on a non-zero exit.
 */
export function runRedisScript(script: string, args: readonly string[], host: ScriptHost, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const fullEnv = { ...process.env, REDIS_HOST: '127.0.0.1', REDIS_PORT: String(host.port), REDIS_TLS_DIR: host.tlsDir, REDIS_PASSWORD: host.password, ...env };
  return new Promise((resolve) => {
    execFile('sh', [join(REPO_ROOT, 'scripts', script), ...args], { env: fullEnv, timeout: 90_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}
