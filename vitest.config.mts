import { defineConfig } from 'vitest/config';

// Two projects: pure logic and libsql/PGlite in Node, and the workerd runtime (DOs, PGlite in a DO).
export default defineConfig({
  test: {
    projects: ['tests/unit/vitest.config.mts', 'tests/runtime/vitest.config.mts'],
  },
});
