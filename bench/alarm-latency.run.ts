/**
 * The alarm-latency phase of `npm run bench`: N WebSocket clients subscribed to alarms, background telemetry at a
 * target rate, and a probe detector that crosses its level-2 set point (and clears it) every interval. For every
 * probe alarm event the bench records MQTT publish time → receipt time at every client (one clock: this process).
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import WebSocket from 'ws';
import { systemClock } from '../src/common/clock';
import { telemetryTopic } from '../src/ingest/domain/telemetry-contract';
import { TokenRepository } from '../src/auth/token.repository';
import { TokenService } from '../src/auth/token.service';
import {
  matchReceipts,
  probeKey,
  publishKey,
  type AlarmLatencyResult,
  type ProbePublish,
  type Receipt,
} from './alarm-latency';
import { PROBE_CLEAR_VALUE, PROBE_CONDITION, PROBE_RAISE_VALUE, type BenchPlant } from './bench-plant';
import type { LoadGenerator, LoadResult } from './load.generator';
import { publishFrameSize, writePublishQos1 } from './mqtt-wire';
import { RawPublisher } from './raw.publisher';
import type { ServerHandle } from './server.process';

export type AlarmRunOptions = {
  clients: number;
  /** Background telemetry, messages/s. */
  background: number;
  seconds: number;
  /** Time between probe publishes (alternately raise and clear). */
  intervalMs: number;
  /** Longest wait after the last probe publish for every client to receive every event. */
  receiptTimeoutMs: number;
  /** Concurrent HTTP clients posting hostile bodies with a valid token during the phase (0/undefined: none). */
  abusive?: number;
};

export type AlarmPhaseReport = AlarmLatencyResult & {
  options: AlarmRunOptions;
  background: Pick<
    LoadResult,
    'targetRate' | 'achievedRate' | 'sent' | 'publishS' | 'ackWaitS' | 'publisherCpuPct' | 'blockedFraction'
  >;
  /** Event-loop delay of this (bench) process during the phase: receipt times include it. */
  benchLoopDelayP99Ms: number;
  benchLoopDelayMaxMs: number;
  /** Clients closed by the server during the phase, by close code. */
  clientCloses: Record<string, number>;
  /** Hostile HTTP requests sent during the phase, by response status (abusive variant only). */
  abusiveResponses?: Record<string, number>;
  /** `hazwatch_ws_clients` as scraped before probing started. */
  serverWsClients: number | null;
  serverCpuPct: number;
};

type Log = (line?: string) => void;
type Cleanup = () => Promise<void>;

const WARMUP_MS = 2000;
const TAIL_MS = 1000;
const CONNECT_BATCH = 25;

/** One /ws client: auth frame, subscribe to alarms, then every probe alarm frame becomes a receipt. */
function connectClient(
  url: string,
  token: string,
  index: number,
  target: { siteId: string; deviceId: string; condition: string },
  receipts: Receipt[],
  onClose: (code: number) => void,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let ready = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`ws client ${index}: not subscribed within 15 s`));
    }, 15_000);
    ws.on('open', () => ws.send(JSON.stringify({ event: 'auth', data: { token } })));
    ws.on('message', (raw: Buffer) => {
      const at = performance.now();
      const frame = JSON.parse(raw.toString('utf8')) as { event: string; data: Record<string, unknown> };
      if (frame.event === 'alarm') {
        const key = probeKey(frame.data, target);
        if (key !== null) receipts.push({ client: index, key, receivedAtMs: at });
        else if (frame.data.siteId === target.siteId && frame.data.deviceId === target.deviceId)
          receipts.push({
            client: index,
            key: `other|${String(frame.data.condition)}|${String(frame.data.event)}`,
            receivedAtMs: at,
          });
      } else if (frame.event === 'hello') {
        ws.send(JSON.stringify({ event: 'subscribe', data: { alarms: true } }));
      } else if (frame.event === 'subscribed' && !ready) {
        ready = true;
        clearTimeout(timer);
        resolve(ws);
      } else if (frame.event === 'error' && !ready) {
        clearTimeout(timer);
        reject(new Error(`ws client ${index}: ${JSON.stringify(frame.data)}`));
      }
    });
    ws.on('error', (err) => {
      if (!ready) {
        clearTimeout(timer);
        reject(new Error(`ws client ${index}: ${err.message}`));
      }
    });
    ws.on('close', (code) => {
      if (ready) onClose(code);
    });
  });
}

async function createToken(server: ServerHandle, runId: string, cleanups: Cleanup[]): Promise<string> {
  const pool = new Pool({ connectionString: server.databaseUrl, max: 1, connectionTimeoutMillis: 10_000 });
  pool.on('error', () => undefined);
  const service = new TokenService(new TokenRepository(pool), systemClock);
  try {
    const { info, token } = await service.create({
      role: 'operator',
      scope: '',
      name: `bench alarm latency ${runId}`,
    });
    if (!server.embeddedDatabase)
      cleanups.push(async () => {
        const p = new Pool({ connectionString: server.databaseUrl, max: 1 });
        try {
          await new TokenService(new TokenRepository(p), systemClock).revoke(info.id);
        } finally {
          await p.end();
        }
      });
    return token;
  } finally {
    await pool.end();
  }
}

export async function runAlarmLatency(
  opts: AlarmRunOptions,
  server: ServerHandle,
  plant: BenchPlant,
  load: LoadGenerator,
  runId: string,
  cleanups: Cleanup[],
  log: Log,
  scrapeSample: (name: string) => Promise<number | undefined>,
  cpu: () => number,
): Promise<AlarmPhaseReport> {
  const target = { siteId: plant.probe.siteId, deviceId: plant.probe.deviceId, condition: PROBE_CONDITION };
  const token = await createToken(server, runId, cleanups);

  // Clients.
  const wsUrl = `${server.httpUrl.replace(/^http/, 'ws')}/ws`;
  const receipts: Receipt[] = [];
  const closes: Record<string, number> = {};
  const sockets: WebSocket[] = [];
  cleanups.push(async () => {
    for (const s of sockets) s.terminate();
  });
  const t0 = Date.now();
  for (let i = 0; i < opts.clients; i += CONNECT_BATCH) {
    const batch = Array.from({ length: Math.min(CONNECT_BATCH, opts.clients - i) }, (_, k) =>
      connectClient(
        wsUrl,
        token,
        i + k,
        target,
        receipts,
        (code) => (closes[String(code)] = (closes[String(code)] ?? 0) + 1),
      ),
    );
    sockets.push(...(await Promise.all(batch)));
  }
  log(
    `  ${opts.clients} WebSocket clients authenticated and subscribed to alarms in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  const serverWsClients = (await scrapeSample('hazwatch_ws_clients')) ?? null;

  // The probe: its own raw MQTT connection, one QoS 1 frame per publish, timed just before the socket write.
  const broker = new URL(server.mqttUrl);
  const probe = new RawPublisher({
    host: broker.hostname,
    port: Number(broker.port || 1883),
    clientId: `hzbench-${runId}-probe`,
    ...(process.env.MQTT_USERNAME && !server.embeddedBroker ? { username: process.env.MQTT_USERNAME } : {}),
    ...(process.env.MQTT_PASSWORD && !server.embeddedBroker ? { password: process.env.MQTT_PASSWORD } : {}),
    ...(server.publisherAuth ?? {}),
  });
  await probe.connect();
  cleanups.push(() => probe.close());
  const topic = Buffer.from(telemetryTopic(target.siteId, target.deviceId), 'latin1');
  let probeSeq = 0;
  let lastTs = 0;
  const publishes: ProbePublish[] = [];
  const publishProbe = (kind: 'raised' | 'cleared' | 'normal'): void => {
    const now = Date.now();
    const ts = now > lastTs ? now : lastTs + 1;
    lastTs = ts;
    const conc = kind === 'raised' ? PROBE_RAISE_VALUE : PROBE_CLEAR_VALUE;
    const payload = `{"ts":${ts},"seq":${probeSeq++},"values":{"conc":${conc},"fault":false}}`;
    const buf = Buffer.allocUnsafe(publishFrameSize(topic.length, Buffer.byteLength(payload)));
    const n = writePublishQos1(buf, 0, topic, probe.nextPacketId(), payload);
    const publishedAtMs = performance.now();
    probe.write(buf.subarray(0, n), 1);
    if (kind !== 'normal') publishes.push({ kind, ts, publishedAtMs });
  };
  publishProbe('normal'); // the probe's first reading: below the set points, raises nothing

  // Background load and probing, side by side.
  const loop = monitorEventLoopDelay({ resolution: 5 });
  const cpu0 = cpu();
  const wall0 = performance.now();
  log(
    `  background ${opts.background.toLocaleString('en-US')} msg/s for ${opts.seconds} s; probe every ${opts.intervalMs} ms after ${WARMUP_MS / 1000} s warm-up…`,
  );
  const background = load.run(opts.background, opts.seconds);
  const abuse = opts.abusive
    ? runAbusiveClients(server.httpUrl, token, opts.abusive, performance.now() + opts.seconds * 1000)
    : undefined;
  const probeFailure: { error: Error | null } = { error: null };
  const probing = new Promise<void>((resolve) => {
    const endAt = performance.now() + opts.seconds * 1000 - TAIL_MS;
    let next: 'raised' | 'cleared' = 'raised';
    const tick = (): void => {
      if (probe.failure) {
        probeFailure.error = probe.failure;
        return resolve();
      }
      if (performance.now() >= endAt) return resolve();
      publishProbe(next);
      next = next === 'raised' ? 'cleared' : 'raised';
      setTimeout(tick, opts.intervalMs);
    };
    setTimeout(() => {
      loop.enable();
      tick();
    }, WARMUP_MS);
  });
  await probing;
  // Leave the alarm cleared at the end, so a rerun on the same database starts from normal.
  if (publishes.length > 0 && publishes[publishes.length - 1]!.kind === 'raised' && !probeFailure.error) {
    await new Promise((r) => setTimeout(r, opts.intervalMs));
    publishProbe('cleared');
  }
  const lastPublishAt = performance.now();
  const bg = await background;
  const abusiveResponses = abuse ? await abuse : undefined;
  if (probeFailure.error) throw probeFailure.error;

  // Wait for every (event, client) pair, bounded.
  const expected = new Set(publishes.map(publishKey));
  const received = (): number => receipts.filter((r) => expected.has(r.key)).length;
  const want = publishes.length * opts.clients;
  while (received() < want && performance.now() - lastPublishAt < opts.receiptTimeoutMs)
    await new Promise((r) => setTimeout(r, 50));
  loop.disable();
  const wallS = (performance.now() - wall0) / 1000;
  const serverCpuPct = ((cpu() - cpu0) / wallS) * 100;

  const others = receipts.filter((r) => r.key.startsWith('other|'));
  if (others.length > 0)
    log(
      `  note: ${others.length} other probe alarm frames (${[...new Set(others.map((o) => o.key))].join(', ')})`,
    );
  const result = matchReceipts(
    publishes,
    receipts.filter((r) => !r.key.startsWith('other|')),
    opts.clients,
  );
  for (const s of sockets) s.close(1000, 'bench done');
  return {
    ...result,
    options: opts,
    background: {
      targetRate: bg.targetRate,
      achievedRate: bg.achievedRate,
      sent: bg.sent,
      publishS: bg.publishS,
      ackWaitS: bg.ackWaitS,
      publisherCpuPct: bg.publisherCpuPct,
      blockedFraction: bg.blockedFraction,
    },
    benchLoopDelayP99Ms: loop.percentile(99) / 1e6,
    benchLoopDelayMaxMs: loop.max / 1e6,
    clientCloses: { ...closes },
    ...(abusiveResponses ? { abusiveResponses } : {}),
    serverWsClients,
    serverCpuPct,
  };
}

/** Hostile bodies a token holder might send (docs/threat-model.md, "Request bodies"). */
const HOSTILE_BODIES: readonly string[] = [
  `{"comment":${'['.repeat(50_000)}${']'.repeat(50_000)}}`, // 100 KB nested arrays
  `{"comment":${'['.repeat(6_000)}${']'.repeat(6_000)}}`, // under the size limit, far over the depth limit
  '{"comment":"a\\u0000b"}',
  '{"minutes":99999999999999999999999,"reason":"x"}',
  JSON.stringify({ comment: 'x'.repeat(256 * 1024) }),
];

/** n clients in closed loops posting hostile bodies until `endAt`; resolves with the response counts by status. */
async function runAbusiveClients(
  httpUrl: string,
  token: string,
  n: number,
  endAt: number,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const worker = async (w: number): Promise<void> => {
    for (let i = w; performance.now() < endAt; i++) {
      const body = HOSTILE_BODIES[i % HOSTILE_BODIES.length]!;
      const path =
        i % 2 === 0
          ? '/api/alarms/al-0000000000000000000000/ack'
          : '/api/alarms/al-0000000000000000000000/shelve';
      let key: string;
      try {
        const res = await fetch(`${httpUrl}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body,
        });
        await res.arrayBuffer();
        key = String(res.status);
      } catch (err) {
        key = `error:${(err as Error).message.slice(0, 40)}`;
      }
      counts[key] = (counts[key] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: n }, (_, w) => worker(w)));
  return counts;
}
