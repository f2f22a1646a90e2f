import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['source'] },
  test: {
    name: 'service-kit',
    include: ['test/**/*.test.ts'],
  },
});
