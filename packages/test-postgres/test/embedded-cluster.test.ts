import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { isProcessRunning } from '../src/embedded/postmaster-process.js';
import { type PgCluster, startCluster, waitFor, withClient } from '../src/index.js';

async function count(url: string): Promise<number> {
  return withClient(url, async (client) => {
    const result = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM t');
    return result.rows[0]?.n ?? -1;
  });
}

function defined<T>(value: T | undefined): T {
  expect(value).toBeDefined();
  return value as T;
}

describe('embedded cluster started by a test', () => {
  it('survives an immediate (crash) restart with its data; stop() removes everything', async () => {
    const cluster: PgCluster = await startCluster({ name: 'restart', backend: 'embedded' });
    const directory = defined(cluster.directory);
    let lastPid: number;
    try {
      expect(cluster.backend).toBe('embedded');
      await withClient(cluster.url, (client) => client.query('CREATE TABLE t (v int); INSERT INTO t VALUES (1), (2), (3)'));
      const firstPid = defined(cluster.pid);

      await cluster.restart({ mode: 'immediate' });

      lastPid = defined(cluster.pid);
      expect(lastPid).not.toBe(firstPid);
      expect(isProcessRunning(firstPid)).toBe(false);
      expect(await count(cluster.url)).toBe(3);
      // The server really crashed: the next start had to recover from WAL.
      expect(readFileSync(join(directory, 'postgres.log'), 'utf8')).toMatch(/not properly shut down; automatic recovery in progress/);
    } finally {
      await cluster.stop();
    }
    expect(existsSync(directory)).toBe(false);
    await waitFor(() => !isProcessRunning(lastPid), { description: `postmaster ${lastPid} to exit` });
    expect(cluster.pid).toBeUndefined();
    // Idempotent.
    await cluster.stop();
    await expect(cluster.startServer()).rejects.toThrow(/was stopped/);
  });

  it('stopServer() keeps the data and startServer() serves it on the same URL', async () => {
    const cluster = await startCluster({ name: 'stop-start', backend: 'embedded' });
    try {
      await withClient(cluster.url, (client) => client.query('CREATE TABLE t (v int); INSERT INTO t VALUES (1)'));
      await cluster.stopServer('fast');
      expect(cluster.pid).toBeUndefined();
      await expect(withClient(cluster.url, (client) => client.query('SELECT 1'))).rejects.toThrow(/ECONNREFUSED/);

      // Someone else took the port meanwhile: a clear error, and the data is still there.
      const squatter = createServer();
      await new Promise<void>((resolve) => squatter.listen(cluster.port, cluster.host, resolve));
      try {
        await expect(cluster.startServer()).rejects.toThrow(`Port ${cluster.port} is already in use`);
      } finally {
        await new Promise((resolve) => squatter.close(resolve));
      }

      await cluster.startServer();
      expect(await count(cluster.url)).toBe(1);
    } finally {
      await cluster.stop();
    }
  });

  it('refuses to restart a server it does not own', async () => {
    const sourceUrl = inject('pgSourceUrl');
    const previous = process.env['STORX_TEST_DATABASE_URL'];
    process.env['STORX_TEST_DATABASE_URL'] = sourceUrl;
    try {
      const cluster = await startCluster({ name: 'elsewhere', backend: 'env' });
      expect(cluster.backend).toBe('env');
      expect(cluster.url).toBe(sourceUrl);
      await expect(cluster.restart({ mode: 'immediate' })).rejects.toThrow(/not ours to control/);
      await cluster.stop();
      // stop() left the server alone.
      await withClient(sourceUrl, (client) => client.query('SELECT 1'));
    } finally {
      if (previous === undefined) delete process.env['STORX_TEST_DATABASE_URL'];
      else process.env['STORX_TEST_DATABASE_URL'] = previous;
    }
  });
});
