import { spawn } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import * as ts from 'typescript';
import { freePort } from '../../src/storage/embedded-postgres.launcher';
import { pollUntil } from '../setup/poll-until';

/**
 * The embedded PostgreSQL `npm start` uses (no external service needed): data under DATA_DIR/pg survives
 * restarts; a crash's leftovers (stale postmaster.pid, an orphaned postgres) do not block the next start.
 *
 * embedded-postgres is an ES module that jest's CommonJS sandbox cannot import, so the storage code runs in a
 * child Node process: src/ is transpiled (no type check) into test/artifacts/ and driven by a small script.
 */
const ROOT = join(__dirname, '..', '..');

function transpileSources(outDir: string): void {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
      d.isDirectory()
        ? walk(join(dir, d.name))
        : d.name.endsWith('.ts') && !d.name.endsWith('.spec.ts')
          ? [join(dir, d.name)]
          : [],
    );
  for (const file of walk(join(ROOT, 'src'))) {
    const out = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
      },
      fileName: file,
    });
    const dest = join(outDir, relative(ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, out.outputText);
  }
}

/** Runs inside the child: start embedded PG, then one action, printing one JSON line per step. */
const DRIVER = `
const { join } = require('node:path');
const { JsonLogger } = require('./src/common/logger');
const { startEmbeddedPostgres } = require('./src/storage/embedded-postgres.launcher');
const { Database } = require('./src/storage/database.service');
const { TelemetryWriter } = require('./src/storage/telemetry-writer.service');
const { PgTelemetrySink } = require('./src/storage/telemetry.sink');
const { TelemetrySpool } = require('./src/storage/telemetry.spool');
const { HazwatchMetrics } = require('./src/metrics/metrics.registry');
const [action, dataDir, port, rows] = process.argv.slice(2);
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
JsonLogger.setLevel('warn');
(async () => {
  const pg = await startEmbeddedPostgres({ dataDir, port: Number(port) });
  say({ step: 'started', url: pg.url.replace(/:[^:@/]+@/, ':***@') });
  if (action === 'hang') return setInterval(() => {}, 1000);
  const db = await Database.open({ url: pg.url, metrics: new HazwatchMetrics(false) });
  if (action === 'write') {
    const w = new TelemetryWriter({
      sink: new PgTelemetrySink(db), spool: new TelemetrySpool(join(dataDir, 'spool', 'telemetry'), 1e7),
      clock: { now: () => Date.now() }, metrics: new HazwatchMetrics(false), batchSize: 100, flushMs: 20, queueMax: 10000,
    });
    w.start();
    const t0 = Date.UTC(2026, 10, 24, 10);
    w.enqueue(Array.from({ length: Number(rows) }, (_, i) => ({ siteId: 's', deviceId: 'd', channel: 'conc', ts: t0 + i, value: i, quality: 'good', receivedAt: t0 })));
    await w.close();
  }
  const r = await db.query('SELECT count(*)::int AS n, sum(value)::float8 AS s FROM telemetry');
  say({ step: 'count', n: r.rows[0].n, sum: r.rows[0].s });
  await db.close();
  await pg.stop();
  say({ step: 'stopped' });
})().catch((err) => { say({ step: 'error', error: String(err && err.stack || err) }); process.exit(1); });
`;

type Step = { step: string; n?: number; sum?: number; error?: string; url?: string };

describe('embedded PostgreSQL (DATA_DIR/pg), in a child process', () => {
  let buildDir: string;
  let dataDir: string;
  let port: number;

  beforeAll(async () => {
    mkdirSync(join(ROOT, 'test', 'artifacts'), { recursive: true });
    buildDir = mkdtempSync(join(ROOT, 'test', 'artifacts', 'storage-embedded-'));
    transpileSources(buildDir);
    writeFileSync(join(buildDir, 'driver.js'), DRIVER);
    dataDir = mkdtempSync(join(tmpdir(), 'hazwatch-embedded-it-'));
    chmodSync(dataDir, 0o755); // as root, postgres runs as the "postgres" user and must reach DATA_DIR/pg
    port = await freePort();
  });

  afterAll(() => {
    rmSync(buildDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  function drive(
    action: 'write' | 'count' | 'hang',
    rows = 0,
  ): { steps: Step[]; done: Promise<number | null>; kill(): void } {
    const child = spawn(
      process.execPath,
      [join(buildDir, 'driver.js'), action, dataDir, String(port), String(rows)],
      {
        cwd: buildDir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const steps: Step[] = [];
    let buf = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith('{"step"')) steps.push(JSON.parse(line) as Step);
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => {
        if (code !== 0 && code !== null)
          console.warn(`driver ${action} exited ${code}: ${stderr.slice(-2000)}`);
        resolve(code);
      }),
    );
    return { steps, done, kill: () => child.kill('SIGKILL') };
  }

  it('should initialise, migrate, store telemetry and keep it across a restart', async () => {
    const first = drive('write', 250);
    expect(await first.done).toBe(0);
    expect(first.steps.map((s) => s.step)).toEqual(['started', 'count', 'stopped']);
    expect(first.steps[1]).toMatchObject({ n: 250, sum: (249 * 250) / 2 });
    expect(first.steps[0]!.url).toContain(`127.0.0.1:${port}/hazwatch`);
    expect(statSync(join(dataDir, 'pg', 'PG_VERSION')).isFile()).toBe(true);
    expect(statSync(join(dataDir, 'pg.password')).mode & 0o777).toBe(0o600);

    const second = drive('count');
    expect(await second.done).toBe(0);
    expect(second.steps[1]).toMatchObject({ n: 250 });
  });

  it('should stop an orphaned postgres left by a killed server and start over the same data', async () => {
    const crashed = drive('hang');
    await pollUntil(() => crashed.steps.some((s) => s.step === 'started'), {
      what: 'child started postgres',
      timeoutMs: 60_000,
    });
    crashed.kill(); // the server dies; its postgres child survives
    await crashed.done;
    const orphan = Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(() => process.kill(orphan, 0)).not.toThrow();

    const next = drive('count');
    expect(await next.done).toBe(0);
    expect(next.steps[1]).toMatchObject({ n: 250 });
    expect(() => process.kill(orphan, 0)).toThrow();
  });

  it('should remove a stale postmaster.pid whose process is dead and start', async () => {
    const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    // A pid above pid_max cannot exist: it stands for a postmaster that crashed.
    writeFileSync(
      join(dataDir, 'pg', 'postmaster.pid'),
      `${pidMax + 1}\n${join(dataDir, 'pg')}\n0\n${port}\n`,
    );
    const next = drive('count');
    expect(await next.done).toBe(0);
    expect(next.steps[1]).toMatchObject({ n: 250 });
  });
});
