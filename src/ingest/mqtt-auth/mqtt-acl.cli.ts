import 'reflect-metadata';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../../common/errors';
import { JsonLogger } from '../../common/logger';
import { loadPlant } from '../../config/config.loader';
import { loadSparkplugConfig, sparkplugNodeSites, SPARKPLUG_FILE } from '../../config/sparkplug-config';
import { renderMosquittoAcl } from './domain/mqtt-acl';
import { ensureDemoSiteCredentials, ensureServerCredentials } from './mqtt-provisioning';
import { mqttAuthPaths, MqttUserStore, type MqttUser } from './mqtt-user.store';

/**
 * `npm run mqtt-acl -- [--out <dir>] [--provision-demo]`: writes a Mosquitto password file (`passwd`, PBKDF2-SHA512
 * `$7$` hashes) and ACL file (`acl`) from the MQTT user store, for `password_file` and `acl_file` in mosquitto.conf.
 */

export const MQTT_ACL_USAGE = `Usage:
  npm run mqtt-acl -- [--out <dir>] [--provision-demo]

  Writes <dir>/passwd (Mosquitto password file, $7$ PBKDF2-SHA512 hashes) and <dir>/acl (Mosquitto ACL) from
  $DATA_DIR/mqtt/users.json. Default <dir>: $DATA_DIR/mqtt/mosquitto. Point mosquitto.conf at them:
      allow_anonymous false
      password_file <dir>/passwd
      acl_file <dir>/acl
  and reload Mosquitto (SIGHUP) after every change of the users.
  --provision-demo  first create the server's credentials and one demo user per site (as demo mode does), e.g. for
                    docker compose
`;

export type AclCliIo = { out: (s: string) => void; err: (s: string) => void };

export const renderMosquittoPasswd = (users: readonly MqttUser[]): string =>
  [...users]
    .sort((a, b) => a.username.localeCompare(b.username))
    .map((u) => `${u.username}:${u.mosquitto}\n`)
    .join('');

export async function runMqttAclCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: AclCliIo,
): Promise<number> {
  let values: { out?: string; 'provision-demo'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        out: { type: 'string' },
        'provision-demo': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.err(`hazwatch mqtt-acl: ${(err as Error).message}\n\n${MQTT_ACL_USAGE}`);
    return 64;
  }
  if (values.help) {
    io.out(MQTT_ACL_USAGE);
    return 0;
  }
  const paths = mqttAuthPaths(resolve(env.DATA_DIR || './data'));
  const store = new MqttUserStore(paths.users);
  try {
    if (values['provision-demo']) {
      const server = await ensureServerCredentials(store, paths, {}, { generate: true });
      const sites = loadPlant(resolve(env.CONFIG_DIR || './config')).sites.map((s) => s.id);
      const demo = await ensureDemoSiteCredentials(store, paths, sites);
      io.out(
        `demo credentials: server user '${server.credentials?.username}' (${paths.serverCredentials}); site users for ${[...demo.bySite.keys()].join(', ')} (${paths.demoSiteCredentials})\n`,
      );
    }
    const users = store.list();
    if (users.length === 0) {
      io.err(`hazwatch mqtt-acl: no MQTT users in ${store.path}; add some with npm run mqtt-user -- add …\n`);
      return 65;
    }
    const out = resolve(values.out ?? join(paths.dir, 'mosquitto'));
    mkdirSync(out, { recursive: true });
    const passwd = join(out, 'passwd');
    const acl = join(out, 'acl');
    writeFileSync(passwd, renderMosquittoPasswd(users), { mode: 0o600 });
    chmodSync(passwd, 0o600);
    const configDir = resolve(env.CONFIG_DIR || './config');
    // Sparkplug edge nodes act under their site's credentials (docs/sparkplug.md); only read when mapped.
    const sparkplug = existsSync(join(configDir, SPARKPLUG_FILE))
      ? loadSparkplugConfig(configDir, loadPlant(configDir))
      : undefined;
    writeFileSync(acl, renderMosquittoAcl(users, sparkplugNodeSites(sparkplug)), { mode: 0o644 });
    io.out(
      `wrote ${passwd} (${users.length} users) and ${acl}\nmosquitto.conf:\n  allow_anonymous false\n  password_file ${passwd}\n  acl_file ${acl}\n`,
    );
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`hazwatch mqtt-acl: ${err.message}\n`);
      return 78;
    }
    throw err;
  }
}

if (require.main === module) {
  JsonLogger.setLevel('warn');
  const io: AclCliIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };
  runMqttAclCli(process.argv.slice(2), process.env, io).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      io.err(`hazwatch mqtt-acl: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
