#!/usr/bin/env node
/**
 * `npm run test:int`: the real-service suites (jest.int.config.js) in two groups (docs/testing.md "Where CI time goes").
 *
 * 1. Most suites run two at a time (INT_MAX_WORKERS, default 2). They already isolate themselves — fresh site ids or a
 *    scratch database each, private TCP proxies and private Mosquittos on free ports, unique MQTT client ids — and
 *    much of their time is waiting on real clocks (outages, keep-alives, restarts), which another suite can use.
 * 2. Then, one at a time and alone on the machine, the suites listed in SERIAL below: they load the machine on
 *    purpose, need a throughput within a time limit, or measure against a deadline that a neighbour's CPU use would
 *    eat into.
 *
 * Both groups always run, so one failure does not hide another; the exit code is non-zero when either failed.
 * With arguments (`npm run test:int -- test/integration/x.int-spec.ts`, or any jest options) it runs just those, one at
 * a time, as `jest --config jest.int.config.js --runInBand` always did.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { FaultCollector, faultTable } from './fault-table.mjs';

/** Suites that run alone, each with the reason. Paths are matched as regular expressions against the suite path. */
const SERIAL = [
  // caps the server's database path at 200 kB/s and asserts its memory bound and lag during a 20 s QoS 1 burst
  'test/integration/ingest-overload\\.int-spec\\.ts',
  // bulk-inserts ~350k rows into one scratch database and plans queries under the default 5 s query timeout
  'test/integration/storage-partitions\\.int-spec\\.ts',
  // a 2 s MQTT keep-alive: the server must ping in time for 10 s while a QoS 0 stream arrives
  'test/integration/ingest-keepalive\\.int-spec\\.ts',
  // creates a finding due 1.5 s after the test's own clock reading: the POST must arrive within that
  'test/integration/findings\\.int-spec\\.ts',
  // writes as many readings as it can during a 30 s outage, then must commit all of them within 60 s
  'test/integration/storage-outage\\.int-spec\\.ts',
  // a 1000 msg/s QoS 1 stream through repeated kill -9 and restarts of the server, inside the test's time limit
  'test/integration/ingest-ack\\.int-spec\\.ts',
  // three server processes, thousands of messages per second, failover timed
  'test/integration/cluster\\.int-spec\\.ts',
];

const require = createRequire(import.meta.url);
const jestBin = require.resolve('jest/bin/jest');
const base = ['--config', 'jest.int.config.js', '--forceExit'];

// Every FAULT line of the run, printed together at the end (scripts/fault-table.mjs, docs/testing.md).
const faults = new FaultCollector();

/** Runs jest with its output passed through as it comes (and scanned for FAULT lines); resolves to its exit code. */
function jest(args, run = 'int') {
  console.log(`\n> jest ${args.join(' ')}`);
  const env = { ...process.env, CI_TIMINGS_RUN: run };
  if (process.stdout.isTTY && env.FORCE_COLOR === undefined) env.FORCE_COLOR = '1'; // piped, jest would drop colours
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [jestBin, ...base, ...args], {
      stdio: ['inherit', 'pipe', 'pipe'],
      env,
    });
    child.stdout.on('data', (c) => (process.stdout.write(c), faults.push('out', c)));
    child.stderr.on('data', (c) => (process.stderr.write(c), faults.push('err', c)));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** Prints the fault table; with `checkCoverage`, a fault of the promise without a line makes the run fail. */
function finish(code, checkCoverage) {
  faults.end();
  const { text, missing } = faultTable(faults.faults, checkCoverage);
  console.log(text);
  process.exit(code !== 0 ? code : missing.length > 0 ? 1 : 0);
}

const extra = process.argv.slice(2);
if (extra.length > 0) finish(await jest(['--runInBand', ...extra]), false);

const workers = Number(process.env.INT_MAX_WORKERS ?? '2');
if (!Number.isInteger(workers) || workers < 1) {
  console.error(`INT_MAX_WORKERS must be a whole number ≥ 1, got "${process.env.INT_MAX_WORKERS}"`);
  process.exit(2);
}
const parallel = await jest(
  [`--maxWorkers=${workers}`, '--testPathIgnorePatterns', ...SERIAL],
  'int-parallel',
);
const serial = await jest(['--runInBand', '--passWithNoTests', ...SERIAL], 'int-serial');
if (parallel !== 0 || serial !== 0)
  console.error(`test:int: parallel group exited with ${parallel}, serial group with ${serial}`);
finish(parallel !== 0 ? parallel : serial, true);
