import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '../../common/errors';
import { ID_RE } from '../domain/telemetry-contract';
import { MQTT_ROLES, MQTT_USERNAME_RE, type MqttPrincipal, type MqttRole } from './domain/mqtt-acl';
import { isMosquittoHash, isScryptHash, mosquittoHash, scryptHash } from './password-hash';

/** One MQTT user as stored: two salted hashes of the password, never the password itself. */
export type MqttUser = MqttPrincipal & {
  /** `scrypt$…`: verified by the embedded broker. */
  readonly scrypt: string;
  /** `$7$…`: written to Mosquitto's password file by `npm run mqtt-acl`. */
  readonly mosquitto: string;
  readonly createdAt: string;
  /** Provisioned by demo mode for the bundled simulators. */
  readonly demo?: boolean;
};

type UserFile = { version: 1; users: MqttUser[] };

/** Files of MQTT security under DATA_DIR/mqtt (see README "Security"). */
export function mqttAuthPaths(dataDir: string): {
  dir: string;
  users: string;
  serverCredentials: string;
  demoSiteCredentials: string;
  clientIdSecret: string;
} {
  const dir = join(dataDir, 'mqtt');
  return {
    dir,
    users: join(dir, 'users.json'),
    serverCredentials: join(dir, 'server.credentials.json'),
    demoSiteCredentials: join(dir, 'demo-sites.credentials.json'),
    clientIdSecret: join(dir, 'client-id.secret'),
  };
}

/** Writes a file readable by its owner only, atomically (a reader never sees half a file). */
export function writePrivateFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export class MqttUserError extends Error {}

export type NewMqttUser = {
  username: string;
  role: MqttRole;
  sites: readonly string[];
  password: string;
  demo?: boolean;
};

/**
 * The MQTT user store: a JSON file (DATA_DIR/mqtt/users.json, mode 0600) so `npm run mqtt-user` and `npm run mqtt-acl`
 * work without a database and the embedded broker re-reads it when it changes.
 */
export class MqttUserStore {
  constructor(readonly path: string) {}

  /** Modification time in ms, or 0 when the file does not exist (used to reload on change). */
  version(): number {
    try {
      return statSync(this.path).mtimeMs;
    } catch {
      return 0;
    }
  }

  /** All users. A missing file is an empty store; a malformed one is a ConfigError naming file, path and reason. */
  list(): MqttUser[] {
    if (!existsSync(this.path)) return [];
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (err) {
      throw new ConfigError(this.path, [
        { path: '(file)', reason: `not valid JSON: ${(err as Error).message}` },
      ]);
    }
    const problems: { path: string; reason: string }[] = [];
    const file = raw as Partial<UserFile> | null;
    if (!file || file.version !== 1 || !Array.isArray(file.users)) {
      throw new ConfigError(this.path, [
        { path: '(file)', reason: 'expected {"version": 1, "users": [...]}' },
      ]);
    }
    const seen = new Set<string>();
    file.users.forEach((u: Partial<MqttUser>, i) => {
      const at = `users[${i}]`;
      if (typeof u.username !== 'string' || !MQTT_USERNAME_RE.test(u.username))
        problems.push({ path: `${at}.username`, reason: `must match ${MQTT_USERNAME_RE}` });
      else if (seen.has(u.username))
        problems.push({ path: `${at}.username`, reason: `duplicate user '${u.username}'` });
      else seen.add(u.username);
      if (!MQTT_ROLES.includes(u.role as MqttRole))
        problems.push({ path: `${at}.role`, reason: `must be one of ${MQTT_ROLES.join(', ')}` });
      if (!Array.isArray(u.sites) || !u.sites.every((s) => typeof s === 'string' && ID_RE.test(s)))
        problems.push({ path: `${at}.sites`, reason: 'must be a list of site ids' });
      else if (u.role === 'site' && u.sites.length === 0)
        problems.push({ path: `${at}.sites`, reason: 'a site user needs at least one site' });
      if (typeof u.scrypt !== 'string' || !isScryptHash(u.scrypt))
        problems.push({ path: `${at}.scrypt`, reason: 'must be a scrypt$… hash' });
      if (typeof u.mosquitto !== 'string' || !isMosquittoHash(u.mosquitto))
        problems.push({ path: `${at}.mosquitto`, reason: 'must be a $7$… hash' });
    });
    if (problems.length > 0) throw new ConfigError(this.path, problems);
    return file.users;
  }

  get(username: string): MqttUser | undefined {
    return this.list().find((u) => u.username === username);
  }

  /** Adds a user (or replaces its password and rights with `replace`). Returns the stored entry. */
  async add(spec: NewMqttUser, opts: { replace?: boolean; now?: Date } = {}): Promise<MqttUser> {
    if (!MQTT_USERNAME_RE.test(spec.username))
      throw new MqttUserError(
        `username must match ${MQTT_USERNAME_RE} (no ':' or blanks), got '${spec.username}'`,
      );
    if (!MQTT_ROLES.includes(spec.role))
      throw new MqttUserError(`role must be one of ${MQTT_ROLES.join(', ')}`);
    const bad = spec.sites.find((s) => !ID_RE.test(s));
    if (bad !== undefined) throw new MqttUserError(`site id must match ${ID_RE}, got '${bad}'`);
    if (spec.role === 'site' && spec.sites.length === 0)
      throw new MqttUserError('a site user needs at least one --site');
    if (spec.role === 'server' && spec.sites.length > 0)
      throw new MqttUserError('a server user reads every site: give no --site');
    if (spec.password.length < 12) throw new MqttUserError('the password must have at least 12 characters');
    const users = this.list();
    if (!opts.replace && users.some((u) => u.username === spec.username))
      throw new MqttUserError(`user '${spec.username}' exists (remove it first, or use --replace)`);
    const user: MqttUser = {
      username: spec.username,
      role: spec.role,
      sites: [...new Set(spec.sites)],
      scrypt: await scryptHash(spec.password),
      mosquitto: await mosquittoHash(spec.password),
      createdAt: (opts.now ?? new Date()).toISOString(),
      ...(spec.demo ? { demo: true } : {}),
    };
    this.save([...this.list().filter((u) => u.username !== spec.username), user]);
    return user;
  }

  /** Removes a user; false when there was none. */
  remove(username: string): boolean {
    const users = this.list();
    const kept = users.filter((u) => u.username !== username);
    if (kept.length === users.length) return false;
    this.save(kept);
    return true;
  }

  private save(users: MqttUser[]): void {
    writePrivateFile(this.path, JSON.stringify({ version: 1, users } satisfies UserFile, null, 2) + '\n');
  }
}
