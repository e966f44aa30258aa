import { defineConfig } from 'vitest/config';

// Integration tests use real loop devices, iSCSI targets, namespaces and processes:
// they run in forked workers, and the slower ones declare their own timeouts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
