import { defineProject } from 'vitest/config';

export default defineProject({
  // Workspace packages resolve to their TypeScript sources, never to a stale dist/.
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    name: 'bench',
    include: ['test/**/*.test.ts'],
    // The smoke run starts two clusters and the built command lines (scripts/test builds
    // first). It asserts completeness, never speed: the limits only catch a hang.
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
