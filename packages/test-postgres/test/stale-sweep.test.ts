import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterBaseDir } from '../src/embedded/cluster-dir.js';
import { isProcessRunning } from '../src/embedded/postmaster-process.js';
import { sweepStaleClusters } from '../src/embedded/stale-sweep.js';
import { startEmbeddedCluster } from '../src/embedded-cluster.js';
import { waitFor, withClient } from '../src/index.js';

/** The pid of a process that has exited (and been reaped), as a killed test run leaves. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  const pid = child.pid;
  if (pid === undefined) throw new Error('spawned process has no pid');
  return pid;
}

describe('stale cluster sweep', () => {
  it('stops the postmaster and removes the directory of a dead owner', async () => {
    // A cluster as a SIGKILLed process leaves it: running, its owner gone.
    const cluster = await startEmbeddedCluster({ name: 'stale', ownerPid: await deadPid() });
    const directory = cluster.directory ?? '';
    const postmaster = cluster.pid ?? 0;
    await withClient(cluster.url, (client) => client.query('SELECT 1'));

    const removed = await sweepStaleClusters();

    expect(removed).toContain(directory);
    expect(existsSync(directory)).toBe(false);
    await waitFor(() => !isProcessRunning(postmaster), { description: `postmaster ${postmaster} to exit` });
    // stop() after the sweep has nothing left to do, and does not fail.
    await cluster.stop();
  });

  it('removes only directories whose owner is dead', async () => {
    const base = clusterBaseDir();
    const dead = join(base, `orphan-${await deadPid()}-0badc0de`);
    const alive = join(base, `orphan-${process.ppid}-0badc0de`);
    await mkdir(join(dead, 'data'), { recursive: true });
    await mkdir(join(alive, 'data'), { recursive: true });
    try {
      const removed = await sweepStaleClusters();
      expect(removed).toContain(dead);
      expect(removed).not.toContain(alive);
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(alive)).toBe(true);
    } finally {
      await rm(alive, { recursive: true, force: true });
      await rm(dead, { recursive: true, force: true });
    }
  });
});
