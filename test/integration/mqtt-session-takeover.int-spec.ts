/**
 * Session takeover on the real local Mosquitto (stock config, MQTT 3.1.1): another client connecting with the server's
 * client id kicks the server off its persistent session (docs/adr/0009-mqtt-authentication.md).
 * - A stranger guessing the old fixed id `hazwatch-server` no longer affects the server (its id is derived from a secret).
 * - A client that knows the real id and keeps taking the session raises the critical `ext:mqtt-session` alarm, fails
 *   /health/ready and sets the metric.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { Client } from 'pg';
import { AlarmService } from '../../src/alarms/alarm.service';
import { MQTT_SESSION_RULE_ID } from '../../src/alarms/mqtt-session-alarm.service';
import { bootstrap, type RunningApp } from '../../src/bootstrap';
import { loadAppConfig } from '../../src/config/app-config';
import { telemetryTopic } from '../../src/ingest/domain/telemetry-contract';
import { IngestService } from '../../src/ingest/ingest.service';
import { deriveClientId } from '../../src/ingest/mqtt-auth/mqtt-provisioning';
import { MqttSecurity } from '../../src/ingest/mqtt-auth/mqtt-security.service';
import { mqttAuthPaths } from '../../src/ingest/mqtt-auth/mqtt-user.store';
import { gasMessage, makePlantConfigDir } from '../factories/plant.factory';
import { pollUntil } from '../setup/poll-until';
import { prepareTestDatabase, uniqueId } from '../setup/test-db';

const DB = process.env.TEST_DATABASE_URL;
const MQTT = process.env.TEST_MQTT_URL;
const run = DB && MQTT ? describe : describe.skip;
if (!DB || !MQTT)
  console.warn(
    'mqtt-session-takeover.int-spec: skipped — needs TEST_DATABASE_URL and TEST_MQTT_URL (local PostgreSQL and Mosquitto)',
  );

run('MQTT session takeover (Mosquitto + PostgreSQL)', () => {
  const siteId = uniqueId('tko');
  const dataDir = mkdtempSync(join(tmpdir(), 'hzw-takeover-'));
  let app: RunningApp | undefined;
  let url = '';
  let device: MqttClient;
  let db: Client;
  const others: MqttClient[] = [];
  let serverClientId = '';

  const stored = async (): Promise<number> =>
    Number(
      (await db.query<{ n: string }>('SELECT count(*) AS n FROM telemetry WHERE site_id = $1', [siteId]))
        .rows[0]?.n,
    );
  let seq = 0;
  const publish = async (n: number): Promise<void> => {
    const now = Date.now();
    await Promise.all(
      Array.from({ length: n }, () =>
        device.publishAsync(telemetryTopic(siteId, 'gd-1'), gasMessage(now - 1000 + seq, seq++), { qos: 1 }),
      ),
    );
  };

  beforeAll(async () => {
    await prepareTestDatabase(DB as string);
    db = new Client({ connectionString: DB });
    await db.connect();
    app = await bootstrap(
      loadAppConfig({
        DATABASE_URL: DB,
        MQTT_URL: MQTT,
        CONFIG_DIR: makePlantConfigDir(siteId),
        DATA_DIR: dataDir,
        PORT: '0',
        LOG_LEVEL: 'error',
        WRITER_FLUSH_MS: '20',
      }),
    );
    url = `http://127.0.0.1:${app.port}`;
    serverClientId = app.app.get(MqttSecurity).identity().clientId;
    device = await connectAsync(MQTT as string, { clientId: uniqueId('dev'), clean: true });
  });

  afterAll(async () => {
    for (const c of others) c.end(true); // forced: a client in its reconnect loop may never complete a graceful end
    // The server takes its session back once the intruder is gone; close it connected (a graceful MQTT end waits for it).
    if (app)
      await pollUntil(() => app!.app.get(IngestService).isConnected(), {
        timeoutMs: 15_000,
        what: 'server reconnected',
      });
    await app?.close();
    // Drop the persistent sessions so the shared Mosquitto stops queueing for clients that will never return.
    for (const id of [serverClientId, 'hazwatch-server'])
      if (id) await (await connectAsync(MQTT as string, { clientId: id, clean: true })).endAsync();
    await device?.endAsync();
    await db?.end();
  });

  it('should derive an unguessable client id from the secret in DATA_DIR', () => {
    const secret = readFileSync(mqttAuthPaths(dataDir).clientIdSecret, 'utf8').trim();
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(serverClientId).toBe(deriveClientId(secret));
    expect(serverClientId).toMatch(/^hazwatch-server-[0-9a-f]{16}$/);
  });

  it("should not be affected by a stranger connecting with the old fixed id 'hazwatch-server'", async () => {
    await publish(20);
    await pollUntil(async () => (await stored()) === 40, {
      timeoutMs: 20_000,
      what: '40 rows before the stranger',
    });
    const stranger = await connectAsync(MQTT as string, {
      clientId: 'hazwatch-server',
      clean: false,
      reconnectPeriod: 200,
    });
    others.push(stranger);
    await stranger.subscribeAsync('hazwatch/v1/+/+/telemetry', { qos: 1 });
    let stolen = 0;
    stranger.on('message', () => stolen++);
    const closesBefore = app!.app.get(MqttSecurity).takeoverState();
    await publish(50);
    await pollUntil(async () => (await stored()) === 140, {
      timeoutMs: 20_000,
      what: 'every reading stored while the stranger is connected',
    });
    expect(app!.app.get(IngestService).isConnected()).toBe(true);
    expect(app!.app.get(MqttSecurity).takeoverState()).toEqual(closesBefore);
    // On the stock (anonymous) broker the stranger can still read copies; it cannot take the server's queue.
    expect(stolen).toBeLessThanOrEqual(50);
    stranger.end(true);
  });

  it('should raise a critical alarm, fail readiness and set the metric when a client keeps taking the real session', async () => {
    const intruder = await connectAsync(MQTT as string, {
      clientId: serverClientId,
      clean: false,
      reconnectPeriod: 300,
    });
    others.push(intruder);
    const security = app!.app.get(MqttSecurity);
    await pollUntil(() => security.takeoverState().suspected, {
      timeoutMs: 30_000,
      what: 'takeover suspected',
    });
    intruder.end(true);

    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { checks: Record<string, { ok: boolean; detail?: string }> };
    expect(body.checks.mqttSession).toMatchObject({ ok: false });
    expect(body.checks.mqttSession?.detail).toMatch(/CRITICAL: MQTT session takeover suspected/);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^hazwatch_ingest_mqtt_session_takeover 1$/m);
    expect(metrics).toMatch(/^hazwatch_ingest_mqtt_session_takeovers_total 1$/m);
    const alarms = app!.app.get(AlarmService);
    const alarm = await pollUntil(
      () =>
        alarms.records().find((a) => a.ruleId === MQTT_SESSION_RULE_ID && a.siteId === siteId && a.active),
      { timeoutMs: 10_000, what: 'ext:mqtt-session alarm' },
    );
    expect(alarm.priority).toBe('critical');
  });
});
