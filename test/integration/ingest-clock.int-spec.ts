import { connectAsync, type MqttClient } from 'mqtt';
import { Client } from 'pg';
import { AlarmService } from '../../src/alarms/alarm.service';
import { TokenService } from '../../src/auth/token.service';
import { loadAppConfig } from '../../src/config/app-config';
import { bootstrap, type RunningApp } from '../../src/bootstrap';
import { telemetryTopic } from '../../src/ingest/domain/telemetry-contract';
import { makePlantConfigDir } from '../factories/plant.factory';
import { pollUntil } from '../setup/poll-until';
import { prepareTestDatabase, uniqueId } from '../setup/test-db';

const DB = process.env.TEST_DATABASE_URL;
const MQTT = process.env.TEST_MQTT_URL;
const run = DB && MQTT ? describe : describe.skip;
if (!DB || !MQTT)
  console.warn(
    'ingest-clock.int-spec: skipped — needs TEST_DATABASE_URL and TEST_MQTT_URL (local PostgreSQL and Mosquitto)',
  );

/**
 * A wrong device clock never blinds the rule engine, end to end through the real Mosquitto (docs/ingest-time-and-sequence.md):
 * one message dated 280 s ahead (inside INGEST_MAX_SKEW_S), then a real leak — the level alarm still comes within its
 * on-delay (as on a control detector), the device raises clock_fault, history holds no reading from the future, and a
 * skipped seq shows as a gap in /metrics and GET /api/devices.
 */
run('device clocks and seq gaps through MQTT (Mosquitto + PostgreSQL)', () => {
  const siteId = uniqueId('clk');
  const clientId = uniqueId('hazwatch-it');
  let app: RunningApp | undefined;
  let device: MqttClient;
  let db: Client;

  beforeAll(async () => {
    await prepareTestDatabase(DB as string);
    db = new Client({ connectionString: DB });
    await db.connect();
    device = await connectAsync(MQTT as string, { clientId: uniqueId('dev'), clean: true });
    app = await bootstrap(
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
  });

  afterAll(async () => {
    await app?.close();
    await (await connectAsync(MQTT as string, { clientId, clean: true })).endAsync();
    await device?.endAsync();
    await db?.end();
  });

  const publish = (deviceId: string, ts: number, seq: number, conc: number): Promise<unknown> =>
    device.publishAsync(
      telemetryTopic(siteId, deviceId),
      JSON.stringify({ ts, seq, values: { conc, fault: false } }),
      { qos: 1 },
    );

  const alarm = (deviceId: string, condition: string) =>
    app!.app
      .get(AlarmService)
      .records()
      .find((a) => a.siteId === siteId && a.deviceId === deviceId && a.condition === condition);

  it('should raise the level alarm of a real leak after a reading dated 280 s ahead, raise clock_fault and count a seq gap', async () => {
    // level 2 = 2 mg/m3, on-delay 2 s; gd-2 is the control detector with a right clock
    const t0 = Date.now();
    await publish('gd-1', t0, 1, 0.2);
    await publish('gd-2', t0, 1, 0.2);
    await publish('gd-1', Date.now() + 280_000, 2, 0.2); // the wrong clock
    const leakFrom = Date.now();
    let seq = 4; // seq 3 never sent: one message lost upstream
    while (Date.now() - leakFrom < 4000) {
      const now = Date.now();
      await publish('gd-1', now, seq, 5);
      await publish('gd-2', now, seq, 5);
      seq++;
      await new Promise((r) => setTimeout(r, 250));
    }
    const control = await pollUntil(() => alarm('gd-2', 'gas_l2'), {
      timeoutMs: 15_000,
      what: 'gas_l2 on the control detector',
    });
    // before the fix the wrong clock made every later reading of gd-1 "late" (not evaluated) for 280 s
    const leak = await pollUntil(() => alarm('gd-1', 'gas_l2'), {
      timeoutMs: 15_000,
      what: 'gas_l2 on the detector whose clock jumped ahead',
    });
    expect(leak.active).toBe(true);
    expect(Math.abs(leak.raisedAt - control.raisedAt)).toBeLessThan(1500);
    expect(leak.raisedAt - leakFrom).toBeLessThan(4000); // on-delay 2 s, plus publish spacing

    const clock = await pollUntil(() => alarm('gd-1', 'clock_fault'), {
      timeoutMs: 5000,
      what: 'clock_fault on gd-1',
    });
    expect(clock.priority).toBe('low');
    expect(clock.message).toContain('280 s ahead');
    // the readings that followed were on time: the fault cleared again
    await pollUntil(() => alarm('gd-1', 'clock_fault')?.active === false, {
      timeoutMs: 5000,
      what: 'clock_fault cleared',
    });

    // history: nothing stored in the future
    await pollUntil(
      async () =>
        Number(
          (
            await db.query<{ n: string }>(
              'SELECT count(*) AS n FROM telemetry WHERE site_id = $1 AND device_id = $2',
              [siteId, 'gd-1'],
            )
          ).rows[0]?.n,
        ) >=
        2 * (seq - 2),
      {
        what: "gd-1's readings stored",
      },
    );
    const latest = await db.query<{ t: Date }>('SELECT max(time) AS t FROM telemetry WHERE site_id = $1', [
      siteId,
    ]);
    expect(latest.rows[0]!.t.getTime()).toBeLessThanOrEqual(Date.now() + 5000);

    // loss upstream: the skipped seq 3 is one gap with one message missing
    const { token } = await app!.app
      .get(TokenService)
      .create({ role: 'operator', scope: '', name: 'clock-it' });
    const res = await fetch(`http://127.0.0.1:${app!.port}/api/devices?site=${siteId}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const devices = (await res.json()) as Array<Record<string, unknown>>;
    expect(devices.find((d) => d.deviceId === 'gd-1')).toMatchObject({
      seqGaps: 1,
      seqMissing: 1,
      lastSeq: seq - 1,
      clock: 'ok',
    });
    expect(devices.find((d) => d.deviceId === 'gd-2')).toMatchObject({
      seqGaps: 1,
      seqMissing: 2,
      clock: 'ok',
    }); // 1 → 4
    const metrics = await (await fetch(`http://127.0.0.1:${app!.port}/metrics`)).text();
    expect(metrics).toMatch(/^hazwatch_ingest_seq_gaps_total [1-9]/m);
    expect(metrics).toMatch(/^hazwatch_ingest_clock_retimed_total [1-9]/m);
  }, 60_000);
});
