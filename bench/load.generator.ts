/**
 * Publishes gas-detector telemetry at a target rate over a few raw MQTT connections, paced in small batches,
 * with a bounded window of unacknowledged QoS 1 messages per connection. Values come from the simulators'
 * gas-detector model (pre-sampled per device, so the hot loop only formats strings). Measures what it achieved.
 */
import { performance } from 'node:perf_hooks';
import { deviceChannels } from '../src/config/device-channels';
import { telemetryTopic } from '../src/ingest/domain/telemetry-contract';
import { createDeviceModel, type SimDevice } from '../simulators/device.model';
import type { BenchDevice } from './bench-plant';
import { publishFrameSize, writePublishQos0, writePublishQos1 } from './mqtt-wire';
import { RawPublisher } from './raw.publisher';

/** Pre-sampled values per device (one per simulated second, cycled). */
const RING = 64;
/** Pacing tick when on schedule: each tick sends what has become due (≈ rate × 5 ms messages). */
const TICK_MS = 5;
/** Frames per write. */
const MAX_BATCH = 1000;
/** Longest payload: {"ts":13 digits,"seq":up to 10 digits,"values":{"conc":≤8 chars,"fault":false}} */
const MAX_PAYLOAD = 96;

/** `lastTs` keeps each device's `ts` strictly increasing, so a stored row is identified by (device, channel, time). */
type Slot = { topic: Buffer; seq: number; values: string[]; next: number; lastTs: number };

export type LoadResult = {
  targetRate: number;
  seconds: number;
  sent: number;
  acked: number;
  /** Messages/s actually written during the publishing window. */
  achievedRate: number;
  /** Wall-clock time from the first to the end of publishing. */
  publishS: number;
  /** Time after publishing until the broker had acknowledged everything. */
  ackWaitS: number;
  /** Epoch ms of the first and last message `ts`. */
  firstTs: number;
  lastTs: number;
  /** CPU used by this (publisher) process during the step, % of one core. */
  publisherCpuPct: number;
  /** Share of the publishing time the connections spent blocked on the broker (window full or socket not drained). */
  blockedFraction: number;
};

export class LoadGenerator {
  private readonly lanes: Array<{ pub: RawPublisher; slots: Slot[]; cursor: number; frameMax: number }>;

  constructor(
    devices: readonly BenchDevice[],
    private readonly opts: {
      host: string;
      port: number;
      connections: number;
      window: number;
      clientIdPrefix: string;
      seed: number;
      username?: string;
      password?: string;
      qos?: 0 | 1;
    },
  ) {
    if (opts.window >= 60_000)
      throw new RangeError('window must stay below 60000 (packet ids must not wrap while in flight)');
    const channels = deviceChannels({ kind: 'gas_detector', ranges: { conc: [0, 100] } });
    this.lanes = Array.from({ length: opts.connections }, (_, i) => ({
      pub: new RawPublisher({
        host: opts.host,
        port: opts.port,
        clientId: `${opts.clientIdPrefix}-pub${i}`,
        ...(opts.username !== undefined ? { username: opts.username } : {}),
        ...(opts.password !== undefined ? { password: opts.password } : {}),
      }),
      slots: [],
      cursor: 0,
      frameMax: 0,
    }));
    devices.forEach((d, i) => {
      const sim: SimDevice = {
        siteId: d.siteId,
        id: d.deviceId,
        kind: 'gas_detector',
        area: 'a',
        sourceId: 's',
        periodS: 1,
        channels,
        level1: 20,
        level2: 40,
        gas: 'methane',
        gasClass: 'combustible',
        unit: '%LEL',
      };
      const model = createDeviceModel(sim, opts.seed);
      const values = Array.from({ length: RING }, (_, k) => String(model.sample(k * 1000).values.conc));
      const lane = this.lanes[i % this.lanes.length]!;
      const topic = Buffer.from(telemetryTopic(d.siteId, d.deviceId), 'latin1');
      lane.slots.push({ topic, seq: 0, values, next: 0, lastTs: 0 });
      lane.frameMax = Math.max(lane.frameMax, publishFrameSize(topic.length, MAX_PAYLOAD));
    });
  }

  async connect(): Promise<void> {
    await Promise.all(this.lanes.map((l) => l.pub.connect()));
  }

  async close(): Promise<void> {
    await Promise.all(this.lanes.map((l) => l.pub.close()));
  }

  totals(): { sent: number; acked: number } {
    // QoS 0 has no acknowledgement: a message counts as accepted once written to the socket.
    const qos0 = this.opts.qos === 0;
    return this.lanes.reduce(
      (t, l) => ({ sent: t.sent + l.pub.sent, acked: t.acked + (qos0 ? l.pub.sent : l.pub.acked) }),
      { sent: 0, acked: 0 },
    );
  }

  /** Publishes at `rate` messages/s for `seconds`, then waits (up to ackTimeoutMs) for every PUBACK. */
  async run(rate: number, seconds: number, ackTimeoutMs = 60_000): Promise<LoadResult> {
    const before = this.totals();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const endAt = t0 + seconds * 1000;
    let firstTs = Infinity;
    let lastTs = 0;
    const laneRate = rate / this.lanes.length;
    let blockedMs = 0;

    const runLane = (lane: (typeof this.lanes)[number]): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        const pub = lane.pub;
        const start = pub.sent;
        let waitingAck = false;
        let waitingDrain = false;
        let done = false;
        let timer: NodeJS.Timeout | null = null;
        let blockedSince = 0;
        const block = (): void => {
          blockedSince = performance.now();
        };
        const unblock = (): void => {
          blockedMs += performance.now() - blockedSince;
        };
        const finish = (err?: Error): void => {
          if (done) return;
          done = true;
          clearTimeout(endTimer);
          if (timer) clearTimeout(timer);
          pub.onAck(null);
          if (waitingAck || waitingDrain) unblock();
          if (err) reject(err);
          else resolve();
        };
        // Ends the lane on time even while it waits on the broker.
        const endTimer = setTimeout(() => finish(), Math.max(0, endAt - performance.now()));
        const schedule = (ms: number): void => {
          if (!done && timer === null && !waitingAck && !waitingDrain) timer = setTimeout(pump, ms);
        };
        const pump = (): void => {
          timer = null;
          if (done) return;
          if (pub.failure) return finish(pub.failure);
          const now = performance.now();
          if (now >= endAt) return finish();
          const due = Math.floor((laneRate * (now - t0)) / 1000) - (pub.sent - start);
          const qos0 = this.opts.qos === 0;
          const room = qos0 ? MAX_BATCH : this.opts.window - pub.inFlight;
          const n = Math.min(due, room, MAX_BATCH);
          if (n > 0) {
            const ts = Date.now();
            if (ts < firstTs) firstTs = ts;
            const buf = Buffer.allocUnsafe(n * lane.frameMax);
            let o = 0;
            for (let k = 0; k < n; k++) {
              const slot = lane.slots[lane.cursor]!;
              lane.cursor = lane.cursor + 1 === lane.slots.length ? 0 : lane.cursor + 1;
              const msgTs = ts > slot.lastTs ? ts : slot.lastTs + 1;
              slot.lastTs = msgTs;
              if (msgTs > lastTs) lastTs = msgTs;
              const payload = `{"ts":${msgTs},"seq":${slot.seq++},"values":{"conc":${slot.values[slot.next]!},"fault":false}}`;
              slot.next = slot.next + 1 === RING ? 0 : slot.next + 1;
              o = qos0
                ? writePublishQos0(buf, o, slot.topic, payload)
                : writePublishQos1(buf, o, slot.topic, pub.nextPacketId(), payload);
            }
            if (!pub.write(buf.subarray(0, o), n)) {
              waitingDrain = true;
              block();
              void pub.drained().then(() => {
                if (done) return;
                unblock();
                waitingDrain = false;
                schedule(0);
              });
              return;
            }
          }
          if (!qos0 && this.opts.window - pub.inFlight <= 0) {
            // Window full: continue when a quarter of it has been acknowledged.
            waitingAck = true;
            block();
            const resumeAt = pub.acked + Math.ceil(this.opts.window / 4);
            pub.onAck(() => {
              if (pub.acked >= resumeAt && !done) {
                pub.onAck(null);
                unblock();
                waitingAck = false;
                schedule(0);
              }
            });
            return;
          }
          schedule(due - n > 0 ? 0 : TICK_MS);
        };
        pump();
      });

    await Promise.all(this.lanes.map(runLane));
    const publishS = (performance.now() - t0) / 1000;
    const ackStart = performance.now();
    const deadline = ackStart + ackTimeoutMs;
    while (this.totals().acked < this.totals().sent) {
      const failed = this.lanes.find((l) => l.pub.failure);
      if (failed) throw failed.pub.failure!;
      if (performance.now() > deadline) {
        const t = this.totals();
        throw new Error(
          `bench publisher: ${t.sent - t.acked} messages not acknowledged by the broker within ${ackTimeoutMs} ms`,
        );
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    const ackWaitS = (performance.now() - ackStart) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const after = this.totals();
    const sent = after.sent - before.sent;
    return {
      targetRate: rate,
      seconds,
      sent,
      acked: after.acked - before.acked,
      achievedRate: sent / publishS,
      publishS,
      ackWaitS,
      firstTs: Number.isFinite(firstTs) ? firstTs : 0,
      lastTs,
      publisherCpuPct: ((cpu.user + cpu.system) / 1000 / ((publishS + ackWaitS) * 1000)) * 100,
      blockedFraction: blockedMs / this.lanes.length / (publishS * 1000),
    };
  }
}
