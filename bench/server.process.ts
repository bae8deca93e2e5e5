/**
 * The server under test as a child process (`node dist/src/main.js`): started with a bench CONFIG_DIR and a fresh
 * DATA_DIR, waited for (GET /health/ready), always killed. A failed start shows the tail of its output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { loadPlant } from '../src/config/config.loader';
import { generatePassword } from '../src/ingest/mqtt-auth/password-hash';
import { mqttAuthPaths, MqttUserStore } from '../src/ingest/mqtt-auth/mqtt-user.store';

/** Same V8 flags as `npm start`: a larger young generation halves scavenge work at high message rates. */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=64'];

export type ServerOptions = {
  entry: string;
  configDir: string;
  dataDir: string;
  mqttUrl?: string;
  databaseUrl?: string;
  mqttClientId: string;
  startTimeoutMs: number;
  /** Extra environment (e.g. WRITER_BATCH_SIZE) passed through. */
  env?: Record<string, string>;
};

export type ServerHandle = {
  pid: number;
  httpUrl: string;
  mqttUrl: string;
  databaseUrl: string;
  embeddedBroker: boolean;
  embeddedDatabase: boolean;
  /** Embedded broker: credentials of a bench gateway that may publish for every site (anonymous clients are refused). */
  publisherAuth?: { username: string; password: string };
  outputTail(): string;
  stop(): Promise<void>;
};

export class ServerStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerStartError';
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Keeps the last `max` characters written to it. */
class Tail {
  private text = '';
  constructor(private readonly max = 16_384) {}
  push(chunk: Buffer): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-this.max);
  }
  get value(): string {
    return this.text;
  }
}

const live = new Set<ChildProcess>();
/** Last resort: never leave a server (or its embedded PostgreSQL) running after the bench exits. */
process.on('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal); // its own process group (spawned detached): the server and its children
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

export async function startServer(opts: ServerOptions): Promise<ServerHandle> {
  const publisherAuth = opts.mqttUrl
    ? undefined
    : { username: 'bench-gateway', password: generatePassword() };
  if (publisherAuth) {
    const sites = loadPlant(opts.configDir).sites.map((s) => s.id);
    await new MqttUserStore(mqttAuthPaths(opts.dataDir).users).add(
      { ...publisherAuth, role: 'site', sites },
      { replace: true },
    );
  }
  if (!existsSync(opts.entry))
    throw new ServerStartError(
      `server entry ${opts.entry} not found: run \`npm run build\` first (npm run bench does)`,
    );
  const httpPort = await freePort();
  const mqttPort = opts.mqttUrl ? undefined : await freePort();
  const pgPort = opts.databaseUrl ? undefined : await freePort();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  for (const k of ['MQTT_URL', 'MQTT_PORT', 'DATABASE_URL', 'EMBEDDED_PG_PORT']) delete env[k];
  Object.assign(env, {
    PORT: String(httpPort),
    HOST: '127.0.0.1',
    CONFIG_DIR: opts.configDir,
    DATA_DIR: opts.dataDir,
    SIMULATE: 'false',
    HAZWATCH_DEMO: 'false',
    LOG_LEVEL: process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn',
    MQTT_CLIENT_ID: opts.mqttClientId,
    ...(opts.mqttUrl ? { MQTT_URL: opts.mqttUrl } : { MQTT_PORT: String(mqttPort) }),
    ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : { EMBEDDED_PG_PORT: String(pgPort) }),
    ...opts.env,
  });
  const tail = new Tail();
  // BENCH_SERVER_NODE_FLAGS adds node flags for the server only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it.
  const extra = (process.env.BENCH_SERVER_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, ...extra, opts.entry], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  live.add(child);
  // BENCH_SERVER_LOG=<file> keeps the server's whole output (the tail alone is printed on failure).
  const logFile = process.env.BENCH_SERVER_LOG ? createWriteStream(process.env.BENCH_SERVER_LOG) : undefined;
  child.stdout.on('data', (c: Buffer) => (tail.push(c), logFile?.write(c)));
  child.stderr.on('data', (c: Buffer) => (tail.push(c), logFile?.write(c)));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  let exitStatus: number | string | null = null;
  void exited.then((s) => {
    exitStatus = s;
    live.delete(child);
  });

  let stopping: Promise<void> | null = null;
  /** SIGTERM to the process group, SIGKILL after 20 s. Idempotent. */
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (exitStatus !== null) return;
      killGroup(child, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const done = await Promise.race([
        exited.then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 20_000))),
      ]);
      clearTimeout(timer);
      if (!done) {
        killGroup(child, 'SIGKILL');
        await exited;
      }
    })();
    return stopping;
  };

  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + opts.startTimeoutMs;
  let lastStatus = 'no answer';
  for (;;) {
    if (exitStatus !== null)
      throw new ServerStartError(
        `the server exited (${String(exitStatus)}) before it was ready. Its output ends with:\n${tail.value}`,
      );
    try {
      const res = await fetch(`${httpUrl}/health/ready`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) break;
      lastStatus = `HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`;
    } catch (err) {
      lastStatus = (err as Error).message;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new ServerStartError(
        `the server was not ready within ${opts.startTimeoutMs / 1000} s (last /health/ready: ${lastStatus}). Its output ends with:\n${tail.value}`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }

  let databaseUrl = opts.databaseUrl ?? '';
  if (!opts.databaseUrl) {
    const pwFile = join(opts.dataDir, 'pg.password');
    const password = existsSync(pwFile) ? readFileSync(pwFile, 'utf8').trim() : 'password';
    databaseUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/hazwatch`;
  }
  return {
    pid: child.pid!,
    httpUrl,
    mqttUrl: opts.mqttUrl ?? `mqtt://127.0.0.1:${mqttPort}`,
    databaseUrl,
    embeddedBroker: !opts.mqttUrl,
    embeddedDatabase: !opts.databaseUrl,
    ...(publisherAuth ? { publisherAuth } : {}),
    outputTail: () => tail.value,
    stop,
  };
}
