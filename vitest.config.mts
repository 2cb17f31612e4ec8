import { defineConfig } from 'vitest/config';

// Four projects: pure logic and libsql/PGlite in Node; the workerd runtime (DOs, PGlite in a DO);
// end to end against `wrangler dev`; pages in Chromium against `wrangler dev`.
export default defineConfig({
  test: {
    projects: ['tests/unit/vitest.config.mts', 'tests/runtime/vitest.config.mts', 'tests/e2e/vitest.config.mts', 'tests/browser/vitest.config.mts'],
  },
});
