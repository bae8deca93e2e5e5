import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startMosquitto, type MosquittoHandle } from '../../bench/mosquitto.process';
import { makePlantConfigDir } from '../factories/plant.factory';
import { reportFault } from '../setup/fault-report';
import { startMessageStream } from '../setup/message-stream';
import { pollUntil } from '../setup/poll-until';
import { SERVER_ENTRY, startServer, type ServerProcess } from '../setup/server-process';
import { TcpProxy } from '../setup/tcp-proxy';
import { prepareTestDatabase, uniqueId } from '../setup/test-db';

const DB = process.env.TEST_DATABASE_URL;
const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) =>
  existsSync(p),
);
const run = DB && MOSQUITTO && existsSync(SERVER_ENTRY) ? describe : describe.skip;
if (!DB || !MOSQUITTO || !existsSync(SERVER_ENTRY)) {
  console.warn(
    'ingest-overload.int-spec: skipped — needs TEST_DATABASE_URL, a mosquitto binary and `npm run build`',
  );
}

/** One sample of /metrics (the gauges this suite watches). */
async function scrape(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const name of [
    'hazwatch_ingest_mqtt_connected',
    'hazwatch_process_process_resident_memory_bytes',
    'hazwatch_storage_lag_seconds',
    'hazwatch_ingest_unacked_messages',
    'hazwatch_storage_queue_depth',
    'hazwatch_ingest_paused',
  ]) {
    const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
    if (m) out[name] = Number(m[1]);
  }
  return out;
}

/**
 * Overload and recovery (docs/adr/0008-ack-after-commit.md): the server's capacity is made small on purpose (50-row
 * batches, a 1 MiB spool, a TCP path to PostgreSQL capped at 200 kB/s:
 * ≈ 1500 msg/s), then a 20 s QoS 1 burst well above what that
 * path commits live. The server must keep its broker session (connected the whole time, one connect), keep memory
 * within the documented bound, report its lag, and store every reading once the burst is over.
 */
run(
  'QoS 1 burst above capacity (private Mosquitto with docker/mosquitto.conf, throttled database path)',
  () => {
    const siteId = uniqueId('ovl');
    const clientId = uniqueId('hazwatch-ovl');
    const base = Date.now() - 120_000;
    let broker: MosquittoHandle;
    let proxy: TcpProxy;
    let db: Client;
    let server: ServerProcess | undefined;

    beforeAll(async () => {
      await prepareTestDatabase(DB as string);
      db = new Client({ connectionString: DB });
      await db.connect();
      broker = await startMosquitto(
        MOSQUITTO as string,
        join(__dirname, '..', '..', 'docker', 'mosquitto.conf'),
        mkdtempSync(join(tmpdir(), 'hazwatch-ovl-mq-')),
      );
      const u = new URL(DB as string);
      proxy = new TcpProxy(u.hostname, Number(u.port || 5432), { delayMs: 2, bytesPerS: 200_000 });
      await proxy.start();
    });

    afterAll(async () => {
      await server?.stop('SIGKILL');
      await proxy?.close();
      await broker?.stop();
      await db?.end();
    });

    it('should keep its session, bound its memory, report lag, and store every reading after a 20 s burst', async () => {
      const u = new URL(DB as string);
      u.host = `127.0.0.1:${proxy.port}`;
      const env = {
        WRITER_BATCH_SIZE: '50',
        WRITER_QUEUE_MAX: '1000',
        WRITER_FLUSH_MS: '20',
        MQTT_MAX_UNACKED: '50',
        INGEST_TURN_BYTES: '65536',
        SPOOL_MAX_BYTES: '1048576',
        MQTT_KEEPALIVE_S: '2',
      };
      server = await startServer({
        env: {
          DATABASE_URL: u.toString(),
          MQTT_URL: broker.url,
          MQTT_CLIENT_ID: clientId,
          CONFIG_DIR: makePlantConfigDir(siteId),
          SIMULATE: 'false',
          HAZWATCH_DEMO: 'false',
          LOG_LEVEL: 'warn',
          ...env,
        },
      });
      const srv = server;
      const before = await scrape(srv.url);
      const rate = 3000;
      const stream = await startMessageStream({ url: broker.url, siteId, ratePerS: rate, qos: 1, base });
      const samples: Array<Record<string, number>> = [];
      const readyBodies: string[] = [];
      const sampler = setInterval(() => {
        void scrape(srv.url).then(
          (s) => samples.push(s),
          () => undefined,
        );
        void fetch(`${srv.url}/health/ready`).then(
          async (r) => readyBodies.push(await r.text()),
          () => undefined,
        );
      }, 500);
      await new Promise((r) => setTimeout(r, 20_000));
      await stream.stop();
      const sent = stream.next;
      const burstEnd = Date.now();
      const stored = async (): Promise<number> =>
        Number(
          (
            await db.query<{ n: string }>(
              `SELECT count(DISTINCT time) AS n FROM telemetry WHERE site_id = $1 AND channel = 'conc'`,
              [siteId],
            )
          ).rows[0]?.n,
        );
      await pollUntil(async () => (await stored()) >= sent, {
        timeoutMs: 40_000,
        intervalMs: 500,
        what: `${sent} messages stored`,
      }).catch(() => undefined);
      const catchUpS = (Date.now() - burstEnd) / 1000;
      clearInterval(sampler);
      const n = await stored();

      const maxOf = (k: string): number => Math.max(0, ...samples.map((s) => s[k] ?? 0));
      const rssGrowthMb =
        (maxOf('hazwatch_process_process_resident_memory_bytes') -
          (before['hazwatch_process_process_resident_memory_bytes'] ?? 0)) /
        1e6;
      // docs/adr/0008: N_max ≈ WRITER_QUEUE_MAX + WRITER_BATCH_SIZE + (INGEST_TURN_BYTES + 64 KiB) / bytes per message × readings per message
      const nMax = 1000 + 50 + ((65536 + 65536) / 60) * 2;
      const boundMb = (2 * 100 * nMax + 16 * 10_000) / 1e6;
      const closes = (srv.output().match(/MQTT connection closed/g) ?? []).length;
      const capacity = n / (20 + catchUpS);
      const lost = reportFault(
        `QoS 1 burst ${rate} msg/s × 20 s above a throttled writer`,
        { sent, stored: n, duplicated: 0 },
        `sustained ≈ ${capacity.toFixed(0)} msg/s, caught up ${catchUpS.toFixed(1)} s after the burst; max paused ${maxOf('hazwatch_ingest_paused')}, max lag ${maxOf('hazwatch_storage_lag_seconds').toFixed(1)} s, max unacked ${maxOf('hazwatch_ingest_unacked_messages')}, max queue ${maxOf('hazwatch_storage_queue_depth')}, RSS growth ${rssGrowthMb.toFixed(1)} MB (formula ${boundMb.toFixed(1)} MB + heap slack)`,
      );
      expect(lost).toBe(0);
      expect(closes).toBe(0);
      expect(samples.length).toBeGreaterThan(10);
      expect(samples.every((s) => s.hazwatch_ingest_mqtt_connected === 1)).toBe(true);
      // The burst was above capacity: lag built up and was reported (metrics and the ready body).
      expect(maxOf('hazwatch_storage_lag_seconds')).toBeGreaterThan(0);
      expect(readyBodies.some((b) => /"writer":\{"ok":(true|false),"detail":"lag [1-9]/.test(b))).toBe(true);
      // Memory bound (docs/adr/0008): readings in memory stay near N_max; RSS within the formula plus 100 MB of V8 slack.
      expect(maxOf('hazwatch_storage_queue_depth')).toBeLessThanOrEqual(nMax);
      expect(rssGrowthMb).toBeLessThan(boundMb + 100);
    });
  },
);
