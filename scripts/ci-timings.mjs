#!/usr/bin/env node
/**
 * Prints where the time of a CI run went (docs/testing.md "Where CI time goes"): the steps `.ci/run` recorded, the wall
 * time of each jest run, the slowest suites and the slowest tests, from the files in CI_TIMINGS_DIR (or argv[2]):
 * `steps.tsv` (name, seconds) and the `jest-<run>.jsonl` lines of scripts/jest-timings-reporter.mjs.
 * Usage: node scripts/ci-timings.mjs [dir] [--top N]
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '10' } },
});
const dir = positionals[0] ?? process.env.CI_TIMINGS_DIR;
if (!dir || !existsSync(dir)) {
  console.error('ci-timings: no timings directory (pass one or set CI_TIMINGS_DIR)');
  process.exit(2);
}
const top = Math.max(1, Number(values.top) || 10);
const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
const pad = (text, n) => String(text).padStart(n);

const stepsFile = join(dir, 'steps.tsv');
if (existsSync(stepsFile)) {
  console.log('steps (wall time):');
  for (const line of readFileSync(stepsFile, 'utf8').split('\n').filter(Boolean)) {
    const [name, secs] = line.split('\t');
    console.log(`  ${pad(`${secs} s`, 8)}  ${name}`);
  }
}

const suites = [];
const runs = [];
for (const file of readdirSync(dir).filter((f) => /^jest-.*\.jsonl$/.test(f))) {
  const run = file.replace(/^jest-|\.jsonl$/g, '');
  for (const line of readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean)) {
    const rec = JSON.parse(line);
    if (rec.suite) suites.push({ ...rec, run });
    else runs.push(rec);
  }
}
for (const r of runs)
  console.log(
    `jest ${r.run}: ${s(r.wallMs)} wall, ${r.suites} suites (${r.failedSuites} failed), ${r.tests} tests (${r.failedTests} failed)`,
  );
if (suites.length > 0) {
  const busy = new Map();
  for (const x of suites) busy.set(x.run, (busy.get(x.run) ?? 0) + x.ms);
  for (const [run, ms] of busy)
    console.log(`jest ${run}: suites add up to ${s(ms)} (more than wall time = overlap)`);
  console.log(`${top} slowest suites:`);
  for (const x of [...suites].sort((a, b) => b.ms - a.ms).slice(0, top))
    console.log(`  ${pad(s(x.ms), 9)}  ${x.suite} [${x.run}]${x.failed || x.error ? ' FAILED' : ''}`);
  const tests = suites.flatMap((x) => x.tests.map((t) => ({ ...t, suite: x.suite })));
  console.log(`${top} slowest tests:`);
  for (const t of tests.sort((a, b) => b.ms - a.ms).slice(0, top))
    console.log(`  ${pad(s(t.ms), 9)}  ${t.suite}: ${t.name.slice(0, 110)}`);
}
