import { Client } from 'pg';
import { bootstrap, type RunningApp } from '../../src/bootstrap';
import { loadAppConfig } from '../../src/config/app-config';
import { IngestService } from '../../src/ingest/ingest.service';
import { makePlantConfigDir } from '../factories/plant.factory';
import { reportFault } from '../setup/fault-report';
import { startMessageStream } from '../setup/message-stream';
import { pollUntil } from '../setup/poll-until';
import { prepareTestDatabase, uniqueId } from '../setup/test-db';

const DB = process.env.TEST_DATABASE_URL;
const MQTT = process.env.TEST_MQTT_URL;
const run = DB && MQTT ? describe : describe.skip;
if (!DB || !MQTT)
  console.warn(
    'ingest-keepalive.int-spec: skipped — needs TEST_DATABASE_URL and TEST_MQTT_URL (local PostgreSQL and Mosquitto)',
  );

/**
 * MQTT keep-alive is about what the CLIENT sends (MQTT 3.1.1 §3.1.2.10): a server that only receives QoS 0 data must
 * still send PINGREQs, or the broker drops it after 1.5 × keep-alive ("exceeded timeout"). On the stock local Mosquitto
 * with a 2 s keep-alive, a steady QoS 0 stream for 5 keep-alive periods: the connection never closes and every reading
 * is stored.
 */
run('keep-alive under a steady QoS 0 stream (stock Mosquitto)', () => {
  const siteId = uniqueId('ka');
  const clientId = uniqueId('hazwatch-ka');
  const base = Date.now() - 60_000;
  let app: RunningApp | undefined;
  let db: Client;

  beforeAll(async () => {
    await prepareTestDatabase(DB as string);
    db = new Client({ connectionString: DB });
    await db.connect();
  });

  afterAll(async () => {
    await app?.close();
    await db?.end();
  });

  it('should never lose the broker connection while only receiving QoS 0 data, and store every reading', async () => {
    app = await bootstrap(
      loadAppConfig({
        DATABASE_URL: DB,
        MQTT_URL: MQTT,
        MQTT_CLIENT_ID: clientId,
        MQTT_KEEPALIVE_S: '2',
        CONFIG_DIR: makePlantConfigDir(siteId),
        DATA_DIR: `/tmp/${clientId}`,
        PORT: '0',
        LOG_LEVEL: 'error',
        WRITER_FLUSH_MS: '20',
      }),
    );
    const ingest = app.app.get(IngestService);
    const transitions: boolean[] = [];
    const sub = ingest.connected$.subscribe((c) => transitions.push(c));
    const stream = await startMessageStream({
      url: MQTT as string,
      siteId,
      ratePerS: 20,
      qos: 0,
      base,
      tickMs: 50,
    });
    // 5 keep-alive periods; the old code was dropped by the broker after 1.5 of them (3 s).
    await new Promise((r) => setTimeout(r, 10_000));
    await stream.stop();
    const sent = stream.next;
    const stored = async (): Promise<number> =>
      Number(
        (
          await db.query<{ n: string }>(
            `SELECT count(*) AS n FROM telemetry WHERE site_id = $1 AND channel = 'conc'`,
            [siteId],
          )
        ).rows[0]?.n,
      );
    await pollUntil(async () => (await stored()) >= sent, {
      timeoutMs: 10_000,
      what: `${sent} readings stored`,
    }).catch(() => undefined);
    sub.unsubscribe();
    const n = await stored();
    const lost = reportFault(
      'QoS 0 stream for 5 keep-alive periods (stock Mosquitto, keepalive 2 s)',
      { sent, stored: n, duplicated: 0 },
      `connection states seen: ${transitions.join(',')}`,
    );
    expect(transitions).toEqual([true]);
    expect(lost).toBe(0);
  });
});
