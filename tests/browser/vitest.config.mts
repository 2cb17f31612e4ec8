import { defineConfig } from 'vitest/config';

// Browser: the real Worker under `wrangler dev`, pages driven in Debian's Chromium (playwright-core).
export default defineConfig({
  test: {
    name: 'browser',
    root: new URL('../..', import.meta.url).pathname,
    include: ['tests/browser/**/*.test.ts'],
    environment: 'node',
    setupFiles: ['tests/support/auth-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
