import 'reflect-metadata';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../../common/errors';
import { JsonLogger } from '../../common/logger';
import { loadPlant } from '../../config/config.loader';
import { MQTT_ROLES, type MqttRole } from './domain/mqtt-acl';
import { generatePassword } from './password-hash';
import { mqttAuthPaths, MqttUserError, MqttUserStore } from './mqtt-user.store';

/**
 * `npm run mqtt-user -- add <username> --site <siteId> [--site …] [--role site|server] [--password-stdin] [--replace]`,
 * `list [--json]`, `remove <username>`. Works on DATA_DIR/mqtt/users.json (no database needed); the embedded broker
 * picks changes up without a restart. See README "Security" and docs/adr/0009-mqtt-authentication.md.
 */

export const MQTT_USER_USAGE = `Usage:
  npm run mqtt-user -- add <username> --site <siteId> [--site <siteId> ...] [--password-stdin] [--replace]
  npm run mqtt-user -- add <username> --role server [--password-stdin] [--replace]
  npm run mqtt-user -- list [--json]
  npm run mqtt-user -- remove <username>

  A site user (a site's devices or its gateway) may publish only under hazwatch/v1/<siteId>/# of its sites.
  A server user may subscribe to every site and publish hazwatch/server/#: give it only to hazwatch itself.
  add prints a generated password once (or reads it from stdin with --password-stdin); only salted hashes are stored.
  Store: $DATA_DIR/mqtt/users.json (DATA_DIR default ./data). Sites are checked against $CONFIG_DIR (default ./config).
  For Mosquitto: npm run mqtt-acl (password and ACL files from the same store).
`;

const EX_USAGE = 64;
const EX_DATAERR = 65;
const EX_CONFIG = 78;

export type CliIo = { out: (s: string) => void; err: (s: string) => void; readStdin: () => Promise<string> };

export async function runMqttUserCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: CliIo,
): Promise<number> {
  let values: {
    site?: string[];
    role?: string;
    'password-stdin'?: boolean;
    replace?: boolean;
    json?: boolean;
    help?: boolean;
  };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        site: { type: 'string', multiple: true },
        role: { type: 'string' },
        'password-stdin': { type: 'boolean' },
        replace: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.err(`hazwatch mqtt-user: ${(err as Error).message}\n\n${MQTT_USER_USAGE}`);
    return EX_USAGE;
  }
  const [command, username] = positionals;
  if (values.help) {
    io.out(MQTT_USER_USAGE);
    return 0;
  }
  const usage = (msg: string): number => {
    io.err(`hazwatch mqtt-user: ${msg}\n\n${MQTT_USER_USAGE}`);
    return EX_USAGE;
  };
  const store = new MqttUserStore(mqttAuthPaths(resolve(env.DATA_DIR || './data')).users);
  try {
    switch (command) {
      case 'list': {
        const users = store.list().map((u) => ({
          username: u.username,
          role: u.role,
          sites: u.sites,
          createdAt: u.createdAt,
          ...(u.demo ? { demo: true } : {}),
        }));
        if (values.json) io.out(JSON.stringify(users, null, 2) + '\n');
        else if (users.length === 0) io.out(`no MQTT users in ${store.path}\n`);
        else
          for (const u of users)
            io.out(
              `${u.username}\t${u.role}\t${u.role === 'server' ? '(every site)' : u.sites.join(',')}\t${u.createdAt}${u.demo ? '\tdemo' : ''}\n`,
            );
        return 0;
      }
      case 'remove': {
        if (!username) return usage('remove needs a username');
        if (!store.remove(username)) {
          io.err(`hazwatch mqtt-user: no user '${username}' in ${store.path}\n`);
          return EX_DATAERR;
        }
        io.out(
          `removed '${username}'. Its open connections on the embedded broker are refused their next publish; for Mosquitto re-run npm run mqtt-acl and reload the broker (SIGHUP).\n`,
        );
        return 0;
      }
      case 'add': {
        if (!username) return usage('add needs a username');
        const role = (values.role ?? 'site') as MqttRole;
        if (!MQTT_ROLES.includes(role)) return usage(`--role must be one of ${MQTT_ROLES.join(', ')}`);
        const sites = values.site ?? [];
        if (role === 'site' && sites.length > 0) {
          const known = knownSites(env);
          const unknown = known ? sites.filter((s) => !known.has(s)) : [];
          if (unknown.length > 0)
            return usage(
              `unknown site(s) ${unknown.join(', ')}; sites in ${resolve(env.CONFIG_DIR || './config')}: ${[...(known ?? [])].join(', ')}`,
            );
        }
        const fromStdin = values['password-stdin'] === true;
        const password = fromStdin ? (await io.readStdin()).replace(/\r?\n$/, '') : generatePassword();
        await store.add({ username, role, sites, password }, { replace: values.replace === true });
        io.out(
          `added ${role} user '${username}'${role === 'site' ? ` for site(s) ${sites.join(', ')}` : ''} to ${store.path}\n`,
        );
        if (!fromStdin) io.out(`password (shown once, store it in the device or gateway now): ${password}\n`);
        return 0;
      }
      case undefined:
        return usage('no command');
      default:
        return usage(`unknown command '${command}'`);
    }
  } catch (err) {
    if (err instanceof MqttUserError) return usage(err.message);
    if (err instanceof ConfigError) {
      io.err(`hazwatch mqtt-user: ${err.message}\n`);
      return EX_CONFIG;
    }
    throw err;
  }
}

function knownSites(env: NodeJS.ProcessEnv): Set<string> | undefined {
  try {
    return new Set(loadPlant(resolve(env.CONFIG_DIR || './config')).sites.map((s) => s.id));
  } catch {
    return undefined; // no readable plant model: nothing to check against
  }
}

function readStdin(): Promise<string> {
  return new Promise((res, rej) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (c: string) => (text += c));
    process.stdin.on('end', () => res(text));
    process.stdin.on('error', rej);
  });
}

if (require.main === module) {
  JsonLogger.setLevel('warn');
  const io: CliIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), readStdin };
  runMqttUserCli(process.argv.slice(2), process.env, io).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      io.err(`hazwatch mqtt-user: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
