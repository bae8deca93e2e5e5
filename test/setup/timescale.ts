import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** Synchronous probe so a suite can be skipped (describe cannot wait for a query): installed and preloaded. */
function timescaleAvailable(u: string): boolean {
  const script = `
    const { Client } = require('pg');
    const c = new Client({ connectionString: process.argv[1] });
    c.connect().then(() => c.query("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb' AND EXISTS (SELECT 1 FROM pg_settings WHERE name = 'timescaledb.bgw_launcher_poll_time')"))
      .then((r) => { process.stdout.write(r.rowCount > 0 ? 'yes' : 'no'); return c.end(); })
      .catch(() => { process.stdout.write('error'); process.exit(0); });`;
  const r = spawnSync(process.execPath, ['-e', script, u], {
    cwd: join(__dirname, '../..'),
    encoding: 'utf8',
    timeout: 15_000,
  });
  return r.stdout === 'yes';
}

/** Why a TimescaleDB suite cannot run against `url` (TEST_TIMESCALE_URL, else TEST_DATABASE_URL), or undefined. */
export function timescaleSkipReason(url: string | undefined): string | undefined {
  if (!url) return 'set TEST_TIMESCALE_URL or TEST_DATABASE_URL';
  if (!timescaleAvailable(url))
    return 'the timescaledb extension is not installed and preloaded on that server';
  return undefined;
}

/** Installed (pg_available_extensions) but not preloaded: what a server answers after only installing the package. */
function installedNotPreloaded(u: string): boolean {
  const script = `
    const { Client } = require('pg');
    const c = new Client({ connectionString: process.argv[1] });
    c.connect().then(() => c.query("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb' AND NOT EXISTS (SELECT 1 FROM pg_settings WHERE name = 'timescaledb.bgw_launcher_poll_time')"))
      .then((r) => { process.stdout.write(r.rowCount > 0 ? 'yes' : 'no'); return c.end(); })
      .catch(() => { process.stdout.write('error'); process.exit(0); });`;
  const r = spawnSync(process.execPath, ['-e', script, u], {
    cwd: join(__dirname, '../..'),
    encoding: 'utf8',
    timeout: 15_000,
  });
  return r.stdout === 'yes';
}

/**
 * A server where the timescaledb package is installed but not in shared_preload_libraries:
 * TEST_TIMESCALE_NOPRELOAD_URL, else TEST_DATABASE_URL when that server is such a one. `reason` says why there is none.
 */
export function timescaleNoPreloadServer(): { url?: string; reason?: string } {
  const explicit = process.env.TEST_TIMESCALE_NOPRELOAD_URL;
  if (explicit) {
    if (installedNotPreloaded(explicit)) return { url: explicit };
    return {
      reason: 'TEST_TIMESCALE_NOPRELOAD_URL is not a server with timescaledb installed and not preloaded',
    };
  }
  const base = process.env.TEST_DATABASE_URL;
  if (base && installedNotPreloaded(base)) return { url: base };
  return {
    reason:
      'no server with timescaledb installed but not preloaded: set TEST_TIMESCALE_NOPRELOAD_URL (TEST_DATABASE_URL is not one)',
  };
}
