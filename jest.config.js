/** Unit + e2e tests that need no external service (npm test). Real-service suites: jest.int.config.js. */
const { availableParallelism } = require('node:os');

module.exports = {
  rootDir: '.',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: [
    '<rootDir>/src/**/*.spec.ts',
    '<rootDir>/simulators/**/*.spec.ts',
    '<rootDir>/bench/**/*.spec.ts',
    '<rootDir>/test/**/*.spec.ts',
    '<rootDir>/test/e2e/**/*.e2e-spec.ts',
  ],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '<rootDir>/test/fixtures/'],
  setupFiles: ['<rootDir>/test/setup/env.setup.ts'],
  // per-suite durations for the CI summary when CI_TIMINGS_DIR is set (docs/testing.md)
  reporters: ['default', ['<rootDir>/scripts/jest-timings-reporter.mjs', { run: 'unit-e2e' }]],
  // At least two workers, also on a 2-core machine (jest's default there is one, i.e. every suite in turn): the e2e
  // suites mostly wait on their server processes and real clocks, so a second worker overlaps that waiting with work
  // (docs/testing.md "Where CI time goes"). JEST_MAX_WORKERS overrides it (a number or a share such as "50%").
  maxWorkers: process.env.JEST_MAX_WORKERS || Math.max(2, availableParallelism() - 1),
  testTimeout: 120000,
};
