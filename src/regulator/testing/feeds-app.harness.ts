/**
 * The whole app in-process (bootstrap) on a real PostgreSQL database, its embedded MQTT broker on a free port and no
 * simulators, for the feeds integration tests: tokens are created directly, alarms are raised by publishing readings.
 * Test-only.
 */
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { TokenService } from '../../auth/token.service';
import { bootstrap, type RunningApp } from '../../bootstrap';
import { loadAppConfig } from '../../config/app-config';
import { telemetryTopic } from '../../ingest/domain/telemetry-contract';
import { IngestService } from '../../ingest/ingest.service';
import { MqttSecurity } from '../../ingest/mqtt-auth/mqtt-security.service';
import { generatePassword } from '../../ingest/mqtt-auth/password-hash';

export type FeedsApp = {
  readonly running: RunningApp;
  readonly url: string;
  readonly configDir: string;
  readonly mqtt: MqttClient;
  token(role: string, scope: string, name: string): Promise<string>;
  /** One gas reading (mg/m³ for the chlorine and H2O2 detectors of the demo plant). */
  publishGas(siteId: string, deviceId: string, conc: number): Promise<void>;
  http(
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown; text: string; headers: Headers }>;
  close(): Promise<void>;
};

const ROOT = join(__dirname, '..', '..', '..');

/** A copy of config/ with feeds.yaml replaced (so tests can shorten deadlines and backoffs). */
export function feedsConfigDir(feedsYaml: string, existing?: string): string {
  const dir = existing ?? mkdtempSync(join(tmpdir(), 'hzw-feeds-config-'));
  if (existing === undefined) cpSync(join(ROOT, 'config'), dir, { recursive: true });
  writeFileSync(join(dir, 'feeds.yaml'), feedsYaml);
  return dir;
}

export async function startFeedsApp(opts: {
  databaseUrl: string;
  configDir: string;
  dataDir?: string;
}): Promise<FeedsApp> {
  const config = loadAppConfig({
    DATABASE_URL: opts.databaseUrl,
    DATA_DIR: opts.dataDir ?? mkdtempSync(join(tmpdir(), 'hzw-feeds-data-')),
    CONFIG_DIR: opts.configDir,
    MQTT_PORT: '0',
    SIMULATE: 'false',
    // demo mode: first tokens printed (unused here) and the fake voice provider for call-outs
    HAZWATCH_DEMO: 'true',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
    PORT: '0',
    // test receivers listen on loopback, which webhooks refuse unless an admin allows it
    HAZWATCH_WEBHOOK_ALLOW: '127.0.0.1/32',
  });
  const running = await bootstrap(config, { port: 0 });
  const url = `http://127.0.0.1:${running.port}`;
  // The embedded broker refuses anonymous clients: a test gateway for every site (docs/adr/0009-mqtt-authentication.md).
  const gateway = { username: 'test-gateway', password: generatePassword() };
  await running.app
    .get(MqttSecurity)
    .store.add({ ...gateway, role: 'site', sites: config.plant.sites.map((s) => s.id) }, { replace: true });
  const mqtt = await connectAsync(running.app.get(IngestService).mqttUrl, {
    ...gateway,
    clientId: `feeds-test-${running.port}`,
    clean: true,
  });
  const tokens = running.app.get(TokenService);
  return {
    running,
    url,
    configDir: opts.configDir,
    mqtt,
    token: async (role, scope, name) => (await tokens.create({ role, scope, name })).token,
    publishGas: async (siteId, deviceId, conc) => {
      await mqtt.publishAsync(
        telemetryTopic(siteId, deviceId),
        JSON.stringify({ ts: Date.now(), values: { conc, fault: false } }),
        { qos: 1 },
      );
    },
    http: async (method, path, token, body) => {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
      return { status: res.status, body: parsed, text, headers: res.headers };
    },
    close: async () => {
      await mqtt.endAsync();
      await running.close();
    },
  };
}
