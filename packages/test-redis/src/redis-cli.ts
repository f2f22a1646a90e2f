import { execFile } from 'node:child_process';
import { join } from 'node:path';

export interface CliTarget {
  port: number;
  tlsDir: string;
  password: string;
}

export interface CliOptions {
  /** false: no --cert/--key, only --cacert (the seed's command line). Default true. */
  clientCertificate?: boolean;
  /** Another password than the server's. */
  password?: string;
}

export interface CliResult {
  code: number;
  /** CRs removed. */
  stdout: string;
  stderr: string;
}

/**
 * Runs redis-cli against a test server with the flags the docs give (`--tls --cacert --cert
 * --key`, the password in REDISCLI_AUTH). Never throws on a non-zero exit: refusals are
 * what some tests are after.
 */
export function redisCli(target: CliTarget, args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const tls = ['--tls', '--cacert', join(target.tlsDir, 'ca.crt')];
  if (options.clientCertificate !== false) tls.push('--cert', join(target.tlsDir, 'redis.crt'), '--key', join(target.tlsDir, 'redis.key'));
  const argv = ['--no-auth-warning', ...tls, '-h', '127.0.0.1', '-p', String(target.port), ...args];
  return new Promise((resolve) => {
    execFile('redis-cli', argv, { env: { ...process.env, REDISCLI_AUTH: options.password ?? target.password }, timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout: stdout.replaceAll('\r', ''), stderr });
    });
  });
}

/** One field of an INFO section's `name:value` lines. */
export function infoField(info: string, name: string): string | undefined {
  for (const line of info.split('\n')) {
    if (line.startsWith(`${name}:`)) return line.slice(name.length + 1);
  }
  return undefined;
}
