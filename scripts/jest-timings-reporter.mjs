/**
 * Jest reporter that records how long each suite and each of its tests took, for the end-of-CI summary
 * (scripts/ci-timings.mjs, docs/testing.md "Where CI time goes"). It writes nothing unless CI_TIMINGS_DIR names a
 * directory; then it appends one JSON line per suite to `<CI_TIMINGS_DIR>/jest-<run>.jsonl` (`run` is CI_TIMINGS_RUN, else the
 * reporter option set in the jest config) and one line with the run's wall time when the run ends.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';

export default class TimingsReporter {
  constructor(globalConfig, options = {}) {
    const dir = process.env.CI_TIMINGS_DIR;
    this.rootDir = globalConfig.rootDir;
    this.run = process.env.CI_TIMINGS_RUN || options.run || 'jest';
    this.file = dir ? join(dir, `jest-${this.run}.jsonl`) : undefined;
    if (dir) mkdirSync(dir, { recursive: true });
    this.started = Date.now();
  }

  onRunStart() {
    this.started = Date.now();
  }

  onTestResult(_test, result) {
    if (!this.file) return;
    const line = {
      suite: relative(this.rootDir, result.testFilePath),
      ms: result.perfStats.end - result.perfStats.start,
      start: result.perfStats.start,
      passed: result.numPassingTests,
      failed: result.numFailingTests,
      skipped: result.numPendingTests + result.numTodoTests,
      error: result.testExecError ? String(result.testExecError.message).slice(0, 300) : undefined,
      tests: result.testResults.map((t) => ({ name: t.fullName, ms: t.duration ?? 0, status: t.status })),
    };
    appendFileSync(this.file, JSON.stringify(line) + '\n');
  }

  onRunComplete(_contexts, results) {
    if (!this.file) return;
    const line = {
      run: this.run,
      wallMs: Date.now() - this.started,
      suites: results.numTotalTestSuites,
      failedSuites: results.numFailedTestSuites,
      tests: results.numTotalTests,
      failedTests: results.numFailedTests,
    };
    appendFileSync(this.file, JSON.stringify(line) + '\n');
  }
}
