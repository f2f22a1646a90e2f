import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './repo.js';

const run = promisify(execFile);

/** One host's TLS directory as scripts/redis-make-certs.sh writes it: ca.crt, redis.crt, redis.key. */
export type TlsDir = string & { readonly __tlsDir: unique symbol };

/**
 * A private CA and a certificate for each host name, made by the real
 * scripts/redis-make-certs.sh (what an operator runs), under `dir`. Returns each host's TLS
 * directory, by name.
 */
export async function makeRedisCerts<const H extends string>(dir: string, hosts: readonly [H, H]): Promise<Record<H, TlsDir>> {
  await run('sh', [join(REPO_ROOT, 'scripts', 'redis-make-certs.sh'), dir, hosts[0], hosts[1]]);
  return Object.fromEntries(hosts.map((host) => [host, join(dir, host) as TlsDir])) as Record<H, TlsDir>;
}
