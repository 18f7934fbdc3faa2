import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/vm/**', 'node_modules/**', 'dist/**'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Lab tests share one lab (network namespaces are machine-global): run files one at a time.
    fileParallelism: false,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
