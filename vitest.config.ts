import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Real time, real processes and ptys on a 2-core CI machine: a test that fails is run once more
    // there, and the retry shows in the report. Locally nothing is retried.
    retry: process.env.CI === 'true' ? 1 : 0,
    globalSetup: ['test/helpers/global-setup.ts'],
    setupFiles: ['test/helpers/setup.ts'],
  },
})
