/**
 * The real server (`node dist/src/main.js`) against a PostgreSQL where TimescaleDB is installed but cannot be used
 * (docs/adr/0017-timescale-path.md): the package installed but not in shared_preload_libraries, and a role without
 * CREATE on the database. `TIMESCALE=auto` starts on the plain path with exactly one warning saying what to change;
 * `TIMESCALE=require` stops start-up at once with that reason (no retry loop, as for a connection loss).
 *
 * Runs where such servers exist (skips each case with the reason otherwise):
 * - not preloaded: TEST_TIMESCALE_NOPRELOAD_URL, else TEST_DATABASE_URL when its server has the package installed
 *   without preloading it;
 * - no CREATE: TEST_TIMESCALE_URL (else TEST_DATABASE_URL) when TimescaleDB is installed and preloaded there.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { provisionTestMqttUsers, REPO_CONFIG_DIR } from '../setup/mqtt-auth';
import { freePort, SERVER_ENTRY, startServer } from '../setup/server-process';
import { createScratchDatabase } from '../setup/test-db';
import { timescaleNoPreloadServer, timescaleSkipReason } from '../setup/timescale';

const noPreload = timescaleNoPreloadServer();
if (!noPreload.url)
  console.warn(`storage-timescale-startup.int-spec: not-preloaded case skipped — ${noPreload.reason}`);
const preloadedUrl = process.env.TEST_TIMESCALE_URL ?? process.env.TEST_DATABASE_URL;
const preloadedReason = timescaleSkipReason(preloadedUrl);
if (preloadedReason)
  console.warn(`storage-timescale-startup.int-spec: role-without-CREATE case skipped — ${preloadedReason}`);

/** Two server starts (one to readiness, up to 90 s on a loaded machine) and a migration run per case. */
const STARTS_TIMEOUT_MS = 360_000;

const baseEnv = (databaseUrl: string, dataDir: string): Record<string, string> => ({
  DATABASE_URL: databaseUrl,
  DATA_DIR: dataDir,
  SIMULATE: 'false',
  HAZWATCH_DEMO: 'false',
  LOG_LEVEL: 'info',
});

/** Starts the server expecting it to stop on its own; resolves with its exit code and output (killed after 60 s). */
async function runUntilExit(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  await provisionTestMqttUsers(env.DATA_DIR!, REPO_CONFIG_DIR);
  const child = spawn(process.execPath, [SERVER_ENTRY], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      MQTT_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(killer);
  return { code, out };
}

/** Log lines (JSON) at level warn whose message matches. */
const warnings = (out: string, re: RegExp): string[] =>
  out.split('\n').filter((l) => l.includes('"level":"warn"') && re.test(l));

/** The `database ready` line, parsed. */
function readyLine(out: string): { timescale: boolean; timescaleReason?: string } {
  const line = out.split('\n').find((l) => l.includes('"msg":"database ready"'));
  if (!line) throw new Error(`no "database ready" line in the server output:\n${out.slice(-3000)}`);
  return JSON.parse(line) as { timescale: boolean; timescaleReason?: string };
}

async function expectFallback(databaseUrl: string, because: RegExp): Promise<void> {
  const required = mkdtempSync(join(tmpdir(), 'hzw-ts-req-'));
  const auto = mkdtempSync(join(tmpdir(), 'hzw-ts-auto-'));
  chmodSync(auto, 0o755);
  try {
    const stopped = await runUntilExit({ ...baseEnv(databaseUrl, required), TIMESCALE: 'require' });
    expect(stopped.code).toBe(1);
    expect(stopped.out).toMatch(/database start-up failed \([^)]*\): TIMESCALE=require: /);
    expect(stopped.out).toMatch(because);
    expect(stopped.out).not.toMatch(/database not available at start-up; retrying/);

    const server = await startServer({ env: baseEnv(databaseUrl, auto), dataDir: auto });
    try {
      const out = server.output();
      const warned = warnings(out, /TimescaleDB is installed but not used/);
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatch(because);
      expect(warned[0]).toContain('TIMESCALE=require');
      expect(readyLine(out)).toMatchObject({
        timescale: false,
        timescaleReason: 'TimescaleDB is installed but cannot be used: plain PostgreSQL path',
      });
    } finally {
      expect(await server.stop()).toBe(0);
    }
    const c = new Client({ connectionString: databaseUrl });
    await c.connect();
    try {
      const kind = await c.query(`SELECT relkind::text AS k FROM pg_class WHERE relname = 'telemetry'`);
      expect(kind.rows).toEqual([{ k: 'p' }]); // the plain path's partitioned table
      const ext = await c.query(`SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'`);
      expect(ext.rowCount).toBe(0);
    } finally {
      await c.end();
    }
  } finally {
    rmSync(required, { recursive: true, force: true });
    rmSync(auto, { recursive: true, force: true });
  }
}

describe('server start-up where TimescaleDB is installed but unusable', () => {
  (noPreload.url ? it : it.skip)(
    'should start on the plain path with one warning when the library is not preloaded, and stop under TIMESCALE=require',
    async () => {
      const scratch = await createScratchDatabase(noPreload.url!, 'ts_startup_nopre');
      try {
        await expectFallback(scratch.url, /shared_preload_libraries/);
      } finally {
        await scratch.drop();
      }
    },
    STARTS_TIMEOUT_MS,
  );

  (preloadedReason ? it.skip : it)(
    'should start on the plain path with one warning for a role without CREATE, and stop under TIMESCALE=require',
    async () => {
      const scratch = await createScratchDatabase(preloadedUrl!, 'ts_startup_role');
      const role = `hw_ts_nocreate_${Date.now().toString(36)}`;
      const admin = new Client({ connectionString: scratch.url });
      await admin.connect();
      try {
        await admin.query(`CREATE ROLE ${role} LOGIN`);
        await admin.query(`GRANT CREATE ON SCHEMA public TO ${role}`);
        const u = new URL(scratch.url);
        u.username = role;
        u.password = '';
        await expectFallback(u.toString(), /GRANT CREATE ON DATABASE/);
      } finally {
        await admin.query(`DROP OWNED BY ${role}`).catch(() => undefined);
        await admin.end();
        await scratch.drop();
        const c = new Client({ connectionString: preloadedUrl });
        await c.connect();
        await c.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
        await c.end();
      }
    },
    STARTS_TIMEOUT_MS,
  );
});
