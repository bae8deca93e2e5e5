import { connectAsync, type MqttClient } from 'mqtt';
import { Client } from 'pg';
import { loadAppConfig } from '../../src/config/app-config';
import { bootstrap, type RunningApp } from '../../src/bootstrap';
import { telemetryTopic } from '../../src/ingest/domain/telemetry-contract';
import { gasMessage, makePlantConfigDir } from '../factories/plant.factory';
import { pollUntil } from '../setup/poll-until';
import { prepareTestDatabase, uniqueId } from '../setup/test-db';

const DB = process.env.TEST_DATABASE_URL;
const MQTT = process.env.TEST_MQTT_URL;
const run = DB && MQTT ? describe : describe.skip;
if (!DB || !MQTT)
  console.warn(
    'ingest-restart.int-spec: skipped — needs TEST_DATABASE_URL and TEST_MQTT_URL (local PostgreSQL and Mosquitto)',
  );

/**
 * A restart of the server loses no QoS 1 message: the persistent session (fixed client id, clean=false) makes Mosquitto
 * queue what devices publish while hazwatch is down, and a graceful stop writes everything it acknowledged.
 * Mosquitto's default max_queued_messages is 1000 (see README), so the outage batch stays below it.
 */
run('ingest across a server restart (Mosquitto + PostgreSQL)', () => {
  const siteId = uniqueId('rst');
  const clientId = uniqueId('hazwatch-it');
  let app: RunningApp | undefined;
  let device: MqttClient;
  let db: Client;

  const start = async (): Promise<RunningApp> =>
    bootstrap(
      loadAppConfig({
        DATABASE_URL: DB,
        MQTT_URL: MQTT,
        MQTT_CLIENT_ID: clientId,
        CONFIG_DIR: makePlantConfigDir(siteId),
        DATA_DIR: `/tmp/${clientId}`,
        PORT: '0',
        LOG_LEVEL: 'error',
        WRITER_FLUSH_MS: '20',
      }),
    );

  const stored = async (): Promise<number> =>
    Number(
      (await db.query<{ n: string }>('SELECT count(*) AS n FROM telemetry WHERE site_id = $1', [siteId]))
        .rows[0]?.n,
    );

  const publishBatch = async (from: number, count: number): Promise<void> => {
    const now = Date.now();
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        device.publishAsync(
          telemetryTopic(siteId, `gd-${(i % 3) + 1}`),
          gasMessage(now - 60_000 + from + i, from + i),
          { qos: 1 },
        ),
      ),
    );
  };

  beforeAll(async () => {
    await prepareTestDatabase(DB as string);
    db = new Client({ connectionString: DB });
    await db.connect();
    device = await connectAsync(MQTT as string, { clientId: uniqueId('dev'), clean: true });
  });

  afterAll(async () => {
    await app?.close();
    // Drop the persistent session so the shared Mosquitto stops queueing for a client that will never return.
    await (await connectAsync(MQTT as string, { clientId, clean: true })).endAsync();
    await device?.endAsync();
    await db?.end();
  });

  it('should store every message published before, during and after a restart exactly once', async () => {
    app = await start();
    await publishBatch(0, 300);
    await pollUntil(async () => (await stored()) === 600, {
      timeoutMs: 20_000,
      what: '600 rows before the restart',
    });

    await app.close();
    app = undefined;
    await publishBatch(300, 500); // broker queues these for the offline persistent session

    app = await start();
    await publishBatch(800, 200);
    await pollUntil(async () => (await stored()) >= 2000, {
      timeoutMs: 30_000,
      what: '2000 rows after the restart',
    });
    expect(await stored()).toBe(2000);
  });
});
