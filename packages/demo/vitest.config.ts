import { defineProject } from 'vitest/config';

export default defineProject({
  // Workspace packages resolve to their TypeScript sources, never to a stale dist/.
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    name: 'demo',
    include: ['test/**/*.test.ts'],
    // The tests run the built demo (scripts/test builds first) as a child process; it starts
    // its own clusters, so no globalSetup.
    testTimeout: 180_000,
  },
});
