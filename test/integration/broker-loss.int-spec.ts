import { connectAsync, type MqttClient } from 'mqtt';
import { Client } from 'pg';
import { JsonLogger } from '../../src/common/logger';
import { SUBSCRIPTIONS } from '../../src/ingest/domain/telemetry-contract';
import { reportFault } from '../setup/fault-report';
import { pollUntil } from '../setup/poll-until';
import { mosquittoBinary, startPrivateMosquitto, type PrivateMosquitto } from '../setup/private-mosquitto';
import { startServer, type ServerProcess } from '../setup/server-process';
import { TEST_DATABASE_URL, createScratchDatabase, describeWithDb, uniqueId } from '../setup/test-db';

/**
 * Loss at the broker is visible (docs/adr/0014-idempotent-telemetry.md): a private Mosquitto with the repository's
 * settings but a deliberately small `max_queued_messages` holds a QoS 1 burst for the offline server; it drops what
 * does not fit. When the server connects it reads `$SYS/broker/publish/messages/dropped`, raises the critical
 * `ext:broker-loss` alarm for every site and shows the count in /metrics. Needs the built server (`npm run build`).
 */
const haveMosquitto = mosquittoBinary() !== undefined;
const suite = haveMosquitto ? describeWithDb('broker-loss.int-spec') : describe.skip;
if (!haveMosquitto) console.warn('broker-loss.int-spec: skipped — mosquitto is not installed');

const SITE = 'bohai-chem';
const DEVICE = 'cl-gd-1';
const QUEUE = 50;
const SENT = 500;

suite('data loss at the broker raises a critical alarm (private Mosquitto)', () => {
  let broker: PrivateMosquitto;
  let scratch: { url: string; drop(): Promise<void> };
  let server: ServerProcess | undefined;
  let pg: Client;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    broker = await startPrivateMosquitto({ max_queued_messages: String(QUEUE), sys_interval: '1' });
    scratch = await createScratchDatabase(TEST_DATABASE_URL!, 'brokerloss');
    pg = new Client({ connectionString: scratch.url });
    await pg.connect();
  }, 30_000);

  afterAll(async () => {
    await server?.stop();
    await pg?.end();
    await scratch?.drop();
    await broker?.stop();
  });

  it('should raise ext:broker-loss for every site and export the drop count when the queue for the offline server overflows', async () => {
    const clientId = uniqueId('hzw-loss').replace(/[^A-Za-z0-9_-]/g, '');
    // The server's persistent session (clean=false, its subscriptions), then the server goes offline.
    const session: MqttClient = await connectAsync(broker.url, { clientId, clean: false });
    await session.subscribeAsync([...SUBSCRIPTIONS], { qos: 1 });
    await session.endAsync();

    // A QoS 1 burst while it is offline: the broker acknowledges every message, queues QUEUE of them, drops the rest.
    const pub = await connectAsync(broker.url, { clientId: `${clientId}-pub`, clean: true });
    const t0 = Date.now() - 120_000;
    await Promise.all(
      Array.from({ length: SENT }, (_, i) =>
        pub.publishAsync(
          `hazwatch/v1/${SITE}/${DEVICE}/telemetry`,
          JSON.stringify({ ts: t0 + i, seq: i, values: { conc: 0.1, fault: false } }),
          { qos: 1 },
        ),
      ),
    );
    await pub.endAsync();

    server = await startServer({
      env: {
        MQTT_URL: broker.url,
        DATABASE_URL: scratch.url,
        MQTT_CLIENT_ID: clientId,
        SIMULATE: 'false',
        HAZWATCH_DEMO: 'false',
      },
    });

    const metric = await pollUntil(
      async () => {
        const text = await (await fetch(`${server!.url}/metrics`)).text();
        const m = /^hazwatch_broker_dropped_messages_total (\d+)/m.exec(text);
        return m && Number(m[1]) > 0 ? Number(m[1]) : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'hazwatch_broker_dropped_messages_total > 0' },
    );
    const alarms = await pollUntil(
      async () => {
        const r = await pg.query<{ site_id: string; priority: string; active: boolean; message: string }>(
          `SELECT site_id, priority, active, record->>'message' AS message FROM alarm WHERE rule_id = 'ext:broker-loss'`,
        );
        return r.rows.length > 0 ? r.rows : undefined;
      },
      { timeoutMs: 15_000, what: 'the ext:broker-loss alarm in the database' },
    );
    // The queued messages reach the database; what was dropped never does.
    const stored = await pollUntil(
      async () => {
        const r = await pg.query<{ msgs: number; rows: number }>(
          `SELECT count(DISTINCT seq)::int AS msgs, count(*)::int AS rows FROM telemetry
           WHERE site_id = $1 AND device_id = $2 AND time >= $3 AND time < $4`,
          [SITE, DEVICE, new Date(t0), new Date(t0 + SENT)],
        );
        return r.rows[0]!.msgs >= QUEUE ? r.rows[0] : undefined;
      },
      { timeoutMs: 15_000, what: 'the queued messages stored' },
    );

    const lost = reportFault(
      `broker-queue-overflow (QoS 1, max_queued_messages ${QUEUE}, server offline)`,
      { sent: SENT, stored: stored.msgs, duplicated: stored.rows - 2 * stored.msgs },
      `broker counter dropped=${metric}; alarm ext:broker-loss raised for ${alarms.length} site(s)`,
    );
    expect(lost).toBeGreaterThan(0);
    expect(metric).toBe(lost); // every message lost is one the broker reported dropping
    expect(stored.rows).toBe(2 * stored.msgs);
    expect(alarms.length).toBeGreaterThan(0);
    expect(new Set(alarms.map((a) => a.site_id))).toContain(SITE);
    for (const a of alarms) {
      expect(a).toMatchObject({ priority: 'critical', active: true });
      expect(a.message).toContain('数据丢失');
    }
    expect(server.output()).toContain('DATA LOSS at the MQTT broker');
  }, 80_000);
});
