import type { TestProject } from 'vitest/node';
import type { PgProvidedKey } from './provided-context.js';
import { startCluster } from './start-cluster.js';
import type { PgCluster } from './types.js';

/**
 * vitest globalSetup: starts the `source` and `backup` clusters in parallel, provides
 * their URLs as `pgSourceUrl` / `pgBackupUrl`, and stops both at teardown.
 *
 * A database that does not start fails the run, in CI and locally alike: a test suite
 * that skips its database tests passes without testing anything.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const startedAt = performance.now();
  const results = await Promise.allSettled([startCluster({ name: 'source' }), startCluster({ name: 'backup' })]);
  const clusters = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as Error] : []));
  if (failures.length > 0) {
    await Promise.allSettled(clusters.map((cluster) => cluster.stop()));
    throw new Error(failures.map((failure) => failure.message).join('\n'), { cause: failures[0] });
  }
  const [source, backup] = clusters as [PgCluster, PgCluster];
  const provided: Record<PgProvidedKey, string> = { pgSourceUrl: source.url, pgBackupUrl: backup.url };
  project.provide('pgSourceUrl', provided.pgSourceUrl);
  project.provide('pgBackupUrl', provided.pgBackupUrl);
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
  console.info(
    `[test-postgres] ${project.name}: source ${describe(source)}, backup ${describe(backup)} (${seconds} s)`,
  );

  return async () => {
    await Promise.all([source.stop(), backup.stop()]);
  };
}

function describe(cluster: PgCluster): string {
  return `${cluster.backend} ${cluster.host}:${cluster.port}`;
}
