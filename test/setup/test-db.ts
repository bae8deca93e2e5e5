import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { runMigrations } from '../../src/storage/migration.runner';

/**
 * Real-database helpers for integration suites. Suites use TEST_DATABASE_URL, refuse a database whose name
 * lacks "test", run the real migrations, and isolate themselves with fresh site ids (never truncate).
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

/** `describe` when TEST_DATABASE_URL is set, else `describe.skip` with a printed reason. */
export function describeWithDb(suiteFile: string): jest.Describe {
  if (TEST_DATABASE_URL) return describe;
  console.warn(
    `${suiteFile}: skipped — set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it`,
  );
  return describe.skip;
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

/** Throws unless the database name contains "test" (we never touch a real database from tests). */
export function assertTestDatabase(url: string): void {
  const name = databaseName(url);
  if (!name.includes('test'))
    throw new Error(`refusing to run against database "${name}": its name must contain "test"`);
}

/** Guard + real migrations (up). */
export async function prepareTestDatabase(url: string): Promise<void> {
  assertTestDatabase(url);
  await runMigrations({ databaseUrl: url, direction: 'up' });
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** Same server, another database name. */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * A throwaway database (name contains "test") on the TEST_DATABASE_URL server, for suites that must run
 * destructive steps such as migrations down. `drop()` removes it.
 */
export async function createScratchDatabase(
  baseUrl: string,
  prefix = 'scratch',
): Promise<{ url: string; drop(): Promise<void> }> {
  assertTestDatabase(baseUrl);
  const name = `${prefix}_test_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(baseUrl, name),
    drop: async () => {
      const c = new Client({ connectionString: baseUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
