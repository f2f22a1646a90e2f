import { defineConfig } from 'vitest/config';

// Vitest >= 4 ignores `vitest.workspace.ts`; projects are listed here. Each package
// keeps its own `vitest.config.ts` (name, globalSetup, timeouts).
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts'],
  },
});
