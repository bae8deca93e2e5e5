import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Client } from 'pg';
import { runner } from 'node-pg-migrate';
import { JsonLogger } from '../common/logger';
import {
  TIMESCALE_SETTING,
  decideTimescale,
  readTimescaleFacts,
  type SqlClient,
  type TimescaleDecision,
  type TimescaleMode,
} from './timescale-detect';

/** node-pg-migrate's own advisory lock id; we take it *blocking* so concurrent starters wait instead of failing. */
const MIGRATE_LOCK_ID = '7241865325823964';

export type MigrationDirection = 'up' | 'down';

export type MigrateOptions = {
  databaseUrl: string;
  direction: MigrationDirection;
  /** Number of migrations; default all for up, 1 for down. `Infinity` = all. */
  count?: number;
  dir?: string;
  log?: JsonLogger;
  /** TIMESCALE (default auto): see decideTimescale / docs/adr/0017-timescale-path.md. */
  timescale?: TimescaleMode;
};

export type MigrateResult = { applied: string[]; timescale: TimescaleDecision };

/**
 * Reads the catalogue, decides the telemetry path, logs it (one warning when TimescaleDB is installed but unusable)
 * and sets `hazwatch.timescale` on this session for the migrations. Throws TimescaleRequiredError /
 * TimescaleStateError where start-up must stop.
 */
export async function prepareTimescale(
  client: SqlClient,
  mode: TimescaleMode,
  log: JsonLogger,
): Promise<TimescaleDecision> {
  const facts = await readTimescaleFacts(client);
  const decision = decideTimescale(mode, facts);
  if (decision.warning) log.warn(decision.warning, { timescale: mode });
  else
    log.debug('telemetry back end decided', { timescale: mode, use: decision.use, reason: decision.reason });
  await client.query(`SELECT set_config($1, $2, false)`, [TIMESCALE_SETTING, decision.use ? 'on' : 'off']);
  return decision;
}

/** Finds `migrations/` next to package.json, from src/storage (ts) or dist/src/storage (js). */
export function migrationsDir(from: string = __dirname): string {
  let dir = from;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'migrations');
    if (existsSync(candidate) && existsSync(join(dir, 'package.json'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`migrations/ directory not found above ${from}`);
}

/**
 * Applies plain-SQL migrations (`-- Up Migration` / `-- Down Migration`) with node-pg-migrate, in one
 * transaction, holding node-pg-migrate's advisory lock (blocking, so parallel starters queue up).
 * Returns the names applied.
 */
export async function runMigrations(opts: MigrateOptions): Promise<string[]> {
  return (await migrate(opts)).applied;
}

/** runMigrations, also returning the TimescaleDB decision taken under the migration lock. */
export async function migrate(opts: MigrateOptions): Promise<MigrateResult> {
  const log = opts.log ?? new JsonLogger('storage.migrate');
  const client = new Client({ connectionString: opts.databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', (err) => log.warn('migration connection error', { err }));
  await client.connect();
  try {
    await client.query(`SET lock_timeout = '120s'`);
    await client.query(`SELECT pg_advisory_lock(${MIGRATE_LOCK_ID})`);
    try {
      // under the lock: a concurrent starter sees the telemetry table the first one created
      const timescale = await prepareTimescale(client, opts.timescale ?? 'auto', log);
      const applied = await runner({
        dbClient: client,
        dir: opts.dir ?? migrationsDir(),
        migrationsTable: 'pgmigrations',
        direction: opts.direction,
        count: opts.count ?? (opts.direction === 'up' ? Number.POSITIVE_INFINITY : 1),
        noLock: true,
        singleTransaction: true,
        checkOrder: false,
        // Only .sql files are migrations.
        ignorePattern: '(\\..*)|(.*(?<!\\.sql))',
        logger: {
          debug: (m: string) => log.debug(m),
          info: (m: string) => log.debug(m),
          warn: (m: string) => log.warn(m),
          error: (m: string) => log.error(m),
        },
      });
      return { applied: applied.map((m) => m.name), timescale };
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${MIGRATE_LOCK_ID})`);
    }
  } finally {
    await client.end();
  }
}
