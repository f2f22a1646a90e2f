import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { waitFor } from '@storx-backup/test-postgres';
import { makeRedisCerts } from './redis-certs.js';
import { RedisServer } from './redis-server.js';

export interface RedisPair {
  master: RedisServer;
  replica: RedisServer;
  password: string;
  /** Where the CA and both hosts' certificates are (OUT_DIR of redis-make-certs.sh). */
  certsDir: string;
  /** Stops both servers and removes every file (keys included). */
  stop(): Promise<void>;
}

export interface RedisPairOptions {
  /**
   * Port the replica connects to instead of the master's (a proxy in front of it). Called
   * with the master's port once it runs.
   */
  replicaMasterPort?: (masterPort: number) => Promise<number> | number;
}

/**
 * A master and a replica over TLS with a private CA, both started from the repository's
 * templates and scripts, with the replica's link up and its first sync done.
 */
export async function startRedisPair(options: RedisPairOptions = {}): Promise<RedisPair> {
  const root = mkdtempSync(join(tmpdir(), 'storx-test-redis-'));
  const password = randomBytes(18).toString('base64url');
  const servers: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((server) => server.stop()));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const certs = await makeRedisCerts(join(root, 'tls'), ['master-host', 'replica-host']);
    const master = await RedisServer.start({ role: 'master', tlsDir: certs['master-host'], password, dir: join(root, 'master') });
    servers.push(master);
    const masterPort = options.replicaMasterPort ? await options.replicaMasterPort(master.port) : master.port;
    const replica = await RedisServer.start({ role: 'replica', tlsDir: certs['replica-host'], password, dir: join(root, 'replica'), masterPort });
    servers.push(replica);
    await waitFor(async () => (await replica.info('master_link_status')) === 'up' && (await replica.info('master_sync_in_progress')) === '0', {
      description: () => `the replica's first sync (log: ${replica.log().split('\n').slice(-3).join(' | ')})`,
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    return { master, replica, password, certsDir: join(root, 'tls'), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
