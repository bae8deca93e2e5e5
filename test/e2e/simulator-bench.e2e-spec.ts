/**
 * `npm run bench -- --quick` end to end (built dist/): the real server as a child process on its embedded broker and
 * PostgreSQL, one short step, every row counted. Plus the failure paths: no server build, a server that dies at start.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';

const ROOT = resolve(__dirname, '..', '..');
const BENCH = join(ROOT, 'dist', 'bench', 'main.js');
const SERVER = join(ROOT, 'dist', 'src', 'main.js');
const built = existsSync(BENCH) && existsSync(SERVER);
if (!built)
  console.warn(
    `simulator-bench e2e skipped: ${BENCH} or ${SERVER} missing — run \`npm run build\` (npm test does it first)`,
  );

type Run = { code: number | null; stdout: string; stderr: string };

function runBench(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done) => {
    const childEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && !['MQTT_URL', 'DATABASE_URL'].includes(k)) childEnv[k] = v;
    const child = spawn(process.execPath, [BENCH, ...args], { cwd: ROOT, env: { ...childEnv, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

(built ? describe : describe.skip)('npm run bench (quick)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bench-e2e-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('should store every published reading and report the step when run in quick mode on the embedded services', async () => {
    const out = join(dir, 'quick.json');
    const run = await runBench([
      '--quick',
      '--devices',
      '20',
      '--seconds',
      '3',
      '--rates',
      '300',
      '--out',
      out,
    ]);
    expect(run.stderr).not.toMatch(/bench: /);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/decodeTelemetry: [\d.]+ µs\/message/);
    expect(run.stdout).toMatch(/target msg\/s/);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.steps).toHaveLength(1);
    const [step] = report.steps;
    expect(step.sent).toBeGreaterThan(800);
    expect(step.storedRows).toBe(2 * step.sent);
    expect(step.lostRows).toBe(0);
    expect(step.countMethod).toBe('sql');
    expect(step.serverRssMaxMb).toBeGreaterThan(10);
    expect(step.latencyP50Ms).toBeGreaterThan(0);
    expect(report.decodeUsPerMessage).toBeGreaterThan(0);
    expect(report.database.kind).toBe('embedded PostgreSQL');
  });

  it('should fail with the tail of the server output when the server dies at start', async () => {
    const fake = join(dir, 'dying-server.js');
    writeFileSync(
      fake,
      "process.stderr.write('hazwatch: start-up stopped.\\nInvalid configuration in plant.yaml: boom\\n'); process.exit(78);\n",
    );
    const run = await runBench(['--quick', '--server', fake, '--out', join(dir, 'never.json')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('the server exited (78) before it was ready');
    expect(run.stderr).toContain('Invalid configuration in plant.yaml: boom');
    expect(existsSync(join(dir, 'never.json'))).toBe(false);
  });

  it('should say to build first when the server entry does not exist', async () => {
    const run = await runBench(['--quick', '--server', join(dir, 'missing.js')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/server entry .*missing\.js not found: run `npm run build` first/);
  });

  it('should exit 2 with the usage problem when an option is wrong', async () => {
    const run = await runBench(['--rates', 'fast']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--rates must be an integer from 1 to 10000000, got 'fast'");
  });
});

const TEST_DB = process.env.TEST_DATABASE_URL;
if (built && !TEST_DB)
  console.warn('simulator-bench e2e against PostgreSQL skipped: TEST_DATABASE_URL is unset');

(built && TEST_DB ? describe : describe.skip)('npm run bench (quick) against an external PostgreSQL', () => {
  let dir: string;
  let db: Client;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bench-e2e-db-'));
    db = new Client({ connectionString: TEST_DB });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    rmSync(dir, { recursive: true, force: true });
  });

  const leftover = async (runId: string): Promise<number> =>
    Number(
      (
        await db.query<{ n: string }>(`SELECT count(*) AS n FROM telemetry WHERE site_id LIKE $1`, [
          `bench-${runId}-%`,
        ])
      ).rows[0]!.n,
    );

  it('should count every row with SQL and leave none of its rows behind when done', async () => {
    const out = join(dir, 'db.json');
    const run = await runBench([
      '--quick',
      '--no-alarm-latency',
      '--devices',
      '20',
      '--seconds',
      '3',
      '--rates',
      '300',
      '--database-url',
      TEST_DB!,
      '--out',
      out,
    ]);
    expect(run.code).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.database.kind).toBe('external PostgreSQL');
    expect(report.steps[0].storedRows).toBe(2 * report.steps[0].sent);
    expect(report.steps[0].lostRows).toBe(0);
    expect(run.stdout).toContain(
      `deleted the run's ${(2 * report.steps[0].sent).toLocaleString('en-US')} bench rows`,
    );
    expect(await leftover(report.runId)).toBe(0);
  });

  it('should keep its rows when given --keep-rows', async () => {
    const out = join(dir, 'keep.json');
    const run = await runBench([
      '--quick',
      '--no-alarm-latency',
      '--devices',
      '20',
      '--seconds',
      '2',
      '--rates',
      '200',
      '--database-url',
      TEST_DB!,
      '--keep-rows',
      '--out',
      out,
    ]);
    expect(run.code).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    try {
      expect(await leftover(report.runId)).toBe(2 * report.steps[0].sent);
    } finally {
      await db.query(`DELETE FROM telemetry WHERE site_id LIKE $1`, [`bench-${report.runId}-%`]);
    }
  });
});
