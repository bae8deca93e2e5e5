import {
  Inject,
  Injectable,
  Optional,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import { BehaviorSubject, Subject, filter, firstValueFrom, type Observable, type Subscription } from 'rxjs';
import { CLOCK, type Clock } from '../common/clock';
import { ConfigError } from '../common/errors';
import { withCorrelationId } from '../common/correlation';
import { JsonLogger, maskUrl } from '../common/logger';
import type { DeviceState, Reading } from '../common/types';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { DeviceInfo } from '../config/config.loader';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { DeadLetterRepository } from '../storage/dead-letter.repository';
import { DeviceStateRepository, type DeviceStateRow } from '../storage/device-state.repository';
import { TelemetryWriter } from '../storage/telemetry-writer.service';
import {
  decodeState,
  decodeTelemetry,
  REJECT_REASONS,
  type DecodeContext,
  type RejectReason,
} from './domain/decode';
import { DeviceRegistry, type DeviceStatus } from './domain/device-registry';
import type { ClockChange } from './domain/device-tracker';
import { parseTopic, SUBSCRIPTIONS } from './domain/telemetry-contract';
import { EmbeddedBroker } from './embedded-broker';
import { endClient, IntakeLink, type IntakeHost } from './intake-link';
import { MqttSecurity } from './mqtt-auth/mqtt-security.service';
import { siteClientId, siteFilters, SiteSessions } from './site-sessions';
import { ClusterService } from '../cluster/cluster.service';
import { DataType, encodePayload } from './sparkplug/sparkplug-payload';
import {
  SparkplugProcessor,
  type RebirthRequest,
  type SparkplugOutcome,
} from './sparkplug/sparkplug-processor';
import {
  isSparkplugTopic,
  ncmdTopic,
  parseSparkplugTopic,
  REBIRTH_METRIC,
  SPARKPLUG_SUBSCRIPTIONS,
} from './sparkplug/domain/sparkplug-topic';

/** The readings of one message as runs of one event time, in time order (usually one run: the array itself). */
export function byTime(readings: Reading[]): Reading[][] {
  const t = readings[0]!.ts;
  if (readings.every((r) => r.ts === t)) return [readings];
  const sorted = [...readings].sort((a, b) => a.ts - b.ts);
  const runs: Reading[][] = [];
  for (const r of sorted) {
    const last = runs[runs.length - 1];
    if (last && last[0]!.ts === r.ts) last.push(r);
    else runs.push([r]);
  }
  return runs;
}

/** Longest the writer may take to commit what a stopping intake took in before its sessions close anyway. */
const FLUSH_BOUND_MS = 3000;
/** The same at shutdown of the main link (a single node's only session). */
const SHUTDOWN_FLUSH_MS = 5000;

/** A valid topic of a configured device, resolved once (the hot path then does one Map lookup per message). */
type TopicEntry = {
  readonly kind: 'telemetry' | 'state';
  readonly siteId: string;
  readonly deviceId: string;
  readonly key: string;
  readonly device: DeviceInfo;
  /** The device's live status in the registry (same object for the server's life). */
  readonly status: DeviceStatus | undefined;
};

export type DeviceStateEvent = { siteId: string; deviceId: string; state: DeviceState; ts: number };

/** Sample periods of silence after which a device is stale (the rules' default staleAfterPeriods). */
const STALE_PERIODS = 3;

/** Where the server's own availability is announced (retained, with a last will). Outside the device topic tree. */
export const serverStatusTopic = (clientId: string): string => `hazwatch/server/${clientId}/status`;

/**
 * MQTT intake: connects (or starts the embedded broker), decodes and validates every message, hands valid readings to the
 * batched writer and to `telemetry$`, and keeps rejected input in the dead-letter table. QoS 1 with a persistent session
 * (fixed client id, clean=false) so the broker queues for us while we restart.
 */
@Injectable()
export class IngestService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new JsonLogger('ingest');
  private readonly telemetry = new Subject<Reading>();
  private readonly messages = new Subject<readonly Reading[]>();
  private readonly deviceStates = new Subject<DeviceStateEvent>();
  private readonly clockChanges = new Subject<ClockChange>();
  private readonly connected = new BehaviorSubject<boolean>(false);
  readonly registry: DeviceRegistry;
  /** Every valid reading, in arrival order. Hot; never completes while the app runs. */
  readonly telemetry$: Observable<Reading> = this.telemetry.asObservable();
  /**
   * The same readings grouped by message (one device, one event time, message order): what the rule engine consumes,
   * so its per-element stream plumbing runs once per message, not once per channel. Emitted before `telemetry$`.
   */
  readonly messages$: Observable<readonly Reading[]> = this.messages.asObservable();
  /** Device online/offline changes (from retained `state` topics and last wills). */
  readonly deviceState$: Observable<DeviceStateEvent> = this.deviceStates.asObservable();
  /** Device clock health changes (ahead / behind / ok), for the rule engine's clock_fault (docs/ingest-time-and-sequence.md). */
  readonly clock$: Observable<ClockChange> = this.clockChanges.asObservable();
  readonly connected$: Observable<boolean> = this.connected.asObservable();
  private readonly subscribed = new BehaviorSubject<boolean>(false);
  /** True once the current connection's subscriptions are granted, false when it closes (Sparkplug host STATE). */
  readonly subscribed$: Observable<boolean> = this.subscribed.asObservable();

  /** Single node: the one QoS 1 session for every site. Cluster node: the clean QoS 0 display link + server status. */
  private main?: IntakeLink;
  /** Cluster node: the QoS 1 sessions of the sites it owns (docs/adr/0016-cluster.md). */
  private sessions?: SiteSessions;
  /** Where Sparkplug rebirth requests go out (the main link's client). */
  private client?: Pick<MqttClient, 'publish'>;
  private broker?: EmbeddedBroker;
  private brokerUrl = '';
  private readonly subs: Subscription[] = [];
  private pendingStateRows = new Map<string, DeviceStateRow>();
  private stateFlushTimer?: NodeJS.Timeout;
  private paused = false;
  /** Messages held in the writer's open batch (sealed at MQTT_MAX_UNACKED). */
  private openHeld = 0;
  private openHeldMark = -1;
  private readonly maxSkewMs: number;
  private readonly decodeCtx: DecodeContext;
  /** Per-message counts (see HazwatchMetrics.ingestTally). */
  private readonly tally: HazwatchMetrics['ingestTally'];
  /** Sparkplug B host logic, when `sparkplug.yaml` maps edge nodes (docs/sparkplug.md). */
  readonly sparkplug: SparkplugProcessor | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly metrics: HazwatchMetrics,
    private readonly writer: TelemetryWriter,
    private readonly deadLetters: DeadLetterRepository,
    private readonly deviceStateRepo: DeviceStateRepository,
    private readonly security: MqttSecurity,
    @Optional() private readonly cluster?: ClusterService,
  ) {
    const env = config.env;
    const clockSettings = {
      futureToleranceMs: env.INGEST_FUTURE_TOLERANCE_S * 1000,
      behindMs: env.INGEST_CLOCK_BEHIND_S * 1000,
      windowMs: env.INGEST_CLOCK_WINDOW_S * 1000,
    };
    this.registry = new DeviceRegistry(
      config.plant.deviceByKey.keys(),
      clockSettings,
      metrics.ingestLinkTotals,
      // a gap after the device was silent for its stale window (3 sample periods) is annunciated as stale/offline
      (key) => STALE_PERIODS * (config.plant.deviceByKey.get(key)?.periodS ?? 5) * 1000,
    );
    this.maxSkewMs = config.env.INGEST_MAX_SKEW_S * 1000;
    this.decodeCtx = {
      siteId: '',
      deviceId: '',
      channels: new Map(),
      receivedAt: 0,
      maxSkewMs: this.maxSkewMs,
    };
    for (const reason of REJECT_REASONS) this.metrics.ingestRejected.inc({ reason }, 0);
    this.tally = this.metrics.ingestTally;
    this.metrics.ingestMessages.inc({ result: 'accepted' }, 0);
    this.metrics.ingestMessages.inc({ result: 'rejected' }, 0);
    this.metrics.sources.unacked = () => this.unackedMessages();
    this.sparkplug = config.sparkplug
      ? new SparkplugProcessor(
          config.sparkplug,
          { maxSkewMs: this.maxSkewMs, futureToleranceMs: clockSettings.futureToleranceMs },
          (key) => this.registry.get(key)?.tracker,
        )
      : undefined;
    if (this.sparkplug)
      for (const cause of ['seq_gap', 'no_birth', 'unknown_alias'])
        this.metrics.sparkplugRebirths.inc({ cause }, 0);
  }

  /** The broker URL in use (embedded or external). */
  get mqttUrl(): string {
    return this.brokerUrl;
  }

  isConnected(): boolean {
    return this.connected.value;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.sparkplug && this.cluster?.manager)
      // Sparkplug topics are per edge node, not per site: its intake cannot follow site ownership yet. Refuse rather
      // than drop it (docs/adr/0016-cluster.md, "Per-site MQTT sessions").
      throw new ConfigError('environment', [
        {
          path: 'HAZWATCH_NODE_ID',
          reason:
            'Sparkplug B intake (sparkplug.yaml) runs on a single node only; unset HAZWATCH_NODE_ID or remove sparkplug.yaml',
        },
      ]);
    await this.restoreDeviceStates();
    const env = this.config.env;
    if (env.MQTT_URL) {
      this.brokerUrl = env.MQTT_URL;
    } else {
      this.broker = await EmbeddedBroker.start({
        ...(env.MQTT_PORT !== undefined ? { port: env.MQTT_PORT } : {}),
        host: '127.0.0.1',
        security: this.security.brokerSecurity(),
      });
      this.brokerUrl = this.broker.url;
    }
    this.subs.push(
      this.writer.pressure$.subscribe((p) => {
        if (p !== this.paused)
          this.log.warn(
            p
              ? 'writer is full: not reading MQTT until it drains (broker holds QoS 1; keep-alive continues)'
              : 'writer drained: resuming MQTT intake',
          );
        this.paused = p;
        for (const l of this.links()) l.hold(p);
        this.metrics.ingestPaused.set(p ? 1 : 0);
      }),
    );
    // Held PUBACKs go out, in receipt order, as the writer reports batches committed or fsynced to the spool.
    this.writer.onDurable((through) => {
      for (const l of this.links()) l.release(through);
    });
    this.connectClient();
    this.stateFlushTimer = setInterval(() => void this.flushDeviceStates(), 5000);
    this.stateFlushTimer.unref();
    // Start-up waits for the first connection so "started" means "ingesting"; a dead external broker does not block
    // start-up forever — the client keeps reconnecting and readiness reports it.
    await Promise.race([
      firstValueFrom(this.connected$.pipe(filter(Boolean))),
      new Promise((r) => setTimeout(r, 10_000).unref()),
    ]);
    if (!this.connected.value)
      this.log.error('MQTT broker not reachable yet; retrying in the background', {
        url: maskUrl(this.brokerUrl),
      });
  }

  /** Every open MQTT link of this node (the main link first). */
  private *links(): Iterable<IntakeLink> {
    if (this.main) yield this.main;
    if (this.sessions) yield* this.sessions.all() as Iterable<IntakeLink>;
  }

  private linkHost(onMessage: (topic: string, payload: Buffer) => void): IntakeHost {
    return {
      ackMark: () => this.writer.ackMark(),
      onHeld: () => this.onHeld(),
      // Intake went quiet with acknowledgements waiting: commit now rather than after WRITER_FLUSH_MS.
      onQuiet: () => this.writer.sealWhenIdle(),
      paused: () => this.paused,
      onYield: () => this.metrics.ingestYields.inc(),
      // One correlation id per writer batch (the batch whose commit acknowledges these messages): `mqtt-<batch seq>`.
      message: (topic, payload) =>
        withCorrelationId(this.batchCorrelationId(), () => onMessage(topic, payload)),
    };
  }

  private connectClient(): void {
    const env = this.config.env;
    // Credentials and an unguessable client id: docs/adr/0009-mqtt-authentication.md.
    const id = this.security.identity();
    const clustered = this.cluster?.manager !== undefined;
    const nodeId = env.HAZWATCH_NODE_ID;
    const common = {
      url: this.brokerUrl,
      keepaliveS: env.MQTT_KEEPALIVE_S,
      turnBytes: env.INGEST_TURN_BYTES,
      ...(id.credentials ? { credentials: id.credentials } : {}),
    };
    const status = this.statusTopic();
    const filters: string[] = clustered ? [] : [...SUBSCRIPTIONS];
    if (this.sparkplug && !clustered) filters.push(...SPARKPLUG_SUBSCRIPTIONS);
    const main = new IntakeLink(
      {
        ...common,
        // A cluster node's own link is clean and QoS 0: display-only telemetry of sites it does not own.
        clientId: clustered ? `${id.clientId}-n-${nodeId}` : id.clientId,
        clean: clustered,
        qos: clustered ? 0 : 1,
        filters,
        will: { topic: status, payload: 'offline' },
        onConnectPublish: { topic: status, payload: 'online' },
        onSubscribed: (granted) => this.subscribed.next(granted),
        label: clustered ? `node ${nodeId}` : 'server',
      },
      this.linkHost(
        clustered
          ? (topic, payload) => this.displayMessage(topic, payload, this.clock.now())
          : (topic, payload) => this.handleMessage(topic, payload, this.clock.now()),
      ),
    );
    this.main = main;
    this.client = main.client;
    if (!clustered) this.security.watchSession(main.client);
    main.onConnectionChange((up) => {
      if (!up) this.subscribed.next(false);
      this.connected.next(up);
      this.metrics.mqttConnected.set(up ? 1 : 0);
    });
    if (!clustered) return;
    const sessionHost = this.linkHost((topic, payload) =>
      this.handleMessage(topic, payload, this.clock.now()),
    );
    this.sessions = new SiteSessions({
      sites: this.config.plant.sites.map((s) => s.id),
      ownership: {
        ownership$: this.cluster.ownership$,
        ownedKeys: () => this.cluster!.manager?.owned().map((l) => l.key) ?? [],
      },
      open: (siteId) =>
        new IntakeLink(
          {
            ...common,
            clientId: siteClientId(id.clientId, siteId),
            clean: false,
            qos: 1,
            filters: siteFilters(siteId),
            label: `site ${siteId}`,
          },
          sessionHost,
        ),
      display: main,
      flush: () => this.boundedFlush(),
    });
    this.sessions.start();
    this.metrics.clusterSources.mqttSessions = () => this.sessions?.ownedSites().length ?? 0;
  }

  /** This node's retained status topic: one per cluster node, the server's own on a single node. */
  private statusTopic(): string {
    const name = this.security.identity().statusName;
    return serverStatusTopic(this.cluster?.manager ? `${name}-${this.config.env.HAZWATCH_NODE_ID}` : name);
  }

  /** Commits (or spools) what the writer holds; gives up after `boundMs` (the broker then redelivers). */
  private async boundedFlush(boundMs = FLUSH_BOUND_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.writer.flush(),
      new Promise<void>((r) => {
        timer = setTimeout(r, boundMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  /** Sites whose QoS 1 session is open on this node (cluster mode; undefined on a single node). */
  ownedSites(): string[] | undefined {
    return this.sessions?.ownedSites();
  }

  private readonly displayCtx: DecodeContext = {
    siteId: '',
    deviceId: '',
    channels: new Map(),
    receivedAt: 0,
    maxSkewMs: 0,
  };

  /**
   * A telemetry message of a site this node does not own, from the display link (QoS 0): decoded for `/ws` frames only.
   * Nothing is stored, counted, dead-lettered or evaluated here: the site's owner does that with its QoS 1 session.
   */
  displayMessage(topic: string, payload: Buffer, receivedAt: number): void {
    if (!this.telemetry.observed) return;
    const parsed = parseTopic(topic);
    if (!parsed || parsed.kind !== 'telemetry' || this.sessions?.owns(parsed.siteId)) return;
    const device = this.config.plant.deviceByKey.get(`${parsed.siteId}/${parsed.deviceId}`);
    if (!device) return;
    const ctx = this.displayCtx;
    ctx.siteId = parsed.siteId;
    ctx.deviceId = parsed.deviceId;
    ctx.channels = device.channels;
    ctx.receivedAt = receivedAt;
    ctx.maxSkewMs = this.maxSkewMs;
    try {
      const readings = decodeTelemetry(payload, ctx).readings;
      for (let i = 0; i < readings.length; i++) this.telemetry.next(readings[i]!);
    } catch (err) {
      this.log.warn('display frame dropped', { topic, err: (err as Error).message });
    }
  }

  private batchCid = { mark: Number.NaN, id: '' };

  /** The correlation id of the writer's open batch (cached: computed once per batch, not per message). */
  private batchCorrelationId(): string {
    const mark = this.writer.openBatchSeq();
    if (mark !== this.batchCid.mark) this.batchCid = { mark, id: `mqtt-${mark}` };
    return this.batchCid.id;
  }

  /** A QoS 1 message was held: seal the open batch once it holds MQTT_MAX_UNACKED of them. */
  private onHeld(): void {
    const mark = this.writer.ackMark();
    if (mark !== this.openHeldMark) {
      this.openHeldMark = mark;
      this.openHeld = 0;
    }
    if (++this.openHeld >= this.config.env.MQTT_MAX_UNACKED) this.writer.sealOpen();
  }

  /** QoS 1 messages received and not yet acknowledged (their readings are not yet durable). */
  unackedMessages(): number {
    let n = 0;
    for (const l of this.links()) n += l.unacked;
    return n;
  }

  /** Topic → device, filled on first sight; only valid topics of configured devices, so bounded by the plant. */
  private readonly topics = new Map<string, TopicEntry>();

  private resolveTopic(topic: string, payload: Buffer, receivedAt: number): TopicEntry | undefined {
    // Sparkplug topics are never cached here: the JSON hot path stays one Map hit.
    if (this.sparkplug && isSparkplugTopic(topic)) {
      this.handleSparkplug(topic, payload, receivedAt);
      return undefined;
    }
    const parsed = parseTopic(topic);
    if (!parsed) {
      this.rejectMessage(
        topic,
        payload,
        'bad_topic',
        'topic must be hazwatch/v1/{siteId}/{deviceId}/telemetry|state',
        receivedAt,
      );
      return undefined;
    }
    const key = `${parsed.siteId}/${parsed.deviceId}`;
    const device = this.config.plant.deviceByKey.get(key);
    if (!device) {
      this.rejectMessage(
        topic,
        payload,
        'unknown_device',
        `no device '${parsed.deviceId}' in site '${parsed.siteId}'`,
        receivedAt,
      );
      return undefined;
    }
    const entry: TopicEntry = {
      kind: parsed.kind,
      siteId: parsed.siteId,
      deviceId: parsed.deviceId,
      key,
      device,
      status: this.registry.get(key),
    };
    this.topics.set(topic, entry);
    return entry;
  }

  /** Decodes one message; public for tests. Never throws: every failure becomes a counted dead letter. */
  handleMessage(topic: string, payload: Buffer, receivedAt: number): void {
    try {
      const t = this.topics.get(topic) ?? this.resolveTopic(topic, payload, receivedAt);
      if (!t) return;
      if (t.kind === 'state') {
        const state = decodeState(payload);
        if (!state)
          return this.rejectMessage(
            topic,
            payload,
            'bad_state',
            'state must be "online" or "offline"',
            receivedAt,
          );
        this.tally.accepted++;
        return this.applyState(t.key, state, receivedAt);
      }
      // One context object reused for every message (decode does not keep it).
      const ctx = this.decodeCtx;
      ctx.siteId = t.siteId;
      ctx.deviceId = t.deviceId;
      ctx.channels = t.device.channels;
      ctx.receivedAt = receivedAt;
      ctx.tracker = t.status?.tracker;
      const result = decodeTelemetry(payload, ctx);
      if (ctx.tracker?.changed) this.clockChanges.next(ctx.tracker.change());
      for (const r of result.rejects) {
        this.metrics.ingestRejected.inc({ reason: r.reason });
        this.deadLetters.record({ topic, reason: r.reason, detail: r.detail, payload, receivedAt });
      }
      const readings = result.readings;
      if (readings.length === 0) {
        this.tally.rejected++;
        return;
      }
      this.tally.accepted++;
      this.tally.readings += readings.length;
      this.writer.enqueue(readings);
      // A device that talks is online, even if its retained `online` was lost.
      const state = t.status ? DeviceRegistry.applyReadings(t.status, readings, receivedAt) : undefined;
      if (state !== 'online') this.applyState(t.key, 'online', receivedAt);
      this.messages.next(readings);
      if (this.telemetry.observed)
        for (let i = 0; i < readings.length; i++) this.telemetry.next(readings[i]!);
    } catch (err) {
      // A bug in a downstream subscriber must not kill intake; count it and keep the message as a dead letter.
      this.log.error('message handling failed', { topic, err });
      this.rejectMessage(
        topic,
        payload,
        'invalid_schema',
        `internal error: ${(err as Error).message}`,
        receivedAt,
      );
    }
  }

  /**
   * One Sparkplug B message (docs/sparkplug.md): decoded and mapped by the SparkplugProcessor; readings then take the
   * JSON path's way (writer, registry, rule engine) synchronously, so the message's held PUBACK waits for their commit
   * exactly like a JSON message's (docs/adr/0008-ack-after-commit.md).
   */
  private handleSparkplug(topic: string, payload: Buffer, receivedAt: number): void {
    const sp = this.sparkplug!;
    const t = parseSparkplugTopic(topic);
    if (!t)
      return this.rejectMessage(
        topic,
        payload,
        'bad_topic',
        'topic must be spBv1.0/{group}/{N|D}{BIRTH|DEATH|DATA}/{edge node}[/{device}] or spBv1.0/STATE/{host}',
        receivedAt,
      );
    if (t.kind === 'state') {
      // Another host application's state: nothing to ingest.
      this.tally.accepted++;
      return;
    }
    const out: SparkplugOutcome = sp.handle(t, payload, receivedAt);
    for (const r of out.rejects) {
      this.metrics.ingestRejected.inc({ reason: r.reason });
      this.deadLetters.record({ topic, reason: r.reason, detail: r.detail, payload, receivedAt });
    }
    if (out.seqGap) this.metrics.sparkplugSeqGaps.inc();
    if (out.unmapped > 0) this.metrics.sparkplugUnmapped.inc(out.unmapped);
    if (out.rebirth) this.requestRebirth(out.rebirth);
    if (out.refused) this.tally.rejected++;
    else this.tally.accepted++;
    const readings = out.readings;
    const status = out.device ? this.registry.get(out.device.key) : undefined;
    if (status?.tracker.changed) this.clockChanges.next(status.tracker.change());
    if (readings.length > 0 && out.device) {
      this.tally.readings += readings.length;
      this.writer.enqueue(readings);
      const state = status ? DeviceRegistry.applyReadings(status, readings, receivedAt) : undefined;
      // DBIRTH's own `online` comes below; a device that sends data is online.
      if (state !== 'online' && !out.states.some((s) => s.key === out.device!.key))
        this.applyState(out.device.key, 'online', receivedAt);
    }
    for (const s of out.states) this.applyState(s.key, s.state, receivedAt);
    if (readings.length > 0) {
      // messages$ carries one event time per element: a Sparkplug message whose metrics carry their own times (store
      // and forward, historical metrics) goes out as one element per time, in time order.
      for (const group of byTime(readings)) this.messages.next(group);
      if (this.telemetry.observed)
        for (let i = 0; i < readings.length; i++) this.telemetry.next(readings[i]!);
    }
  }

  /** NCMD `Node Control/Rebirth` = true (Sparkplug B §6.4.6: QoS 0, not retained). */
  private requestRebirth(r: RebirthRequest): void {
    const cause = r.reason.startsWith('seq')
      ? 'seq_gap'
      : r.reason.startsWith('unknown alias')
        ? 'unknown_alias'
        : 'no_birth';
    this.metrics.sparkplugRebirths.inc({ cause });
    this.log.warn('requesting Sparkplug rebirth', { node: `${r.group}/${r.node}`, reason: r.reason });
    const payload = encodePayload({
      timestamp: this.clock.now(),
      metrics: [{ name: REBIRTH_METRIC, datatype: DataType.Boolean, value: true }],
    });
    this.client?.publish(ncmdTopic(r.group, r.node), payload, { qos: 0, retain: false });
  }

  private rejectMessage(
    topic: string,
    payload: Buffer,
    reason: RejectReason,
    detail: string,
    receivedAt: number,
  ): void {
    this.tally.rejected++;
    this.metrics.ingestRejected.inc({ reason });
    this.deadLetters.record({ topic, reason, detail, payload, receivedAt });
  }

  private applyState(key: string, state: DeviceState, ts: number): void {
    const change = this.registry.applyState(key, state, ts);
    if (!change) return;
    this.metrics.ingestDeviceState.inc({ state });
    if (change.previous !== 'unknown' || state === 'offline')
      this.log.info('device state changed', { device: key, state, previous: change.previous });
    this.pendingStateRows.set(key, {
      siteId: change.siteId,
      deviceId: change.deviceId,
      state,
      stateChangedAt: ts,
      lastSeen: ts,
    });
    this.deviceStates.next({ siteId: change.siteId, deviceId: change.deviceId, state, ts });
  }

  private async restoreDeviceStates(): Promise<void> {
    try {
      for (const row of await this.deviceStateRepo.loadAll()) {
        const key = `${row.siteId}/${row.deviceId}`;
        this.registry.restore(key, row.state, row.stateChangedAt ?? 0, row.lastSeen);
      }
    } catch (err) {
      this.log.warn('could not restore device states; starting with unknown', {
        err: (err as Error).message,
      });
    }
  }

  /** Persists state changes and last-seen times in one batched upsert. */
  private async flushDeviceStates(): Promise<void> {
    for (const d of this.registry.all()) {
      if (d.lastSeen === null || d.state === 'unknown') continue;
      const key = `${d.siteId}/${d.deviceId}`;
      const row = this.pendingStateRows.get(key);
      if (row) row.lastSeen = d.lastSeen;
      else
        this.pendingStateRows.set(key, {
          siteId: d.siteId,
          deviceId: d.deviceId,
          state: d.state,
          stateChangedAt: d.stateChangedAt ?? d.lastSeen,
          lastSeen: d.lastSeen,
        });
    }
    if (this.pendingStateRows.size === 0) return;
    const rows = [...this.pendingStateRows.values()];
    this.pendingStateRows = new Map();
    try {
      await this.deviceStateRepo.upsertMany(rows);
    } catch (err) {
      // Keep them for the next round (newer entries win).
      for (const r of rows)
        if (!this.pendingStateRows.has(`${r.siteId}/${r.deviceId}`))
          this.pendingStateRows.set(`${r.siteId}/${r.deviceId}`, r);
      this.log.warn('device state write failed; will retry', { err: (err as Error).message });
    }
  }

  /** Ends the MQTT client without ever hanging shutdown (see endClient), announcing 'offline' when connected. */
  static async disconnect(
    c: Pick<MqttClient, 'publish' | 'end'>,
    connected: boolean,
    statusTopic: string,
  ): Promise<void> {
    await endClient(c, connected, { topic: statusTopic, payload: 'offline' });
  }

  /** onModuleDestroy runs before every beforeApplicationShutdown: intake stops before the writer's final flush. */
  async onModuleDestroy(): Promise<void> {
    if (this.stateFlushTimer) clearInterval(this.stateFlushTimer);
    for (const s of this.subs) s.unsubscribe();
    // Stop reading, let the writer commit (or spool) what we hold so its PUBACKs go out, then disconnect. Whatever is
    // still unacknowledged then is redelivered by the broker after the restart (duplicates, never a loss).
    // Cluster node: the handover order of docs/adr/0016-cluster.md starts here: every owned site's session stops reading,
    // the writer commits what they took in (their PUBACKs go out), the sessions close; the leases are released after
    // (ClusterService.beforeApplicationShutdown), so the next owner resumes from the broker session.
    if (this.sessions) await this.sessions.stop();
    if (this.main) {
      const m = this.main;
      m.hold(true);
      await this.boundedFlush(SHUTDOWN_FLUSH_MS);
      await m.end({ topic: this.statusTopic(), payload: 'offline' });
    }
    await this.flushDeviceStates();
    if (this.broker) await this.broker.stop();
    this.telemetry.complete();
    this.messages.complete();
    this.deviceStates.complete();
    this.clockChanges.complete();
  }
}
