/**
 * PlantSimulator: publishes the plant model's devices over MQTT (docs/contract.md §2), one connection per device
 * (each with its own last will) or one shared connection for bench-scale device counts. No Nest: the CLI
 * (simulators/main.ts) and the server (SIMULATE=true) both start it through `startSimulators`.
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { systemClock, type Clock } from '../src/common/clock';
import { JsonLogger, maskUrl } from '../src/common/logger';
import type { PlantModel } from '../src/config/config.loader';
import { stateTopic, telemetryTopic } from '../src/ingest/domain/telemetry-contract';
import { deviceKey, type SimDevice } from './device.model';
import { selectDevices } from './device-selection.util';
import { MinHeap } from './min-heap.util';
import { hashSeed } from './prng.util';
import { resolvePeriods, type RateOptions } from './publish-rate.util';
import { getScenario } from './scenario.registry';
import { prepareDrill } from './scenarios/drill.scenario';
import type { DrillSchedule } from '../src/common/domain/drill-schedule';
import { ScenarioError, type ScenarioRun } from './scenario.types';
import { SimulatedDevice } from './simulated-device';

export type ConnectionMode = 'per-device' | 'shared';
export type SimLogger = Pick<JsonLogger, 'info' | 'warn' | 'error'>;

export type SimulatorOptions = RateOptions & {
  /** Broker URL, e.g. mqtt://127.0.0.1:1883. */
  url: string;
  plant: PlantModel;
  /** PRNG seed: the same seed gives the same values. Default 42. */
  seed?: number;
  /** A count (first N devices in plant order) or a list of `site/device` keys or device ids. Default: all. */
  devices?: number | readonly string[];
  /** A scenario name (see SCENARIO_NAMES); an unknown one is an error listing the valid names. */
  scenario?: string;
  /** When the scenario begins, ms after start. Default SCENARIO_START_MS (10 s). */
  scenarioStartMs?: number;
  /** The scenario's own process runs this many times faster (see ScenarioOptions.speed). Default 1. */
  scenarioSpeed?: number;
  /** The demo drill (docs/adr/0024-demo-drill.md): its phases at their wall-clock times; ignored with `scenario`. */
  drill?: DrillSchedule;
  /** Default 'per-device'. */
  connection?: ConnectionMode;
  /** Telemetry QoS. Default 1. */
  qos?: 0 | 1;
  /** MQTT client ids are `${prefix}-${site}-${device}` (or `${prefix}-shared`). Default 'hzsim'. */
  clientIdPrefix?: string;
  username?: string;
  password?: string;
  /**
   * Per-site MQTT credentials (a site may publish only under its own topics; docs/adr/0009-mqtt-authentication.md).
   * A device's connection uses its site's entry (else username/password); shared mode opens one connection per site.
   */
  siteCredentials?: ReadonlyMap<string, { readonly username: string; readonly password: string }>;
  /** start() fails when not every connection is up within this time. Default 10 000 ms. */
  connectTimeoutMs?: number;
  clock?: Clock;
  logger?: SimLogger;
};

/** The broker could not be reached in time (start-up). */
export class BrokerUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BrokerUnreachableError';
  }
}

export type SimulatorStats = {
  devices: number;
  connections: number;
  sent: number;
  publishErrors: number;
  offline: number;
};

type Link = {
  id: string;
  client: MqttClient | null;
  devices: DeviceSlot[];
  credentials?: { readonly username: string; readonly password: string } | undefined;
};
type DeviceSlot = {
  sim: SimulatedDevice;
  link: Link;
  offline: boolean;
  k: number;
  due: number;
  phaseMs: number;
};

const STOP_TIMEOUT_MS = 5_000;
/** Samples handled per timer callback before yielding to I/O. */
const MAX_BURST = 5_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export class PlantSimulator {
  readonly devices: readonly SimDevice[];
  readonly scenario?: ScenarioRun;
  private readonly slots: DeviceSlot[];
  private readonly links: Link[];
  private readonly heap = new MinHeap<DeviceSlot>((s) => s.due);
  private readonly clock: Clock;
  private readonly log: SimLogger;
  private readonly qos: 0 | 1;
  private readonly mode: ConnectionMode;
  private startWall = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopping: Promise<void> | null = null;
  private sent = 0;
  private publishErrors = 0;
  private readonly warnedLinks = new Set<string>();

  /** The demo drill, or none (with a warning) when the simulated devices cannot play it. */
  private drill(schedule: DrillSchedule): ScenarioRun | undefined {
    try {
      const run = prepareDrill(this.devices, schedule, this.clock.now());
      this.log.info('demo drill scheduled', {
        firstAt: new Date(schedule.anchorMs + schedule.firstMs).toISOString(),
        everyS: schedule.everyMs / 1000,
        phases: schedule.phases.map((p) => p.scenario),
        targets: run.targets,
      });
      return run;
    } catch (err) {
      if (!(err instanceof ScenarioError)) throw err;
      this.log.warn('demo drill off: the simulated plant cannot play it', { reason: err.message });
      return undefined;
    }
  }

  /** Validates options, selects devices and builds the models; connects nothing yet. */
  constructor(private readonly opts: SimulatorOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? new JsonLogger('simulator');
    this.qos = opts.qos ?? 1;
    this.mode = opts.connection ?? 'per-device';
    const seed = opts.seed ?? 42;
    this.devices = selectDevices(opts.plant, opts.devices);
    if (this.devices.length === 0) throw new RangeError('no devices to simulate');
    const periods = resolvePeriods(this.devices, opts);
    this.scenario =
      opts.scenario !== undefined
        ? getScenario(opts.scenario).prepare(this.devices, {
            ...(opts.scenarioStartMs !== undefined ? { startMs: opts.scenarioStartMs } : {}),
            ...(opts.scenarioSpeed !== undefined ? { speed: opts.scenarioSpeed } : {}),
          })
        : opts.drill
          ? this.drill(opts.drill)
          : undefined;
    const prefix = opts.clientIdPrefix ?? 'hzsim';
    const creds = opts.siteCredentials;
    // Shared mode: one connection for all devices, or one per site when each site has its own credentials.
    const sharedBySite = new Map<string, Link>();
    const sharedLink = (siteId: string): Link => {
      const k = creds ? siteId : '';
      let l = sharedBySite.get(k);
      if (!l) {
        l = {
          id: creds ? `${prefix}-shared-${siteId}` : `${prefix}-shared`,
          client: null,
          devices: [],
          credentials: creds?.get(siteId),
        };
        sharedBySite.set(k, l);
        this.links.push(l);
      }
      return l;
    };
    this.links = [];
    this.slots = this.devices.map((d) => {
      const key = deviceKey(d);
      const periodMs = periods.get(key)!;
      const link =
        this.mode === 'shared'
          ? sharedLink(d.siteId)
          : {
              id: `${prefix}-${d.siteId}-${d.id}`,
              client: null,
              devices: [],
              credentials: creds?.get(d.siteId),
            };
      if (this.mode !== 'shared') this.links.push(link);
      // A fixed phase per device (from its key) spreads publications over the period.
      const phaseMs = (hashSeed(seed, `phase:${key}`) / 2 ** 32) * periodMs;
      const slot: DeviceSlot = {
        sim: new SimulatedDevice(d, periodMs, seed, this.scenario),
        link,
        offline: false,
        k: 0,
        due: 0,
        phaseMs,
      };
      link.devices.push(slot);
      return slot;
    });
  }

  stats(): SimulatorStats {
    return {
      devices: this.slots.length,
      connections: this.links.filter((l) => l.client?.connected).length,
      sent: this.sent,
      publishErrors: this.publishErrors,
      offline: this.slots.filter((s) => s.offline).length,
    };
  }

  /** Connects every link (announcing `online`) and starts publishing. Rejects when the broker cannot be reached in time. */
  async start(): Promise<void> {
    if (this.running) return;
    // Generous: every device connects at once, and on a loaded or small machine the broker's password checks queue up.
    const timeoutMs = this.opts.connectTimeoutMs ?? 30_000;
    let lastError = '';
    const ups = this.links.map(
      (link) =>
        new Promise<void>((resolve) => {
          const client = this.openLink(link);
          client.once('connect', () => resolve());
          client.on('error', (err) => (lastError = err.message));
        }),
    );
    try {
      await withTimeout(Promise.all(ups), timeoutMs, 'connect');
    } catch {
      const up = this.links.filter((l) => l.client?.connected).length;
      // No reconnect may outlive a failed start (a late reconnect after a test's teardown crashed jest).
      for (const l of this.links) if (l.client) l.client.options.reconnectPeriod = 0;
      await Promise.all(this.links.map((l) => (l.client ? l.client.endAsync(true) : Promise.resolve())));
      throw new BrokerUnreachableError(
        `simulators: cannot connect to the MQTT broker at ${maskUrl(this.opts.url)} within ${timeoutMs} ms (${up}/${this.links.length} connections up)${lastError ? `: ${lastError}` : ''}`,
      );
    }
    this.running = true;
    this.startWall = this.clock.now();
    for (const s of this.slots) {
      s.k = 0;
      s.due = this.startWall + s.phaseMs;
      this.heap.push(s);
    }
    this.log.info('simulators started', {
      url: maskUrl(this.opts.url),
      devices: this.slots.length,
      connections: this.links.length,
      mode: this.mode,
      messagesPerSecond: Math.round(this.slots.reduce((sum, s) => sum + 1000 / s.sim.periodMs, 0) * 10) / 10,
      ...(this.opts.scenario ? { scenario: this.opts.scenario, targets: this.scenario?.targets } : {}),
    });
    this.schedule(0);
  }

  /** Stops publishing, announces `offline` (retained) for every device and disconnects cleanly. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all(
      this.links.map(async (link) => {
        const client = link.client;
        if (!client) return;
        try {
          await withTimeout(
            Promise.all(
              link.devices
                .filter((s) => !s.offline)
                .map((s) =>
                  client.publishAsync(stateTopic(s.sim.device.siteId, s.sim.device.id), 'offline', {
                    qos: 1,
                    retain: true,
                  }),
                ),
            ),
            STOP_TIMEOUT_MS,
            'offline announcement',
          );
          await withTimeout(client.endAsync(false), STOP_TIMEOUT_MS, 'disconnect');
        } catch (err) {
          this.log.warn('simulator link did not close cleanly; forcing it', {
            link: link.id,
            error: (err as Error).message,
          });
          await client.endAsync(true);
        }
      }),
    );
    this.log.info('simulators stopped', { sent: this.sent, publishErrors: this.publishErrors });
  }

  private openLink(link: Link): MqttClient {
    const options: IClientOptions = {
      clientId: link.id,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...(link.credentials
        ? { username: link.credentials.username, password: link.credentials.password }
        : {
            ...(this.opts.username !== undefined ? { username: this.opts.username } : {}),
            ...(this.opts.password !== undefined ? { password: this.opts.password } : {}),
          }),
    };
    // A device's last will: the broker marks it offline when its connection dies. A shared link has one
    // will for many devices, so it has none; its devices are marked offline explicitly on stop.
    if (this.mode === 'per-device' && link.devices.length <= 1) {
      const d = link.devices[0]!.sim.device;
      options.will = {
        topic: stateTopic(d.siteId, d.id),
        payload: Buffer.from('offline'),
        qos: 1,
        retain: true,
      };
    }
    const client = connect(this.opts.url, options);
    link.client = client;
    client.on('connect', () => {
      this.warnedLinks.delete(link.id);
      for (const s of link.devices) if (!s.offline) this.announce(link, s, 'online');
    });
    client.on('error', (err) => {
      if (this.warnedLinks.has(link.id)) return;
      this.warnedLinks.add(link.id);
      this.log.warn('simulator MQTT error', { link: link.id, error: err.message });
    });
    return client;
  }

  private announce(link: Link, slot: DeviceSlot, state: 'online' | 'offline'): void {
    const d = slot.sim.device;
    link.client?.publish(stateTopic(d.siteId, d.id), state, { qos: 1, retain: true }, (err) => {
      if (err) this.countError(err);
    });
  }

  private countError(err: Error): void {
    this.publishErrors++;
    if (this.publishErrors <= 5 || this.publishErrors % 1000 === 0)
      this.log.warn('simulator publish failed', { error: err.message, publishErrors: this.publishErrors });
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => this.pump(), Math.max(0, delayMs));
  }

  private pump(): void {
    this.timer = undefined;
    if (!this.running) return;
    const now = this.clock.now();
    let n = 0;
    for (let s = this.heap.peek(); s && s.due <= now && n < MAX_BURST; s = this.heap.peek(), n++) {
      this.heap.pop();
      this.fire(s, now);
      s.k++;
      s.due = this.startWall + s.phaseMs + s.k * s.sim.periodMs;
      this.heap.push(s);
    }
    const next = this.heap.peek();
    this.schedule(n >= MAX_BURST || !next ? 0 : next.due - this.clock.now());
  }

  private fire(slot: DeviceSlot, now: number): void {
    const result = slot.sim.tick(slot.due - this.startWall, now);
    if (result.action === 'offline') {
      if (!slot.offline) this.goOffline(slot);
      return;
    }
    if (slot.offline) this.comeBack(slot);
    if (result.action === 'silent') return;
    const d = slot.sim.device;
    const client = slot.link.client;
    if (!client) return;
    client.publish(
      telemetryTopic(d.siteId, d.id),
      JSON.stringify(result.payload),
      { qos: this.qos },
      (err) => {
        if (err) this.countError(err);
      },
    );
    this.sent++;
  }

  /** Comms loss: drop the device's own connection without DISCONNECT (the broker publishes its will). */
  private goOffline(slot: DeviceSlot): void {
    slot.offline = true;
    this.log.info('simulated device off the network', { device: slot.sim.key });
    if (this.mode === 'per-device') {
      const client = slot.link.client;
      slot.link.client = null;
      client?.end(true);
    } else {
      this.announce(slot.link, slot, 'offline');
    }
  }

  private comeBack(slot: DeviceSlot): void {
    slot.offline = false;
    this.log.info('simulated device back on the network', { device: slot.sim.key });
    if (this.mode === 'per-device') this.openLink(slot.link);
    else this.announce(slot.link, slot, 'online');
  }
}

export type RunningSimulators = { stop(): Promise<void>; stats(): SimulatorStats };

/** Starts the simulators (used by the server under SIMULATE=true and by the CLI). */
export async function startSimulators(opts: SimulatorOptions): Promise<RunningSimulators> {
  const sim = new PlantSimulator(opts);
  await sim.start();
  return { stop: () => sim.stop(), stats: () => sim.stats() };
}
