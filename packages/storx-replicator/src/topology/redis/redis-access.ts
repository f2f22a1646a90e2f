import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What every Redis connection needs: the CA, a client certificate (mutual TLS) and the password. */
export interface RedisAccess {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  password: string;
}

/**
 * Reads ca.crt, redis.crt and redis.key from a host's TLS directory (scripts/redis-make-certs.sh
 * makes it; REDIS_TLS_DIR in the Redis scripts). Throws naming the file that does not load.
 */
export function loadRedisAccess(tlsDir: string, password: string): RedisAccess {
  const read = (file: string): Buffer => {
    try {
      return readFileSync(join(tlsDir, file));
    } catch (error) {
      throw new Error(`cannot read ${join(tlsDir, file)}: ${(error as Error).message}; --redis-tls-dir (or REDIS_TLS_DIR) names the directory scripts/redis-make-certs.sh made for this host`, { cause: error });
    }
  };
  return { ca: read('ca.crt'), cert: read('redis.crt'), key: read('redis.key'), password };
}

/** host:port (port required; [v6]:port for IPv6). */
export function redisAddress(name: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(name);
  if (!match) throw new Error(`'${name}' is not host:port`);
  return { host: match[1]!, port: Number(match[2]) };
}
