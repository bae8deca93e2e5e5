/**
 * Sparkplug B end to end (docs/sparkplug.md): a raw edge node and the Sparkplug simulator → the real server (embedded
 * broker, embedded PostgreSQL) → rows stored and read back through the telemetry API → a gas alarm raised from the
 * excursion, and from the Sparkplug simulator's chlorine-leak scenario; rebirth requested on a seq gap and answered by
 * the simulator; unknown aliases dead-lettered.
 */
import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { JsonLogger } from '../../src/common/logger';
import { loadPlant } from '../../src/config/config.loader';
import { loadSparkplugConfig } from '../../src/config/sparkplug-config';
import {
  DataType,
  decodePayload,
  encodePayload,
  opt,
  type MetricInput,
} from '../../src/ingest/sparkplug/sparkplug-payload';
import { spTopic } from '../../src/ingest/sparkplug/domain/sparkplug-topic';
import { SparkplugSimulator } from '../../simulators/sparkplug.simulator';
import { pollUntil } from '../setup/poll-until';
import { startServer, type ServerProcess } from '../setup/server-process';

type Alarm = { id: string; deviceId?: string; condition: string; active: boolean; value: number };
type Device = { siteId: string; deviceId: string; state: string; values: Record<string, { value: unknown }> };
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

const REPO_CONFIG = join(__dirname, '..', '..', 'config');
const G = 'bohai-chem';
const N = 'cl-plc-gateway';

describe('Sparkplug B ingest end to end', () => {
  let server: ServerProcess;
  let configDir: string;
  let edge: MqttClient;
  let token = '';
  const ncmds: Array<{ topic: string; rebirth: boolean }> = [];

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    // The repository's config with a 1 s rebirth interval (the default 10 s would make this test wait).
    configDir = mkdtempSync(join(tmpdir(), 'hzw-sp-cfg-'));
    for (const f of readdirSync(REPO_CONFIG))
      if (f.endsWith('.yaml')) copyFileSync(join(REPO_CONFIG, f), join(configDir, f));
    const sp = (await import('node:fs'))
      .readFileSync(join(REPO_CONFIG, 'sparkplug.yaml'), 'utf8')
      .replace(/^rebirthIntervalS: \d+$/m, 'rebirthIntervalS: 1');
    writeFileSync(join(configDir, 'sparkplug.yaml'), sp);
    server = await startServer({ env: { CONFIG_DIR: configDir, SIMULATE: 'false' } });
    token = server.tokens().supervisor as string;
    edge = await connectAsync(server.mqttUrl()!, {
      ...server.mqttAuth(),
      clientId: 'e2e-sp-edge',
      clean: true,
    });
    edge.on('message', (topic, payload) => {
      const p = decodePayload(payload);
      ncmds.push({
        topic,
        rebirth: (opt(p, 'metrics') ?? []).some(
          (m) => opt(m, 'name') === 'Node Control/Rebirth' && m.boolean_value === true,
        ),
      });
    });
    // A site's credentials may read its edge node's commands (docs/sparkplug.md, ACL).
    await edge.subscribeAsync(`spBv1.0/${G}/NCMD/${N}`, { qos: 1 });
  });

  afterAll(async () => {
    await edge?.endAsync(true);
    await server?.stop();
  });

  const get = async <T>(path: string): Promise<T> =>
    (await (
      await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as T;
  let seq = 0;
  const pub = (
    type: 'NBIRTH' | 'DBIRTH' | 'DDATA' | 'DDEATH',
    device: string | undefined,
    metrics: MetricInput[],
    ts = Date.now(),
    s = seq++,
  ) =>
    edge.publishAsync(spTopic(G, type, N, device), encodePayload({ timestamp: ts, seq: s & 0xff, metrics }), {
      qos: 1,
    });

  it('stores DDATA by alias in SQL and raises the gas alarm from the excursion', async () => {
    await pub('NBIRTH', undefined, [
      { name: 'bdSeq', datatype: DataType.Int64, value: 0 },
      { name: 'Node Control/Rebirth', datatype: DataType.Boolean, value: false },
    ]);
    await pub('DBIRTH', 'GD-1', [
      { name: 'Gas/Concentration', alias: 11, datatype: DataType.Float, value: 0.2 },
      { name: 'Gas/Fault', alias: 12, datatype: DataType.Boolean, value: false },
      { name: 'Diagnostics/RSSI', alias: 13, datatype: DataType.Int32, value: -61 },
    ]);
    // An excursion to 4.5 mg/m3 (level2 is 2) held for 4 s of device time: past the 2 s on-delay.
    const t0 = Date.now() - 4000;
    const times = [0, 1000, 2000, 3000, 4000].map((d) => t0 + d);
    for (const t of times)
      await pub(
        'DDATA',
        'GD-1',
        [
          { alias: 11, datatype: DataType.Float, value: 4.5, timestamp: t },
          { alias: 12, datatype: DataType.Boolean, value: false, timestamp: t },
        ],
        t,
      );

    const from = new Date(t0 - 1).toISOString();
    const to = new Date(t0 + 5000).toISOString();
    const stored = await pollUntil(
      async () => {
        const body = await get<{ points: Array<{ time: string; value: number }> }>(
          `/api/telemetry?device=bohai-chem/cl-gd-1&channel=conc&from=${from}&to=${to}`,
        );
        const ts = body.points.filter((p) => p.value === 4.5).map((p) => Date.parse(p.time));
        return ts.length >= times.length ? ts : undefined;
      },
      { timeoutMs: 20_000, what: 'the five Sparkplug readings stored' },
    );
    expect([...stored].sort((a, b) => a - b)).toEqual(times);
    const alarm = await pollUntil(
      async () =>
        (await get<Alarm[]>('/api/alarms?site=bohai-chem')).find(
          (a) => a.deviceId === 'cl-gd-1' && a.condition === 'gas_l2' && a.active,
        ),
      { timeoutMs: 20_000, what: 'gas_l2 on cl-gd-1' },
    );
    expect(alarm.value).toBeCloseTo(4.5, 5);
    const devices = await get<Device[]>('/api/devices?site=bohai-chem');
    expect(devices.find((d) => d.deviceId === 'cl-gd-1')?.state).toBe('online');
    expect(ncmds).toEqual([]); // a clean session asks for nothing
  });

  it('asks for a rebirth on a seq gap and dead-letters an alias never announced', async () => {
    seq += 5; // five messages "lost"
    const ts = Date.now();
    const sent = encodePayload({
      timestamp: ts,
      seq: seq & 0xff,
      metrics: [
        { alias: 99, datatype: DataType.Float, value: 1 },
        { alias: 11, datatype: DataType.Float, value: 0.3 },
      ],
    });
    await pub(
      'DDATA',
      'GD-1',
      [
        { alias: 99, datatype: DataType.Float, value: 1 },
        { alias: 11, datatype: DataType.Float, value: 0.3 },
      ],
      ts,
    );
    await pollUntil(
      () => (ncmds.some((c) => c.rebirth && c.topic === `spBv1.0/${G}/NCMD/${N}`) ? true : undefined),
      { timeoutMs: 10_000, what: 'rebirth NCMD' },
    );
    const rejects = await pollUntil(
      async () => {
        const body = await get<{
          entries: Array<{ reason: string; topic: string; detail: string; payloadBase64?: string }>;
        }>('/api/ingest/rejects?limit=100');
        return body.entries.find((e) => e.reason === 'sparkplug_unknown_alias');
      },
      { timeoutMs: 15_000, what: 'the unknown alias dead-lettered' },
    );
    expect(rejects.topic).toBe(`spBv1.0/${G}/DDATA/${N}/GD-1`);
    expect(Buffer.from(rejects.payloadBase64!, 'base64').equals(sent)).toBe(true); // the protobuf bytes as received
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(
      Number(
        /^hazwatch_ingest_sparkplug_rebirth_requests_total\{cause="seq_gap"\} (\d+)/m.exec(metrics)?.[1],
      ),
    ).toBeGreaterThanOrEqual(1);
  });

  it('takes the device offline on DDEATH and every device of the node on NDEATH', async () => {
    await pub('DDEATH', 'GD-1', []);
    await pollUntil(
      async () =>
        (await get<Device[]>('/api/devices?site=bohai-chem')).find((d) => d.deviceId === 'cl-gd-1')?.state ===
        'offline'
          ? true
          : undefined,
      { timeoutMs: 10_000, what: 'cl-gd-1 offline' },
    );
    await edge.publishAsync(
      spTopic(G, 'NDEATH', N),
      encodePayload({ metrics: [{ name: 'bdSeq', datatype: DataType.Int64, value: 0 }] }),
      { qos: 1 },
    );
    await pollUntil(
      async () => {
        const ds = await get<Device[]>('/api/devices?site=bohai-chem');
        return ['cl-gd-2', 'cl-tk-1', 'cl-xv-1'].every(
          (id) => ds.find((d) => d.deviceId === id)?.state === 'offline',
        )
          ? true
          : undefined;
      },
      { timeoutMs: 10_000, what: 'every device of the node offline' },
    );
  });

  it('ingests the Sparkplug simulator, which answers the rebirth requests a seq gap causes', async () => {
    const plant = loadPlant(configDir);
    const sim = new SparkplugSimulator({
      url: server.mqttUrl()!,
      plant,
      sparkplug: loadSparkplugConfig(configDir, plant)!,
      rate: 10,
      seed: 5,
      clientIdPrefix: 'e2e',
      ...server.mqttAuth(),
      logger: quiet,
    });
    await sim.start();
    try {
      const tank = await pollUntil(
        async () => {
          const ds = await get<Device[]>('/api/devices?site=bohai-chem');
          const tk = ds.find((d) => d.deviceId === 'cl-tk-1');
          const xv = ds.find((d) => d.deviceId === 'cl-xv-1');
          return tk?.state === 'online' &&
            xv?.state === 'online' &&
            typeof tk.values.level_pct?.value === 'number' &&
            typeof xv.values.position?.value === 'string'
            ? tk
            : undefined;
        },
        { timeoutMs: 20_000, what: 'simulated tank and valve online with values' },
      );
      expect(Object.keys(tank.values).sort()).toEqual(['level_pct', 'pressure_kpa', 'temp_c']);
      // A stray DDATA with a wrong seq on the simulator's node: the server asks for a rebirth, the simulator answers.
      // Rebirth requests are rate-limited per node (rebirthIntervalS, 1 s here): one requested a moment earlier (e.g.
      // while the simulator's births were being processed) swallows the next, so the stray DDATA is repeated until a
      // request goes out and is answered.
      let lastStray = 0;
      await pollUntil(
        async () => {
          if (sim.rebirthsAnswered >= 1) return true;
          if (Date.now() - lastStray >= 1_500) {
            lastStray = Date.now();
            await edge.publishAsync(
              spTopic(G, 'DDATA', N, 'TK-1'),
              encodePayload({ timestamp: Date.now(), seq: 77, metrics: [] }),
              { qos: 1 },
            );
          }
          return undefined;
        },
        { timeoutMs: 20_000, intervalMs: 100, what: 'the simulator answering a rebirth' },
      );
      const hist = await pollUntil(
        async () => {
          const body = await get<{ points: unknown[] }>(
            '/api/telemetry?device=bohai-chem/cl-tk-1&channel=level_pct',
          );
          return body.points.length >= 3 ? body.points : undefined;
        },
        { timeoutMs: 15_000, what: 'simulated tank levels stored' },
      );
      expect(hist.length).toBeGreaterThanOrEqual(3);
    } finally {
      await sim.stop();
    }
  });

  it("raises the gas alarm from the Sparkplug simulator's chlorine leak, with the excursion stored", async () => {
    const plant = loadPlant(configDir);
    const startedAt = Date.now();
    // The leak from the simulator's first sample, five times faster: GD-2 (second in the cluster) passes level 2
    // (2 mg/m3) about 4 s after the start and the server's 2 s on-delay raises gas_l2 on cl-gd-2.
    const sim = new SparkplugSimulator({
      url: server.mqttUrl()!,
      plant,
      sparkplug: loadSparkplugConfig(configDir, plant)!,
      seed: 9,
      clientIdPrefix: 'e2e-leak',
      scenario: 'chlorine-leak',
      scenarioStartMs: 0,
      scenarioSpeed: 5,
      ...server.mqttAuth(),
      logger: quiet,
    });
    await sim.start();
    try {
      const alarm = await pollUntil(
        async () =>
          (await get<Alarm[]>('/api/alarms?site=bohai-chem')).find(
            (a) => a.deviceId === 'cl-gd-2' && a.condition === 'gas_l2' && a.active,
          ),
        { timeoutMs: 30_000, what: 'gas_l2 on cl-gd-2 from the simulated leak' },
      );
      expect(alarm.value).toBeGreaterThan(2);
      const from = new Date(startedAt - 1000).toISOString();
      // the reading that raised the alarm reaches SQL (the writer commits in batches, possibly after the alarm), and so
      // does the rise before it
      const stored = await pollUntil(
        async () => {
          const to = new Date(Date.now() + 1000).toISOString();
          const body = await get<{ points: Array<{ time: string; value: number }> }>(
            `/api/telemetry?device=bohai-chem/cl-gd-2&channel=conc&from=${from}&to=${to}`,
          );
          return body.points.some((p) => Math.abs(p.value - alarm.value) < 1e-6) ? body.points : undefined;
        },
        { timeoutMs: 15_000, what: 'the reading that raised gas_l2 on cl-gd-2 stored' },
      );
      expect(stored.some((p) => p.value < 2)).toBe(true);
    } finally {
      await sim.stop();
    }
  });
});
