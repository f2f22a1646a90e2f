import { defineProject } from 'vitest/config';

export default defineProject({
  // Workspace packages resolve to their TypeScript sources, never to a stale dist/.
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    name: 'e2e',
    include: ['test/**/*.test.ts'],
    // Each file starts its own clusters (crash scenarios restart them) and runs the built
    // command lines (scripts/test builds first).
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
