import { defineProject } from 'vitest/config';

export default defineProject({
  // Workspace packages resolve to their TypeScript sources, never to a stale dist/.
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    name: 'deploy-check',
    include: ['test/**/*.test.ts'],
    // No Docker: files are parsed and checked against the services' code. The key-file check
    // runs the real `keys generate` (RSA 3072) into a temp directory; first-start.test.ts runs
    // docker/local's SQL and configs against real PostgreSQL clusters.
    globalSetup: ['../test-postgres/src/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
