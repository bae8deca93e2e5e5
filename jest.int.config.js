/** Real-service suites: local PostgreSQL (TEST_DATABASE_URL) and Mosquitto (TEST_MQTT_URL). Each suite skips, with a printed reason, when its variable is unset. */
module.exports = {
  rootDir: '.',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['<rootDir>/test/integration/**/*.int-spec.ts'],
  setupFiles: ['<rootDir>/test/setup/env.setup.ts'],
  // per-suite durations for the CI summary when CI_TIMINGS_DIR is set (docs/testing.md)
  reporters: ['default', ['<rootDir>/scripts/jest-timings-reporter.mjs', { run: 'int' }]],
  testTimeout: 180000,
};
