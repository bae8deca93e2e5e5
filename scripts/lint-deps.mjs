#!/usr/bin/env node
// `npm run lint:deps`: the layer rules of .dependency-cruiser.cjs (file level, by dependency-cruiser), then import
// cycles between feature modules (src/<module>/, which dependency-cruiser only checks between files).
// Usage: node scripts/lint-deps.mjs [--config <file>] [paths…]   (default: src test bench simulators)
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { config: { type: 'string', default: '.dependency-cruiser.cjs' } },
});
const configFile = resolve(values.config);
const paths = positionals.length > 0 ? positionals : ['src', 'test', 'bench', 'simulators'];
const require = createRequire(import.meta.url);
const bin = fileURLToPath(
  new URL('../node_modules/dependency-cruiser/bin/dependency-cruise.mjs', import.meta.url),
);

let json;
try {
  json = execFileSync(process.execPath, [bin, ...paths, '--config', configFile, '--output-type', 'json'], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
} catch (err) {
  // depcruise exits non-zero on violations and still prints the JSON
  json = err.stdout;
  if (!json) throw err;
}
const result = JSON.parse(json);
const problems = [];
for (const v of result.summary.violations) {
  if (v.rule.severity !== 'error') continue;
  const cycle = v.cycle ? ` (cycle: ${v.cycle.map((c) => c.name ?? c).join(' → ')})` : '';
  problems.push(`${v.rule.name}: ${v.from} → ${v.to}${cycle}`);
}

// Module level: src/<a>/… → src/<b>/… for a ≠ b, production code only (specs and test helpers excluded).
const known = new Set((require(configFile).knownModuleCycleEdges ?? []).map((e) => `${e.from} -> ${e.to}`));
const moduleOf = (file) => /^src\/([^/]+)\//.exec(file)?.[1];
const isProduction = (file) => !/\.spec\.ts$|\/testing\//.test(file);
const edges = new Map(); // "a -> b" → first file pair seen
for (const m of result.modules) {
  const a = moduleOf(m.source);
  if (!a || !isProduction(m.source)) continue;
  for (const d of m.dependencies) {
    const b = moduleOf(d.resolved);
    if (!b || b === a) continue;
    const pair = `${m.source} -> ${d.resolved}`;
    if (known.has(pair)) continue;
    const key = `${a} -> ${b}`;
    if (!edges.has(key)) edges.set(key, pair);
  }
}
const graph = new Map();
for (const key of edges.keys()) {
  const [a, b] = key.split(' -> ');
  graph.set(a, [...(graph.get(a) ?? []), b]);
}
// Tarjan's strongly connected components: every component with more than one module is a cycle.
let index = 0;
const idx = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const components = [];
const visit = (v) => {
  idx.set(v, index);
  low.set(v, index++);
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!idx.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const comp = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      comp.push(w);
    } while (w !== v);
    if (comp.length > 1) components.push(comp.sort());
  }
};
for (const v of graph.keys()) if (!idx.has(v)) visit(v);
for (const comp of components) {
  const inside = [...edges].filter(
    ([k]) => comp.includes(k.split(' -> ')[0]) && comp.includes(k.split(' -> ')[1]),
  );
  problems.push(
    `no-module-cycle: src/{${comp.join(',')}} import each other:\n` +
      inside.map(([k, pair]) => `    ${k}   e.g. ${pair}`).join('\n'),
  );
}

if (problems.length > 0) {
  process.stderr.write(`dependency rules: ${problems.length} violation(s)\n  ${problems.join('\n  ')}\n`);
  process.exit(1);
}
process.stdout.write(
  `dependency rules: no violations (${result.summary.totalCruised} modules, ${result.summary.totalDependenciesCruised} dependencies)\n`,
);
