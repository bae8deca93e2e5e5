/**
 * Sparkplug B edge nodes (docs/sparkplug.md): `npm run simulate -- --sparkplug` publishes the devices mapped in
 * `sparkplug.yaml` the way a PLC gateway does. One MQTT connection per edge node, its last will an NDEATH carrying the
 * connection's bdSeq; on connect NBIRTH (bdSeq, `Node Control/Rebirth`, the node's own mapped metrics) then a DBIRTH per
 * device announcing every metric with an alias; then DDATA by alias only, seq 0–255 per node. An NCMD
 * `Node Control/Rebirth` = true is answered with NBIRTH + DBIRTHs again (seq restarts at 0, same bdSeq).
 * Values come from the same device models and scenarios as the JSON simulators.
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { systemClock, type Clock } from '../src/common/clock';
import { JsonLogger, maskUrl } from '../src/common/logger';
import type { ChannelValue, Quality } from '../src/common/types';
import type { PlantModel } from '../src/config/config.loader';
import type { SparkplugConfig, SparkplugDeviceMap, SparkplugNodeMap } from '../src/config/sparkplug-config';
import {
  DataType,
  decodePayload,
  encodePayload,
  opt,
  type MetricInput,
} from '../src/ingest/sparkplug/sparkplug-payload';
import {
  BDSEQ_METRIC,
  REBIRTH_METRIC,
  spTopic,
  ncmdTopic,
} from '../src/ingest/sparkplug/domain/sparkplug-topic';
import { deviceKey } from './device.model';
import { resolvePeriods, type RateOptions } from './publish-rate.util';
import { getScenario } from './scenario.registry';
import type { ScenarioRun } from './scenario.types';
import { SimulatedDevice } from './simulated-device';
import { BrokerUnreachableError, type SimLogger, type SimulatorStats } from './plant.simulator';

export type SparkplugSimulatorOptions = RateOptions & {
  url: string;
  plant: PlantModel;
  sparkplug: SparkplugConfig;
  seed?: number;
  /** DDATA QoS. Sparkplug 3.0 says 0; 1 (default here) lets hazwatch's ack-after-commit make delivery lossless. */
  qos?: 0 | 1;
  scenario?: string;
  scenarioStartMs?: number;
  scenarioSpeed?: number;
  clientIdPrefix?: string;
  username?: string;
  password?: string;
  siteCredentials?: ReadonlyMap<string, { readonly username: string; readonly password: string }>;
  connectTimeoutMs?: number;
  clock?: Clock;
  logger?: SimLogger;
};

/** OPC quality word for a hazwatch quality (the `Quality` property Ignition sends). */
const OPC_QUALITY: Record<Quality, number> = { good: 192, uncertain: 64, bad: 0 };

type SimMetric = { readonly name: string; readonly alias: number; readonly channel: string };
type SimDev = {
  readonly map: SparkplugDeviceMap;
  readonly sim: SimulatedDevice;
  readonly metrics: readonly SimMetric[];
  last: Record<string, ChannelValue> | undefined;
  timer?: NodeJS.Timeout;
  readonly phaseMs: number;
};
type SimNode = {
  readonly map: SparkplugNodeMap;
  readonly devices: SimDev[];
  client: MqttClient | null;
  seq: number;
  bdSeq: number;
  born: boolean;
};

function datatypeOf(v: ChannelValue): number {
  return typeof v === 'number'
    ? DataType.Double
    : typeof v === 'boolean'
      ? DataType.Boolean
      : DataType.String;
}

export class SparkplugSimulator {
  private readonly nodes: SimNode[] = [];
  private readonly clock: Clock;
  private readonly log: SimLogger;
  private readonly qos: 0 | 1;
  private readonly scenario?: ScenarioRun;
  private running = false;
  private startWall = 0;
  private sent = 0;
  private publishErrors = 0;
  rebirthsAnswered = 0;

  constructor(private readonly opts: SparkplugSimulatorOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? new JsonLogger('simulator.sparkplug');
    this.qos = opts.qos ?? 1;
    const seed = opts.seed ?? 42;
    const maps = [...opts.sparkplug.nodes.values()].flatMap((n) => [...n.devices.values()]);
    const devices = maps.map((m) => m.device);
    if (devices.length === 0) throw new RangeError('sparkplug.yaml maps no devices');
    const periods = resolvePeriods(devices, opts);
    if (opts.scenario !== undefined)
      this.scenario = getScenario(opts.scenario).prepare(devices, {
        ...(opts.scenarioStartMs !== undefined ? { startMs: opts.scenarioStartMs } : {}),
        ...(opts.scenarioSpeed !== undefined ? { speed: opts.scenarioSpeed } : {}),
      });
    for (const map of opts.sparkplug.nodes.values()) {
      let alias = 1;
      const devs: SimDev[] = [...map.devices.values()].map((dm) => {
        const periodMs = periods.get(deviceKey(dm.device))!;
        const metrics = [...dm.metrics].map(([name, m]) => ({ name, alias: alias++, channel: m.channel }));
        return {
          map: dm,
          sim: new SimulatedDevice(dm.device, periodMs, seed, this.scenario),
          metrics,
          last: undefined,
          phaseMs: (alias * 97) % periodMs,
        };
      });
      this.nodes.push({ map, devices: devs, client: null, seq: 0, bdSeq: 0, born: false });
    }
  }

  stats(): SimulatorStats & { rebirthsAnswered: number } {
    const devices = this.nodes.reduce((n, x) => n + x.devices.length, 0);
    return {
      devices,
      connections: this.nodes.filter((n) => n.client?.connected).length,
      sent: this.sent,
      publishErrors: this.publishErrors,
      offline: 0,
      rebirthsAnswered: this.rebirthsAnswered,
    };
  }

  async start(): Promise<void> {
    const timeoutMs = this.opts.connectTimeoutMs ?? 10_000;
    this.startWall = this.clock.now();
    this.running = true;
    let lastError = '';
    const ups = this.nodes.map(
      (n) =>
        new Promise<void>((resolve) => {
          const c = this.open(n);
          c.once('connect', () => resolve());
          c.on('error', (e) => (lastError = e.message));
        }),
    );
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    if ((await Promise.race([Promise.all(ups), timer])) === 'timeout') {
      await this.stop();
      throw new BrokerUnreachableError(
        `sparkplug simulator: cannot connect to ${maskUrl(this.opts.url)} within ${timeoutMs} ms${lastError ? `: ${lastError}` : ''}`,
      );
    }
    for (const n of this.nodes)
      for (const d of n.devices) {
        const tick = (): void => this.sample(n, d);
        setTimeout(() => {
          if (!this.running) return;
          tick();
          d.timer = setInterval(tick, d.sim.periodMs);
        }, d.phaseMs);
      }
    this.log.info('sparkplug simulator started', {
      url: maskUrl(this.opts.url),
      nodes: this.nodes.length,
      devices: this.stats().devices,
      ...(this.opts.scenario ? { scenario: this.opts.scenario } : {}),
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const n of this.nodes) for (const d of n.devices) if (d.timer) clearInterval(d.timer);
    await Promise.all(
      this.nodes.map(async (n) => {
        const c = n.client;
        if (!c) return;
        // A clean stop still says NDEATH (a DISCONNECT suppresses the will).
        if (c.connected)
          await c
            .publishAsync(spTopic(n.map.group, 'NDEATH', n.map.node), this.ndeath(n.bdSeq), { qos: 1 })
            .catch(() => undefined);
        await c.endAsync(false).catch(() => c.endAsync(true));
      }),
    );
    this.log.info('sparkplug simulator stopped', {
      sent: this.sent,
      rebirthsAnswered: this.rebirthsAnswered,
    });
  }

  private ndeath(bdSeq: number): Buffer {
    return encodePayload({
      timestamp: this.clock.now(),
      metrics: [{ name: BDSEQ_METRIC, datatype: DataType.Int64, value: bdSeq }],
    });
  }

  private open(n: SimNode): MqttClient {
    const prefix = this.opts.clientIdPrefix ?? 'hzsim';
    const creds = this.opts.siteCredentials?.get(n.map.siteId);
    // The will of this connection carries the bdSeq its NBIRTH will announce.
    const willBdSeq = n.bdSeq;
    const options: IClientOptions = {
      clientId: `${prefix}-sp-${n.map.group}-${n.map.node}`.slice(0, 128),
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      will: {
        topic: spTopic(n.map.group, 'NDEATH', n.map.node),
        payload: this.ndeath(willBdSeq),
        qos: 1,
        retain: false,
      },
      ...(creds
        ? { username: creds.username, password: creds.password }
        : {
            ...(this.opts.username !== undefined ? { username: this.opts.username } : {}),
            ...(this.opts.password !== undefined ? { password: this.opts.password } : {}),
          }),
    };
    const c = connect(this.opts.url, options);
    n.client = c;
    let connectBdSeq = willBdSeq;
    c.on('connect', () => {
      // Births first, then the next connection's will gets the next bdSeq.
      n.bdSeq = connectBdSeq;
      c.subscribe([ncmdTopic(n.map.group, n.map.node)], { qos: 1 });
      this.birth(n);
      connectBdSeq = (connectBdSeq + 1) & 0xff;
      if (c.options.will) c.options.will.payload = this.ndeath(connectBdSeq);
    });
    c.on('message', (_topic, payload) => this.command(n, payload));
    c.on('error', (e) =>
      this.log.warn('sparkplug simulator MQTT error', {
        node: `${n.map.group}/${n.map.node}`,
        error: e.message,
      }),
    );
    return c;
  }

  private command(n: SimNode, payload: Buffer): void {
    try {
      const p = decodePayload(payload);
      const rebirth = (opt(p, 'metrics') ?? []).some(
        (m) => opt(m, 'name') === REBIRTH_METRIC && m.value === 'boolean_value' && m.boolean_value === true,
      );
      if (!rebirth) return;
      this.rebirthsAnswered++;
      this.log.info('sparkplug rebirth requested', { node: `${n.map.group}/${n.map.node}` });
      this.birth(n);
    } catch (err) {
      this.log.warn('sparkplug simulator: undecodable NCMD', { error: (err as Error).message });
    }
  }

  private nextSeq(n: SimNode): number {
    const s = n.seq;
    n.seq = (n.seq + 1) & 0xff;
    return s;
  }

  private metricsOf(d: SimDev, withNames: boolean, ts: number, quality: Quality): MetricInput[] {
    const out: MetricInput[] = [];
    for (const m of d.metrics) {
      const v = d.last?.[m.channel];
      if (v === undefined) continue;
      out.push({
        ...(withNames ? { name: m.name } : {}),
        alias: m.alias,
        timestamp: ts,
        datatype: datatypeOf(v),
        value: v,
        quality: OPC_QUALITY[quality],
      });
    }
    return out;
  }

  private birth(n: SimNode): void {
    const c = n.client;
    if (!c) return;
    n.seq = 0;
    const now = this.clock.now();
    for (const d of n.devices) if (!d.last) this.prime(d, now);
    const own = n.devices.find((d) => d.map.spDevice === '');
    const nmetrics: MetricInput[] = [
      { name: BDSEQ_METRIC, datatype: DataType.Int64, value: n.bdSeq, timestamp: now },
      { name: REBIRTH_METRIC, datatype: DataType.Boolean, value: false, timestamp: now },
      ...(own ? this.metricsOf(own, true, now, 'good') : []),
    ];
    this.publish(
      c,
      spTopic(n.map.group, 'NBIRTH', n.map.node),
      encodePayload({ timestamp: now, seq: this.nextSeq(n), metrics: nmetrics }),
      0,
    );
    for (const d of n.devices) {
      if (d.map.spDevice === '') continue;
      this.publish(
        c,
        spTopic(n.map.group, 'DBIRTH', n.map.node, d.map.spDevice),
        encodePayload({
          timestamp: now,
          seq: this.nextSeq(n),
          metrics: this.metricsOf(d, true, now, 'good'),
        }),
        0,
      );
    }
    n.born = true;
  }

  /** A first sample so the births carry every metric's current value. */
  private prime(d: SimDev, wall: number): void {
    const r = d.sim.tick(wall - this.startWall, wall);
    if (r.action === 'publish') d.last = { ...r.payload.values };
  }

  private sample(n: SimNode, d: SimDev): void {
    if (!this.running || !n.born || !n.client?.connected) return;
    const wall = this.clock.now();
    const r = d.sim.tick(wall - this.startWall, wall);
    if (r.action !== 'publish') return;
    d.last = { ...d.last, ...r.payload.values };
    const metrics = this.metricsOf(d, false, wall, r.payload.quality ?? 'good').filter((m) => {
      const name = d.metrics.find((x) => x.alias === m.alias)!.channel;
      return r.payload.values[name] !== undefined;
    });
    if (metrics.length === 0) return;
    const type = d.map.spDevice === '' ? 'NDATA' : 'DDATA';
    this.publish(
      n.client,
      spTopic(n.map.group, type, n.map.node, d.map.spDevice || undefined),
      encodePayload({ timestamp: wall, seq: this.nextSeq(n), metrics }),
      this.qos,
    );
  }

  private publish(c: MqttClient, topic: string, payload: Buffer, qos: 0 | 1): void {
    c.publish(topic, payload, { qos }, (err) => {
      if (err) {
        this.publishErrors++;
        if (this.publishErrors <= 5)
          this.log.warn('sparkplug simulator publish failed', { topic, error: err.message });
      }
    });
    this.sent++;
  }
}

export async function startSparkplugSimulator(opts: SparkplugSimulatorOptions): Promise<SparkplugSimulator> {
  const sim = new SparkplugSimulator(opts);
  await sim.start();
  return sim;
}
