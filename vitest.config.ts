import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

// Vitest >= 4 ignores `vitest.workspace.ts`; projects are listed here, one line each, from one
// factory: every package's tests are `packages/<dir>/test/**/*.test.ts`, workspace packages
// resolve to their TypeScript sources (never a stale dist/), and the timeouts say what kind of
// test the package holds.
//
// Run one: `pnpm exec vitest run --project receiver [test/file.test.ts]`.

interface ProjectOptions {
  /** Starts the run's shared `source` and `backup` clusters (`inject('pgSourceUrl')`). */
  clusters?: boolean;
  /** Per test, ms; the limits only catch a hang: no test asserts on speed. */
  testTimeout?: number;
  hookTimeout?: number;
}

const listed = new Set<string>();

function project(name: string, dir: string, options: ProjectOptions = {}): TestProjectInlineConfiguration {
  listed.add(dir);
  return {
    root: `packages/${dir}`,
    resolve: { conditions: ['source'] },
    ssr: { resolve: { conditions: ['source'] } },
    test: {
      name,
      include: ['test/**/*.test.ts'],
      ...(options.clusters ? { globalSetup: ['../test-postgres/src/global-setup.ts'] } : {}),
      ...(options.testTimeout !== undefined ? { testTimeout: options.testTimeout } : {}),
      ...(options.hookTimeout !== undefined ? { hookTimeout: options.hookTimeout } : {}),
    },
  };
}

/** Tests on the run's shared clusters: each file makes its own databases. */
const DATABASE = { clusters: true, testTimeout: 60_000, hookTimeout: 120_000 } as const;

const PROJECTS = [
  project('protocol', 'protocol'),
  project('service-kit', 'service-kit'),
  project('test-postgres', 'test-postgres', DATABASE),
  project('receiver', 'backuptools-receiver', DATABASE),
  project('replicator', 'storx-replicator', DATABASE),
  // No Docker: files are parsed and checked against the services' code; first-start runs
  // docker/local's SQL and configs against real clusters.
  project('deploy-check', 'deploy-check', DATABASE),
  // Real redis-server over TLS (Debian's redis-server; .ci/run installs it), no PostgreSQL.
  project('test-redis', 'test-redis', { testTimeout: 60_000, hookTimeout: 60_000 }),
  // Each e2e file starts its own clusters (crash scenarios restart them) and runs the built
  // command lines (scripts/test builds first).
  project('e2e', 'e2e', { testTimeout: 300_000, hookTimeout: 120_000 }),
  // The demo and the bench smoke run start their own clusters and the built command lines.
  project('demo', 'demo', { testTimeout: 180_000 }),
  project('bench', 'bench', { testTimeout: 600_000, hookTimeout: 120_000 }),
];

// A package with tests but no line above would silently never run.
const packages = fileURLToPath(new URL('packages', import.meta.url));
const unlisted = readdirSync(packages).filter((dir) => existsSync(`${packages}/${dir}/test`) && !listed.has(dir));
if (unlisted.length > 0) throw new Error(`vitest.config.ts: add a project line for packages/${unlisted.join(', packages/')}`);

export default defineConfig({ test: { projects: PROJECTS } });
