import { randomBytes } from 'node:crypto';
import { createDatabase } from './database.js';
import type { PgCluster } from './types.js';
import { PG_DEFAULT_MAJOR, type PgMajor } from './versions.js';

const SUPERUSER = 'postgres';
const SERVER_FLAGS = [
  '-c', 'wal_level=logical',
  '-c', 'max_replication_slots=20',
  '-c', 'max_wal_senders=20',
  '-c', 'max_connections=200',
  '-c', 'fsync=off',
];

export type ContainerRuntime = { available: true } | { available: false; reason: string };

let runtime: Promise<ContainerRuntime> | undefined;

/**
 * Whether testcontainers finds Docker (or Podman, …). testcontainers is imported here,
 * lazily, and only when no environment URL and no forced backend decided already; the
 * answer is cached for the process so parallel starts probe once.
 */
export function probeContainerRuntime(): Promise<ContainerRuntime> {
  runtime ??= (async (): Promise<ContainerRuntime> => {
    try {
      const { getContainerRuntimeClient } = await import('testcontainers');
      await getContainerRuntimeClient();
      return { available: true };
    } catch (error) {
      // Without a runtime this is "Could not find a working container runtime strategy".
      return { available: false, reason: (error as Error).message };
    }
  })();
  return runtime;
}

/**
 * A `postgres:<major>` container (the default major's image overridable with
 * STORX_TEST_PG_IMAGE). testcontainers' reaper (Ryuk) removes it even if this process dies
 * without calling stop().
 */
export async function startContainerCluster(name: string, major: PgMajor = PG_DEFAULT_MAJOR): Promise<PgCluster> {
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  const password = randomBytes(12).toString('hex');
  const image = major === PG_DEFAULT_MAJOR ? (process.env['STORX_TEST_PG_IMAGE'] ?? `postgres:${major}`) : `postgres:${major}`;
  const container = await new PostgreSqlContainer(image)
    .withDatabase('postgres')
    .withUsername(SUPERUSER)
    .withPassword(password)
    .withCommand(['postgres', ...SERVER_FLAGS])
    .withLabels({ 'storx-backup.test-postgres.cluster': name })
    .start();
  const url = container.getConnectionUri();
  let stopped: Promise<void> | undefined;
  const cannot = (what: string): Promise<never> =>
    Promise.reject(
      new Error(
        `Cannot ${what} container cluster "${name}": only the embedded backend can. ` +
          `Start the cluster with startCluster({ backend: 'embedded' }).`,
      ),
    );
  return {
    name,
    backend: 'container',
    major,
    url,
    host: container.getHost(),
    port: container.getPort(),
    user: SUPERUSER,
    password,
    directory: undefined,
    dataDir: undefined,
    binDir: undefined,
    pid: undefined,
    createDatabase: (prefix) => createDatabase(url, prefix),
    stopServer: () => cannot('stop the server of'),
    startServer: () => cannot('start the server of'),
    restart: () => cannot('restart'),
    stop: () => {
      stopped ??= container.stop().then(() => undefined);
      return stopped;
    },
  };
}
