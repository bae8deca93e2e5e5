import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Client } from 'pg';
import { runner } from 'node-pg-migrate';
import { JsonLogger } from '../common/logger';

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
};

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
  const log = opts.log ?? new JsonLogger('storage.migrate');
  const client = new Client({ connectionString: opts.databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', (err) => log.warn('migration connection error', { err }));
  await client.connect();
  try {
    await client.query(`SET lock_timeout = '120s'`);
    await client.query(`SELECT pg_advisory_lock(${MIGRATE_LOCK_ID})`);
    try {
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
      return applied.map((m) => m.name);
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${MIGRATE_LOCK_ID})`);
    }
  } finally {
    await client.end();
  }
}
