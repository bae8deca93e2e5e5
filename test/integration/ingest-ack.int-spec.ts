import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startMosquitto, type MosquittoHandle } from '../../bench/mosquitto.process';
import { makePlantConfigDir } from '../factories/plant.factory';
import { reportFault } from '../setup/fault-report';
import { startMessageStream, type MessageStream } from '../setup/message-stream';
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
    'ingest-ack.int-spec: skipped — needs TEST_DATABASE_URL, a mosquitto binary and `npm run build`',
  );
}

/**
 * Zero loss across `kill -9` (docs/adr/0008-ack-after-commit.md): a QoS 1 message is acknowledged only once its readings
 * are committed or fsynced to the spool, so whatever the killed server held in memory is redelivered by the broker on
 * the resumed session. A private Mosquitto with the repository's settings (docker/mosquitto.conf: the default
 * max_queued_messages of 1000 would make the BROKER drop messages queued while the server restarts) on a free port.
 */
run('QoS 1 intake across kill -9 (Mosquitto + PostgreSQL, spawned server)', () => {
  const siteId = uniqueId('ack');
  const clientId = uniqueId('hazwatch-ack');
  const base = Date.now() - 120_000;
  const configDir = makePlantConfigDir(siteId);
  const dataDir = mkdtempSync(join(tmpdir(), 'hazwatch-ack-'));
  let broker: MosquittoHandle;
  let proxy: TcpProxy;
  let db: Client;
  let server: ServerProcess | undefined;
  let stream: MessageStream | undefined;

  const start = async (extra: Record<string, string> = {}): Promise<ServerProcess> => {
    const u = new URL(DB as string);
    u.host = `127.0.0.1:${proxy.port}`;
    return startServer({
      dataDir,
      env: {
        DATABASE_URL: u.toString(),
        MQTT_URL: broker.url,
        MQTT_CLIENT_ID: clientId,
        CONFIG_DIR: configDir,
        SIMULATE: 'false',
        HAZWATCH_DEMO: 'false',
        LOG_LEVEL: 'warn',
        WRITER_FLUSH_MS: '20',
        ...extra,
      },
    });
  };

  /** seq → stored rows of its `conc` reading. */
  const storedBySeq = async (): Promise<Map<number, number>> => {
    const res = await db.query<{ seq: string; n: string }>(
      `SELECT round(extract(epoch FROM time) * 1000)::bigint - $2::bigint AS seq, count(*) AS n
         FROM telemetry WHERE site_id = $1 AND channel = 'conc' GROUP BY 1`,
      [siteId, base],
    );
    return new Map(res.rows.map((r) => [Number(r.seq), Number(r.n)]));
  };

  beforeAll(async () => {
    await prepareTestDatabase(DB as string);
    db = new Client({ connectionString: DB });
    await db.connect();
    broker = await startMosquitto(
      MOSQUITTO as string,
      join(__dirname, '..', '..', 'docker', 'mosquitto.conf'),
      mkdtempSync(join(tmpdir(), 'hazwatch-ack-mq-')),
    );
    const u = new URL(DB as string);
    proxy = new TcpProxy(u.hostname, Number(u.port || 5432));
    await proxy.start();
  });

  afterAll(async () => {
    await stream?.stop().catch(() => undefined);
    await server?.stop('SIGKILL');
    await proxy?.close();
    await broker?.stop();
    await db?.end();
  });

  const t0 = Date.now();
  const step = (what: string): void =>
    void process.stderr.write(
      `[ingest-ack +${Date.now() - t0} ms] ${what} (published ${stream?.next ?? 0})\n`,
    );

  it('should lose no QoS 1 reading when the server is killed at random points, including during a database hang', async () => {
    server = await start();
    stream = await startMessageStream({ url: broker.url, siteId, ratePerS: 1000, qos: 1, base });
    const bounds: Array<{ name: string; from: number; to: number; note: string }> = [];
    let from = 0;
    const randomMs = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo));

    for (let k = 1; k <= 2; k++) {
      const runFor = randomMs(1000, 3000);
      await new Promise((r) => setTimeout(r, runFor));
      const atKill = stream.next;
      step(`kill #${k}`);
      await server.stop('SIGKILL');
      server = await start();
      step(`restarted #${k}`);
      bounds.push({
        name: `server-kill-9 #${k} (QoS 1, 1000 msg/s)`,
        from,
        to: stream.next,
        note: `killed after ${runFor} ms at message ${atKill}`,
      });
      from = stream.next;
    }

    // A kill while PostgreSQL hangs: small memory queue so batches go to the fsynced spool and are acknowledged from it.
    step('graceful stop');
    await server.stop('SIGTERM');
    step('stopped');
    server = await start({ WRITER_QUEUE_MAX: '1000', WRITER_BATCH_SIZE: '500' });
    await new Promise((r) => setTimeout(r, 1000));
    step('hang');
    proxy.hang();
    const hangMs = randomMs(2000, 4000);
    await new Promise((r) => setTimeout(r, hangMs));
    const atKill = stream.next;
    await server.stop('SIGKILL');
    proxy.unhang();
    step('killed during hang');
    server = await start();
    step('restarted');
    bounds.push({
      name: 'server-kill-9 during a database hang (QoS 1, 1000 msg/s)',
      from,
      to: stream.next,
      note: `database hung ${hangMs} ms, killed at message ${atKill}`,
    });
    from = stream.next;

    await new Promise((r) => setTimeout(r, 1000));
    await stream.stop();
    const total = stream.next;
    expect(stream.accepted).toBe(total);
    bounds.push({ name: 'after the last restart (QoS 1, 1000 msg/s)', from, to: total, note: 'no fault' });

    step('stream stopped');
    await pollUntil(async () => (await storedBySeq()).size >= total, {
      timeoutMs: 45_000,
      intervalMs: 500,
      what: `all ${total} messages stored`,
    }).catch(() => undefined);
    const stored = await storedBySeq();
    let lostTotal = 0;
    for (const b of bounds) {
      let got = 0;
      let dup = 0;
      for (let s = b.from; s < b.to; s++) {
        const n = stored.get(s) ?? 0;
        if (n > 0) got++;
        if (n > 1) dup += n - 1;
      }
      lostTotal += reportFault(b.name, { sent: b.to - b.from, stored: got, duplicated: dup }, b.note);
    }
    expect(lostTotal).toBe(0);
  });
});
