import 'reflect-metadata';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'pg';
import { systemClock } from '../common/clock';
import { ConfigError } from '../common/errors';
import { JsonLogger, maskUrl } from '../common/logger';
import { loadEnv, loadPlant } from '../config/config.loader';
import { TOKEN_ID_PATTERN, validateTokenSpec } from './domain/token.format';
import { scopeCovers, sitePath } from './principal';
import { TokenRepository } from './token.repository';
import { TokenService, TokenSpecError, type TokenInfo } from './token.service';

/**
 * `npm run token -- create --role <role> --scope <jurisdiction path> --name <label>` | `list [--json]` | `revoke <id>`.
 * Works on the database named by DATABASE_URL; the new token is printed once and never stored in clear.
 */

const USAGE = `Usage:
  npm run token -- create --role <operator|supervisor|regulator|admin|video> --scope <jurisdiction path> --name <label>
  npm run token -- list [--json]
  npm run token -- revoke <id>

  --scope  jurisdiction path prefix such as tianjin/binhai (or a single enterprise: tianjin/binhai/nangang/bohai-chem);
           omit it (or pass "") for every site. Admin tokens are never scoped; regulator tokens always are.
  Needs DATABASE_URL (the server's database).
`;

const NO_DATABASE_URL = `hazwatch token: DATABASE_URL is not set.

Tokens live in the server's database, so this command needs its URL:
  - A server started with \`npm start\` runs an embedded PostgreSQL. It is reachable while that server runs, and the
    server prints a ready-made command at start-up (log line "token CLI database", field usage; in demo mode also the
    "Tokens:" line of the token block), e.g.
        DATABASE_URL="postgres://postgres:$(cat data/pg.password)@127.0.0.1:54329/hazwatch" npm run token -- list
    (double quotes, so the shell reads the password from its file; the port is the one in that log line).
  - Otherwise set DATABASE_URL to the database the server uses (postgres://user@host:5432/hazwatch).
`;

const EX_USAGE = 64;
const EX_CONFIG = 78;
const EX_UNAVAILABLE = 69;

class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export type CliIo = { out: (s: string) => void; err: (s: string) => void };

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

const iso = (d: Date | null): string => (d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');

export function formatTokenList(tokens: readonly TokenInfo[]): string {
  if (tokens.length === 0) return 'No tokens.\n';
  return table([
    ['ID', 'ROLE', 'SCOPE', 'NAME', 'CREATED', 'LAST USED', 'REVOKED'],
    ...tokens.map((t) => [
      t.id,
      t.role,
      t.scope === '' ? '(all)' : t.scope,
      t.name,
      iso(t.createdAt),
      iso(t.lastUsedAt),
      iso(t.revokedAt),
    ]),
  ]);
}

/** Scopes that cover no site of the local plant model are probably typos: warn (the server's plant may differ). */
function scopeWarning(scope: string, configDir: string): string | undefined {
  if (scope === '') return undefined;
  try {
    const plant = loadPlant(configDir);
    if (plant.sites.some((s) => scopeCovers(scope, sitePath(s)))) return undefined;
    const known = [...new Set(plant.sites.map((s) => s.jurisdiction))].sort().join(', ');
    return `warning: scope '${scope}' covers no site in ${configDir}/plant.yaml (jurisdictions there: ${known}).\n`;
  } catch {
    return undefined; // no readable plant model here: nothing to compare with
  }
}

export async function runTokenCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: CliIo,
): Promise<number> {
  let command: string | undefined;
  let values: { role?: string; scope?: string; name?: string; json?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        role: { type: 'string' },
        scope: { type: 'string' },
        name: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
    command = positionals[0];
  } catch (err) {
    io.err(`hazwatch token: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return EX_USAGE;
  }
  if (values.help || command === 'help' || command === undefined) {
    (command === undefined && !values.help ? io.err : io.out)(USAGE);
    return command === undefined && !values.help ? EX_USAGE : 0;
  }
  if (!['create', 'list', 'revoke'].includes(command)) {
    io.err(`hazwatch token: unknown command '${command}'\n\n${USAGE}`);
    return EX_USAGE;
  }

  // Validate the request before connecting, so a typo never needs a database.
  if (command === 'create') {
    const missing = [
      values.role === undefined ? '--role is required' : '',
      values.name === undefined ? '--name is required' : '',
    ].filter(Boolean);
    const problems =
      missing.length > 0
        ? missing
        : validateTokenSpec({ role: values.role ?? '', scope: values.scope ?? '', name: values.name ?? '' });
    if (problems.length > 0) {
      io.err(
        `hazwatch token: cannot create the token:\n${problems.map((p) => `  - ${p}`).join('\n')}\n\n${USAGE}`,
      );
      return EX_USAGE;
    }
  }
  if (command === 'revoke' && (positionals.length !== 2 || !TOKEN_ID_PATTERN.test(positionals[1] ?? ''))) {
    io.err(
      `hazwatch token: revoke needs exactly one token id, 12 hex characters as shown by \`npm run token -- list\`\n\n${USAGE}`,
    );
    return EX_USAGE;
  }

  let e;
  try {
    e = loadEnv(env);
  } catch (err) {
    io.err(`hazwatch token: ${err instanceof ConfigError ? err.message : String(err)}\n`);
    return EX_CONFIG;
  }
  const url = e.DATABASE_URL;
  if (url === undefined) {
    io.err(NO_DATABASE_URL);
    return EX_CONFIG;
  }

  const pool = new Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 5_000 });
  pool.on('error', () => undefined); // an idle-client error surfaces on the next query instead
  const service = new TokenService(new TokenRepository(pool), systemClock);
  try {
    switch (command) {
      case 'create': {
        const { info, token } = await service.create({
          role: values.role ?? '',
          scope: values.scope ?? '',
          name: values.name ?? '',
        });
        const warning = scopeWarning(info.scope, resolve(e.CONFIG_DIR));
        if (warning) io.err(warning);
        io.out(
          `Created token ${info.id}: role ${info.role}, scope ${info.scope === '' ? '(all sites)' : info.scope}, name "${info.name}".\n` +
            `Copy it now — it is shown only this once and stored only as a hash:\n\n  ${token}\n\n` +
            `Use it as "Authorization: Bearer <token>". Revoke with: npm run token -- revoke ${info.id}\n`,
        );
        return 0;
      }
      case 'list': {
        const tokens = await service.list();
        io.out(values.json ? JSON.stringify(tokens, null, 2) + '\n' : formatTokenList(tokens));
        return 0;
      }
      case 'revoke': {
        const id = positionals[1] ?? '';
        const result = await service.revoke(id);
        switch (result.status) {
          case 'revoked':
            io.out(
              `Revoked token ${id} (${result.token.role}, "${result.token.name}"). A running server refuses it within 30 s.\n`,
            );
            return 0;
          case 'already-revoked':
            io.out(`Token ${id} was already revoked at ${iso(result.token.revokedAt)}.\n`);
            return 0;
          case 'not-found':
            io.err(`hazwatch token: no token with id '${id}' (see \`npm run token -- list\`)\n`);
            return 1;
        }
      }
    }
    return EX_USAGE;
  } catch (err) {
    if (err instanceof TokenSpecError) {
      io.err(`hazwatch token: ${err.message}\n`);
      return EX_USAGE;
    }
    throw new CliError(describeDbError(err, url), EX_UNAVAILABLE);
  } finally {
    await pool.end().catch(() => undefined);
  }
}

function describeDbError(err: unknown, url: string): string {
  const code = (err as { code?: unknown }).code;
  const msg = err instanceof Error ? err.message : String(err);
  if (code === '42P01')
    return `the database at ${maskUrl(url)} has no api_token table. Run the migrations first (npm run migrate, or start the server once against it).`;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT' || /timeout/i.test(msg))
    return `cannot reach the database at ${maskUrl(url)} (${msg}). If it is the embedded database of \`npm start\`, the server must be running.`;
  return `database error at ${maskUrl(url)}: ${msg}`;
}

if (require.main === module) {
  JsonLogger.setLevel('warn'); // the CLI talks to people: no info-level JSON lines between its own output
  const io: CliIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };
  runTokenCli(process.argv.slice(2), process.env, io)
    .then((code) => {
      process.exitCode = code;
    })
    .catch((err: unknown) => {
      io.err(`hazwatch token: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = err instanceof CliError ? err.exitCode : 1;
    });
}
