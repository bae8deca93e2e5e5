/**
 * MQTT credentials for tests: the embedded broker refuses anonymous clients (docs/adr/0009-mqtt-authentication.md),
 * so tests that publish or observe provision users in the server's DATA_DIR user store first.
 */
import { join } from 'node:path';
import { loadPlant } from '../../src/config/config.loader';
import type { MqttCredentials } from '../../src/ingest/mqtt-auth/mqtt-provisioning';
import { generatePassword } from '../../src/ingest/mqtt-auth/password-hash';
import { mqttAuthPaths, MqttUserStore } from '../../src/ingest/mqtt-auth/mqtt-user.store';

export const REPO_CONFIG_DIR = join(__dirname, '..', '..', 'config');

export type TestMqttUsers = {
  /** May publish for every site of the plant (a gateway). */
  readonly publisher: MqttCredentials;
  /** Server role: may subscribe to every site (observers in tests). */
  readonly observer: MqttCredentials;
  readonly store: MqttUserStore;
};

/** Adds (or replaces) a test gateway for all sites and a test observer in DATA_DIR/mqtt/users.json. */
export async function provisionTestMqttUsers(
  dataDir: string,
  configDir = REPO_CONFIG_DIR,
  siteIds?: readonly string[],
): Promise<TestMqttUsers> {
  const store = new MqttUserStore(mqttAuthPaths(dataDir).users);
  const sites = siteIds ?? loadPlant(configDir).sites.map((s) => s.id);
  const publisher = { username: 'test-gateway', password: generatePassword() };
  const observer = { username: 'test-observer', password: generatePassword() };
  await store.add({ ...publisher, role: 'site', sites }, { replace: true });
  await store.add({ ...observer, role: 'server', sites: [] }, { replace: true });
  return { publisher, observer, store };
}
