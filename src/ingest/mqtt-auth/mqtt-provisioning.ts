import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError } from '../../common/errors';
import { generatePassword, verifyScrypt } from './password-hash';
import { mqttAuthPaths, writePrivateFile, type MqttUserStore } from './mqtt-user.store';

/** A client-side credential (what a client sends in CONNECT). */
export type MqttCredentials = { readonly username: string; readonly password: string };

/** Default username of the server's own credentials. */
export const SERVER_USERNAME = 'hazwatch-server';
/** Prefix of the derived client id (and the default name in the server's status topic). */
export const SERVER_CLIENT_ID_BASE = 'hazwatch-server';

type Paths = ReturnType<typeof mqttAuthPaths>;

/** Reads (or creates, mode 0600) the secret the server's client id is derived from. */
export function clientIdSecret(paths: Paths, fromEnv: string | undefined): string {
  if (fromEnv) return fromEnv;
  if (existsSync(paths.clientIdSecret)) return readFileSync(paths.clientIdSecret, 'utf8').trim();
  const secret = randomBytes(32).toString('hex');
  writePrivateFile(paths.clientIdSecret, secret + '\n');
  return secret;
}

/** `hazwatch-server-<16 hex of HMAC-SHA256(secret, base)>`: stable for this DATA_DIR/secret, unguessable without it. */
export const deriveClientId = (secret: string, base = SERVER_CLIENT_ID_BASE): string =>
  `${base}-${createHmac('sha256', secret).update(base).digest('hex').slice(0, 16)}`;

function readCredentials(path: string): MqttCredentials | undefined {
  if (!existsSync(path)) return undefined;
  const c = JSON.parse(readFileSync(path, 'utf8')) as Partial<MqttCredentials>;
  if (typeof c.username !== 'string' || typeof c.password !== 'string')
    throw new ConfigError(path, [{ path: '(file)', reason: 'expected {"username", "password"}' }]);
  return { username: c.username, password: c.password };
}

/**
 * The server's own MQTT credentials. MQTT_USERNAME/MQTT_PASSWORD win (and, for the embedded broker, are entered into
 * the store as the server user). Otherwise DATA_DIR/mqtt/server.credentials.json (mode 0600), generated on first start
 * when `generate` (embedded broker, or demo mode). Undefined: connect without credentials (an external broker that
 * allows it; a warning is logged by the caller).
 */
export async function ensureServerCredentials(
  store: MqttUserStore,
  paths: Paths,
  env: { MQTT_USERNAME?: string | undefined; MQTT_PASSWORD?: string | undefined },
  opts: { generate: boolean },
): Promise<{ credentials: MqttCredentials | undefined; created: boolean }> {
  if (env.MQTT_USERNAME) {
    const credentials = { username: env.MQTT_USERNAME, password: env.MQTT_PASSWORD ?? '' };
    if (opts.generate) {
      const user = store.get(credentials.username);
      const valid = user?.role === 'server' && (await verifyScrypt(credentials.password, user.scrypt));
      if (!valid) {
        await store.add({ ...credentials, role: 'server', sites: [] }, { replace: true });
        return { credentials, created: true };
      }
    }
    return { credentials, created: false };
  }
  const existing = readCredentials(paths.serverCredentials);
  if (existing && (!opts.generate || store.get(existing.username)?.role === 'server'))
    return { credentials: existing, created: false };
  if (!opts.generate) return { credentials: existing, created: false };
  const credentials = { username: existing?.username ?? SERVER_USERNAME, password: generatePassword() };
  await store.add({ ...credentials, role: 'server', sites: [] }, { replace: true });
  writePrivateFile(paths.serverCredentials, JSON.stringify(credentials, null, 2) + '\n');
  return { credentials, created: true };
}

/** File the demo simulators read their per-site credentials from: `{"sites": {"<siteId>": {"username", "password"}}}`. */
export function readSiteCredentials(path: string): Map<string, MqttCredentials> {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as { sites?: Record<string, Partial<MqttCredentials>> };
  const out = new Map<string, MqttCredentials>();
  for (const [site, c] of Object.entries(raw.sites ?? {})) {
    if (typeof c.username !== 'string' || typeof c.password !== 'string')
      throw new ConfigError(path, [{ path: `sites.${site}`, reason: 'expected {"username", "password"}' }]);
    out.set(site, { username: c.username, password: c.password });
  }
  return out;
}

/**
 * Demo mode: one `site-<siteId>` user per site of the plant, so the bundled simulators publish with per-site rights.
 * Their passwords are kept (mode 0600) in DATA_DIR/mqtt/demo-sites.credentials.json for the simulators; a site whose
 * user or file entry is missing gets a new one. Returns the credentials by site.
 */
export async function ensureDemoSiteCredentials(
  store: MqttUserStore,
  paths: Paths,
  siteIds: readonly string[],
): Promise<{ bySite: Map<string, MqttCredentials>; created: string[] }> {
  const bySite = existsSync(paths.demoSiteCredentials)
    ? readSiteCredentials(paths.demoSiteCredentials)
    : new Map<string, MqttCredentials>();
  const created: string[] = [];
  for (const site of siteIds) {
    const have = bySite.get(site);
    const user = have ? store.get(have.username) : undefined;
    if (have && user?.role === 'site' && user.sites.includes(site)) continue;
    const c = { username: `site-${site}`, password: generatePassword() };
    await store.add({ ...c, role: 'site', sites: [site], demo: true }, { replace: true });
    bySite.set(site, c);
    created.push(site);
  }
  if (created.length > 0)
    writePrivateFile(
      paths.demoSiteCredentials,
      JSON.stringify({ sites: Object.fromEntries(bySite) }, null, 2) + '\n',
    );
  return { bySite, created };
}
