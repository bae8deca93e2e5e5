/**
 * npm run migrate [-- up | down [n|all]]   — applies migrations/ to DATABASE_URL (required).
 * The server also migrates at start-up; this is for operators and CI (up, down all, up).
 */
import 'reflect-metadata';
import { ConfigError } from '../common/errors';
import { JsonLogger, maskUrl } from '../common/logger';
import { loadEnv } from '../config/config.loader';
import { runMigrations, type MigrationDirection } from './migration.runner';

export function parseArgs(argv: readonly string[]): { direction: MigrationDirection; count?: number } {
  const [cmd = 'up', n] = argv;
  if (cmd !== 'up' && cmd !== 'down') throw new Error(`unknown command "${cmd}" (use: up | down [n|all])`);
  if (n === undefined) return { direction: cmd };
  if (n === 'all') return { direction: cmd, count: Number.POSITIVE_INFINITY };
  if (!/^\d+$/.test(n) || Number(n) < 1)
    throw new Error(`count must be a positive integer or "all", got "${n}"`);
  return { direction: cmd, count: Number(n) };
}

async function main(): Promise<void> {
  const env = loadEnv(process.env);
  JsonLogger.setLevel(env.LOG_LEVEL);
  const url = env.DATABASE_URL;
  if (!url) {
    process.stderr.write(
      'migrate: DATABASE_URL is required (the server migrates the embedded database itself)\n',
    );
    process.exit(64);
  }
  const args = parseArgs(process.argv.slice(2));
  const applied = await runMigrations({ databaseUrl: url, ...args, timescale: env.TIMESCALE });
  process.stdout.write(
    applied.length === 0
      ? `migrate ${args.direction}: nothing to do (${maskUrl(url)})\n`
      : `migrate ${args.direction} (${maskUrl(url)}):\n${applied.map((n) => `  ${n}`).join('\n')}\n`,
  );
}

if (require.main === module) {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`migrate: ${err.message}\n`);
    else process.stderr.write(`migrate failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
