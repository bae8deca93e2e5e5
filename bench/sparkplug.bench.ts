/**
 * `npm run bench -- --sparkplug [--rate n] [--seconds s] [--devices n] [--sites n]`: the Sparkplug B path
 * (docs/sparkplug.md). 1) In-process cost per message: JSON decodeTelemetry (the hot path Sparkplug must leave alone)
 * next to Sparkplug protobuf decode and the whole SparkplugProcessor (decode, aliases, seq, validation, clock tracker).
 * 2) End to end: the built server (embedded broker and PostgreSQL), one edge node per site publishing NBIRTH/DBIRTH then
 * DDATA by alias at QoS 1 (PUBACK after commit, docs/adr/0008-ack-after-commit.md); counts the rows in SQL.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connectAsync, type MqttClient } from 'mqtt';
import { Client } from 'pg';
import { stringify } from 'yaml';
import { deviceChannels } from '../src/config/device-channels';
import { DeviceTracker } from '../src/ingest/domain/device-tracker';
import { parseSparkplugConfig } from '../src/config/sparkplug-config';
import { DataType, decodePayload, encodePayload } from '../src/ingest/sparkplug/sparkplug-payload';
import { SparkplugProcessor } from '../src/ingest/sparkplug/sparkplug-processor';
import { parseSparkplugTopic, spTopic } from '../src/ingest/sparkplug/domain/sparkplug-topic';
import type { DeviceInfo } from '../src/config/config.loader';
import { benchPlantYaml, benchRulesYaml, generateBenchPlant, makeRunId } from './bench-plant';
import { measureDecodeCost } from './decode.microbench';
import { cpuCount } from './proc.stats';
import { startServer } from './server.process';

const out = (s: string): void => void process.stdout.write(`${s}\n`);
const n0 = (n: number): string => Math.round(n).toLocaleString('en-US');
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

export type SparkplugCost = { processorUs: number; protobufUs: number; messages: number };

/** µs per DDATA of a gas detector (conc + fault by alias) through the SparkplugProcessor, and protobuf decode alone. */
export function measureSparkplugCost(messages = 200_000): SparkplugCost {
  const device = {
    id: 'gd-0',
    kind: 'gas_detector',
    siteId: 's',
    channels: deviceChannels({ kind: 'gas_detector', ranges: { conc: [0, 100] } }),
  } as unknown as DeviceInfo;
  const cfg = parseSparkplugConfig(
    {
      nodes: [
        {
          group: 'G',
          node: 'n',
          site: 's',
          devices: [{ device: 'd', as: 'gd-0', metrics: { Conc: 'conc', Fault: 'fault' } }],
        },
      ],
    },
    { siteById: new Map([['s', {}]]) as never, deviceByKey: new Map([['s/gd-0', device]]) },
    'bench',
  );
  const tracker = new DeviceTracker('s', 'gd-0');
  const sp = new SparkplugProcessor(cfg, { maxSkewMs: 300_000, futureToleranceMs: 5000 }, () => tracker);
  const now = Date.now();
  const nb = parseSparkplugTopic('spBv1.0/G/NBIRTH/n')!;
  const db = parseSparkplugTopic('spBv1.0/G/DBIRTH/n/d')!;
  const dd = parseSparkplugTopic('spBv1.0/G/DDATA/n/d')!;
  if (nb.kind === 'state' || db.kind === 'state' || dd.kind === 'state') throw new Error('topic');
  sp.handle(
    nb,
    encodePayload({
      timestamp: now,
      seq: 0,
      metrics: [{ name: 'bdSeq', datatype: DataType.Int64, value: 0 }],
    }),
    now,
  );
  sp.handle(
    db,
    encodePayload({
      timestamp: now,
      seq: 1,
      metrics: [
        { name: 'Conc', alias: 1, datatype: DataType.Float, value: 0 },
        { name: 'Fault', alias: 2, datatype: DataType.Boolean, value: false },
      ],
    }),
    now,
  );
  const payloads = Array.from({ length: 256 }, (_, i) =>
    encodePayload({
      timestamp: now + i,
      seq: (i + 2) & 0xff,
      metrics: [
        { alias: 1, datatype: DataType.Float, value: (i % 97) / 10, timestamp: now + i },
        { alias: 2, datatype: DataType.Boolean, value: false, timestamp: now + i },
      ],
    }),
  );
  let readings = 0;
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) readings += sp.handle(dd, payloads[i & 255]!, now + 2000).readings.length;
  };
  run(Math.min(50_000, messages));
  readings = 0;
  let t0 = performance.now();
  run(messages);
  const processorUs = ((performance.now() - t0) * 1000) / messages;
  if (readings !== 2 * messages)
    throw new Error(`sparkplug micro-benchmark: expected ${2 * messages} readings, got ${readings}`);
  let metrics = 0;
  for (let i = 0; i < 50_000; i++) metrics += decodePayload(payloads[i & 255]!).metrics!.length;
  t0 = performance.now();
  for (let i = 0; i < messages; i++) metrics += decodePayload(payloads[i & 255]!).metrics!.length;
  const protobufUs = ((performance.now() - t0) * 1000) / messages;
  if (metrics === 0) throw new Error('no metrics decoded');
  return { processorUs, protobufUs, messages };
}

function arg(argv: readonly string[], flag: string, dflt: number): number {
  const i = argv.indexOf(flag);
  if (i < 0) return dflt;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag} must be a positive number`);
  return v;
}

export async function runSparkplugBench(argv: readonly string[]): Promise<number> {
  const rate = arg(argv, '--rate', 1000);
  const seconds = arg(argv, '--seconds', 10);
  const deviceCount = arg(argv, '--devices', 200);
  const siteCount = arg(argv, '--sites', 2);
  out(
    `hazwatch Sparkplug B bench — ${cpuCount()} CPU cores, load average ${load()} (shared machine: figures vary with it)`,
  );
  const json = measureDecodeCost(200_000);
  out(
    `JSON decodeTelemetry:        ${json.usPerMessage.toFixed(2)} µs/message (gas detector, ${n0(json.messages)} messages)`,
  );
  const spc = measureSparkplugCost(200_000);
  out(`Sparkplug protobuf decode:   ${spc.protobufUs.toFixed(2)} µs/message (DDATA, 2 metrics by alias)`);
  out(
    `Sparkplug processor (all):   ${spc.processorUs.toFixed(2)} µs/message (decode + aliases + seq + validation + clock tracker)`,
  );

  const runId = makeRunId(Date.now(), Math.random);
  const work = mkdtempSync(join(tmpdir(), `hazwatch-spbench-${runId}-`));
  chmodSync(work, 0o755);
  const configDir = join(work, 'config');
  const dataDir = join(work, 'data');
  mkdirSync(configDir, { recursive: true });
  mkdirSync(dataDir, { recursive: true });
  chmodSync(dataDir, 0o755);
  const plant = generateBenchPlant(runId, deviceCount, siteCount);
  writeFileSync(join(configDir, 'plant.yaml'), benchPlantYaml(plant));
  writeFileSync(join(configDir, 'rules.yaml'), benchRulesYaml(plant));
  const nodes = plant.siteIds.map((siteId) => ({
    group: 'bench',
    node: `${siteId}-gw`,
    site: siteId,
    devices: plant.devices
      .filter((d) => d.siteId === siteId)
      .map((d) => ({ device: d.deviceId, as: d.deviceId, metrics: { Conc: 'conc', Fault: 'fault' } })),
  }));
  writeFileSync(join(configDir, 'sparkplug.yaml'), stringify({ nodes }));
  const server = await startServer({
    entry: resolve('dist/src/main.js'),
    configDir,
    dataDir,
    mqttClientId: `hazwatch-spbench-${runId}`,
    startTimeoutMs: 120_000,
  });
  const clients: MqttClient[] = [];
  const db = new Client({ connectionString: server.databaseUrl });
  try {
    await db.connect();
    const broker = server.mqttUrl;
    let sent = 0;
    let acked = 0;
    let errors = 0;
    const seqs: number[] = [];
    for (const [k, n] of nodes.entries()) {
      const c = await connectAsync(broker, {
        ...server.publisherAuth,
        clientId: `spbench-${runId}-${k}`,
        clean: true,
      });
      clients.push(c);
      seqs.push(0);
      const now = Date.now();
      await c.publishAsync(
        spTopic('bench', 'NBIRTH', n.node),
        encodePayload({
          timestamp: now,
          seq: seqs[k]!++,
          metrics: [{ name: 'bdSeq', datatype: DataType.Int64, value: 0 }],
        }),
        { qos: 1 },
      );
      for (const [j, d] of n.devices.entries())
        await c.publishAsync(
          spTopic('bench', 'DBIRTH', n.node, d.device),
          encodePayload({
            timestamp: now,
            seq: seqs[k]!++ & 0xff,
            metrics: [
              { name: 'Conc', alias: 2 * j + 1, datatype: DataType.Float, value: 1 },
              { name: 'Fault', alias: 2 * j + 2, datatype: DataType.Boolean, value: false },
            ],
          }),
          { qos: 1 },
        );
    }
    const birthRows = 2 * deviceCount;
    // DDATA round robin over the devices at `rate` msg/s; each device's times strictly rise (no idempotent merging).
    const lastTs = new Map<string, number>();
    const total = Math.round(rate * seconds);
    const start = performance.now();
    let i = 0;
    await new Promise<void>((done) => {
      const tick = (): void => {
        const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
        for (; i < due; i++) {
          const d = plant.devices[i % plant.devices.length]!;
          const k = plant.siteIds.indexOf(d.siteId);
          const n = nodes[k]!;
          const j = n.devices.findIndex((x) => x.device === d.deviceId);
          const key = `${d.siteId}/${d.deviceId}`;
          const ts = Math.max(Date.now(), (lastTs.get(key) ?? 0) + 1);
          lastTs.set(key, ts);
          const payload = encodePayload({
            timestamp: ts,
            seq: seqs[k]! & 0xff,
            metrics: [
              { alias: 2 * j + 1, datatype: DataType.Float, value: (i % 300) / 10, timestamp: ts },
              { alias: 2 * j + 2, datatype: DataType.Boolean, value: false, timestamp: ts },
            ],
          });
          seqs[k]!++;
          sent++;
          clients[k]!.publish(spTopic('bench', 'DDATA', n.node, d.deviceId), payload, { qos: 1 }, (err) =>
            err ? errors++ : acked++,
          );
        }
        if (i >= total) return done();
        setTimeout(tick, 5);
      };
      tick();
    });
    const pubS = (performance.now() - start) / 1000;
    const expected = birthRows + 2 * total;
    const countRows = async (): Promise<number> =>
      Number(
        (
          (
            await db.query('SELECT count(*)::bigint AS n FROM telemetry WHERE site_id = ANY($1::text[])', [
              plant.siteIds,
            ])
          ).rows[0] as { n: string }
        ).n,
      );
    let rows = 0;
    const deadline = performance.now() + 120_000;
    while (performance.now() < deadline) {
      rows = await countRows();
      if (rows >= expected && acked + errors >= sent) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const allS = (performance.now() - start) / 1000;
    const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
    const gaps = Number(/^hazwatch_ingest_sparkplug_seq_gaps_total (\d+)/m.exec(metrics)?.[1] ?? 0);
    const rejected = Number(
      /^hazwatch_ingest_messages_total\{result="rejected"\} (\d+)/m.exec(metrics)?.[1] ?? 0,
    );
    out(
      `end to end: ${n0(sent)} DDATA (${deviceCount} gas detectors on ${siteCount} edge nodes, QoS 1) offered at ${n0(rate)} msg/s over ${pubS.toFixed(1)} s`,
    );
    out(
      `  PUBACKed ${n0(acked)} (errors ${errors}); rows in SQL ${n0(rows)} of ${n0(expected)} expected (${n0(birthRows)} from DBIRTH); all stored ${allS.toFixed(1)} s after the first DDATA → ${n0(sent / allS)} msg/s, ${n0((rows - birthRows) / allS)} rows/s`,
    );
    out(`  seq gaps ${gaps}, rejected messages ${rejected}; load average now ${load()}`);
    return rows === expected && errors === 0 && gaps === 0 && rejected === 0 ? 0 : 1;
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await db.end().catch(() => undefined);
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
