/**
 * Sparkplug B host logic (docs/sparkplug.md), pure: no I/O, no clock read (arrival time comes in). Per edge node it
 * keeps the session the specification asks a host application to keep — born or not, `bdSeq` of the current session,
 * the last `seq` (0–255, wrapping) and the metric aliases announced by NBIRTH/DBIRTH — and turns each message into
 * hazwatch readings (validated exactly like the JSON contract's: channel type, physical range, device clock through
 * the same DeviceTracker), dead letters, online/offline changes and, when the session is broken (a `seq` gap, data
 * before any birth, an alias never announced), a rebirth request for the caller to publish as an NCMD.
 */
import type { DeviceState, Quality, Reading } from '../../common/types';
import type { Reject } from '../domain/decode';
import type { DeviceTracker } from '../domain/device-tracker';
import {
  DataType,
  dataTypeName,
  decodePayload,
  opt,
  u64,
  type RawMetric,
  type RawPayload,
} from './sparkplug-payload';
import {
  nodeKey,
  type MappedMetric,
  type SparkplugConfig,
  type SparkplugDeviceMap,
  type SparkplugNodeMap,
} from '../../config/sparkplug-config';
import { BDSEQ_METRIC, type SparkplugTopic } from './domain/sparkplug-topic';

/** BIRTH messages of big gateways carry hundreds of metrics: a larger limit than the JSON contract's 64 KiB. */
export const MAX_SPARKPLUG_PAYLOAD_BYTES = 1024 * 1024;
/** 2000-01-01: anything earlier is a device clock that was never set. */
const MIN_TS = 946_684_800_000;

export type SparkplugSettings = {
  /** A time further ahead of arrival than this: the message is rejected (`future_timestamp`). */
  readonly maxSkewMs: number;
  /** A metric time further ahead than this is replaced by the arrival time (never evaluated in the future). */
  readonly futureToleranceMs: number;
};

export type StateUpdate = { readonly key: string; readonly state: DeviceState };

export type RebirthRequest = { readonly group: string; readonly node: string; readonly reason: string };

export type SparkplugOutcome = {
  /** Valid readings, all of one hazwatch device (`device`). */
  readings: Reading[];
  device: SparkplugDeviceMap | undefined;
  rejects: Reject[];
  states: StateUpdate[];
  rebirth: RebirthRequest | undefined;
  /** Metrics of mapped devices that no channel is mapped to (gateways publish far more than hazwatch reads). */
  unmapped: number;
  /** True when the whole message was refused (nothing of it was used). */
  refused: boolean;
  /** A sequence gap (or data before birth) was seen in this message. */
  seqGap: boolean;
};

type AliasTarget = { readonly spDevice: string; readonly name: string };

/** What a host keeps per edge node (specification §7: host application session). */
export type NodeSession = {
  readonly map: SparkplugNodeMap;
  /** NBIRTH seen since this server started (or since the last NDEATH). */
  born: boolean;
  /** bdSeq of the current session (-1: unknown). */
  bdSeq: number;
  /** Last seq seen (-1: none). */
  lastSeq: number;
  readonly aliases: Map<number, AliasTarget>;
  /** Sparkplug devices born in the current session. */
  readonly bornDevices: Set<string>;
  lastRebirthAt: number;
  rebirths: number;
  seqGaps: number;
};

const QUALITY_KEY = 'Quality';

/** OPC quality word (Ignition publishes it as the `Quality` property): 192–255 good, 64–127 uncertain, else bad. */
export function opcQuality(code: number): Quality {
  const q = code & 0xc0;
  return q === 0xc0 ? 'good' : q === 0x40 ? 'uncertain' : 'bad';
}

function qualityOf(m: RawMetric): Quality {
  const p = opt(m, 'properties');
  if (!p?.keys || !p.values) return 'good';
  const i = p.keys.indexOf(QUALITY_KEY);
  if (i < 0) return 'good';
  const v = p.values[i];
  if (!v) return 'good';
  const code = opt(v, 'int_value') ?? u64(opt(v, 'long_value'));
  return code === undefined ? 'good' : opcQuality(code);
}

type Extracted = { ok: true; value: number | boolean | string } | { ok: false; reject: Reject };

const unsupported = (name: string, what: string): Extracted => ({
  ok: false,
  reject: {
    reason: 'sparkplug_unsupported',
    detail: `metric '${name.slice(0, 64)}': ${what} is not supported`,
  },
});

/** The metric's value as a JS value, by its datatype (signed integers are carried two's complement in uint32/uint64). */
export function metricValue(m: RawMetric, datatype: number, name: string): Extracted {
  // protobufjs names the member of the `value` oneof that was sent
  const which = m.value;
  if (which === 'dataset_value' || datatype === DataType.DataSet) return unsupported(name, 'DataSet');
  if (which === 'template_value' || datatype === DataType.Template) return unsupported(name, 'Template');
  if (which === 'extension_value') return unsupported(name, 'an extension value');
  if (opt(m, 'is_null'))
    return {
      ok: false,
      reject: { reason: 'sparkplug_null', detail: `metric '${name.slice(0, 64)}' is null (no value)` },
    };
  const bad = (): Extracted => ({
    ok: false,
    reject: {
      reason: 'sparkplug_decode',
      detail: `metric '${name.slice(0, 64)}' of datatype ${dataTypeName(datatype)} carries no matching value`,
    },
  });
  switch (datatype) {
    case DataType.Int8:
      return which !== 'int_value' ? bad() : { ok: true, value: (m.int_value! << 24) >> 24 };
    case DataType.Int16:
      return which !== 'int_value' ? bad() : { ok: true, value: (m.int_value! << 16) >> 16 };
    case DataType.Int32:
      return which !== 'int_value' ? bad() : { ok: true, value: m.int_value! | 0 };
    case DataType.UInt8:
    case DataType.UInt16:
    case DataType.UInt32:
      return which !== 'int_value' ? bad() : { ok: true, value: m.int_value! >>> 0 };
    case DataType.Int64:
    case DataType.UInt64: {
      if (which !== 'long_value') return bad();
      const l = m.long_value!;
      if (typeof l === 'number') return { ok: true, value: l };
      const long = l as unknown as {
        toSigned(): { toNumber(): number };
        toUnsigned(): { toNumber(): number };
      };
      return {
        ok: true,
        value: (datatype === DataType.Int64 ? long.toSigned() : long.toUnsigned()).toNumber(),
      };
    }
    case DataType.Float:
      return which !== 'float_value' ? bad() : { ok: true, value: m.float_value! };
    case DataType.Double:
      return which !== 'double_value' ? bad() : { ok: true, value: m.double_value! };
    case DataType.Boolean:
      return which !== 'boolean_value' ? bad() : { ok: true, value: m.boolean_value! };
    case DataType.String:
    case DataType.Text:
      return which !== 'string_value' ? bad() : { ok: true, value: m.string_value! };
    default:
      return unsupported(name, `datatype ${dataTypeName(datatype)}`);
  }
}

/** Checks a value against the channel it is mapped to (the JSON contract's rules, docs/contract.md §2). */
export function checkChannel(m: MappedMetric, value: number | boolean | string): Reject | null {
  const spec = m.spec;
  const ch = m.channel;
  switch (spec.type) {
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value))
        return { reason: 'wrong_type', detail: `${ch} must be a finite number` };
      if (value < spec.physical[0] || value > spec.physical[1])
        return {
          reason: 'out_of_range',
          detail: `${ch}=${value} outside physical limits [${spec.physical[0]}, ${spec.physical[1]}]`,
        };
      return null;
    case 'boolean':
      return typeof value === 'boolean' ? null : { reason: 'wrong_type', detail: `${ch} must be a boolean` };
    case 'enum':
      return typeof value === 'string' && spec.values.has(value)
        ? null
        : { reason: 'wrong_type', detail: `${ch} must be one of ${[...spec.values].join('|')}` };
  }
}

/** The node's session and control metrics (bdSeq, `Node Control/*`, `Node Info/*`, `Properties/*`): never data. */
function isSessionMetric(name: string | undefined): boolean {
  return (
    name === BDSEQ_METRIC ||
    (name !== undefined &&
      (name.startsWith('Node Control/') || name.startsWith('Node Info/') || name.startsWith('Properties/')))
  );
}

function bdSeqOf(metrics: readonly RawMetric[]): number | undefined {
  const bd = metrics.find((m) => opt(m, 'name') === BDSEQ_METRIC);
  if (!bd) return undefined;
  return bd.value === 'long_value' ? u64(bd.long_value) : bd.value === 'int_value' ? bd.int_value : undefined;
}

export class SparkplugProcessor {
  private readonly sessions = new Map<string, NodeSession>();

  constructor(
    readonly config: SparkplugConfig,
    private readonly settings: SparkplugSettings,
    /** The device's clock tracker (the registry's), by hazwatch device key. */
    private readonly trackerOf: (key: string) => DeviceTracker | undefined,
  ) {
    for (const [key, map] of config.nodes)
      this.sessions.set(key, {
        map,
        born: false,
        bdSeq: -1,
        lastSeq: -1,
        aliases: new Map(),
        bornDevices: new Set(),
        lastRebirthAt: Number.NEGATIVE_INFINITY,
        rebirths: 0,
        seqGaps: 0,
      });
  }

  session(group: string, node: string): NodeSession | undefined {
    return this.sessions.get(nodeKey(group, node));
  }

  /** Handles one message of a node or device topic. Never throws. */
  handle(
    topic: Extract<SparkplugTopic, { kind: 'node' | 'device' }>,
    payload: Uint8Array,
    receivedAt: number,
  ): SparkplugOutcome {
    const out: SparkplugOutcome = {
      readings: [],
      device: undefined,
      rejects: [],
      states: [],
      rebirth: undefined,
      unmapped: 0,
      refused: false,
      seqGap: false,
    };
    const refuse = (reason: Reject['reason'], detail: string): SparkplugOutcome => {
      out.rejects.push({ reason, detail });
      out.refused = true;
      return out;
    };
    const s = this.sessions.get(nodeKey(topic.group, topic.node));
    if (!s)
      return refuse(
        'unknown_device',
        `Sparkplug edge node ${topic.group}/${topic.node} is not mapped in sparkplug.yaml`,
      );
    if (topic.type === 'NCMD' || topic.type === 'DCMD') return out; // commands to the node: not ours to ingest
    const dmap = s.map.devices.get(topic.device);
    if (payload.length > MAX_SPARKPLUG_PAYLOAD_BYTES)
      return refuse('payload_too_large', `${payload.length} bytes > ${MAX_SPARKPLUG_PAYLOAD_BYTES}`);
    let p: RawPayload;
    try {
      p = decodePayload(payload);
    } catch (err) {
      return refuse('sparkplug_decode', `not a Sparkplug B payload: ${(err as Error).message}`.slice(0, 200));
    }
    const metrics = opt(p, 'metrics') ?? [];

    if (topic.type === 'NDEATH') {
      const bdSeq = bdSeqOf(metrics);
      // A death of an older session (its will delivered after the new birth) does not kill the current one.
      if (s.born && s.bdSeq >= 0 && bdSeq !== undefined && bdSeq !== s.bdSeq) return out;
      s.born = false;
      s.aliases.clear();
      s.bornDevices.clear();
      s.lastSeq = -1;
      for (const d of s.map.devices.values()) out.states.push({ key: d.key, state: 'offline' });
      return out;
    }

    // seq: every message but NDEATH carries one, 0–255, one more than the previous of the same edge node.
    const seq = u64(opt(p, 'seq'));
    if (topic.type === 'NBIRTH') {
      s.born = true;
      s.aliases.clear();
      s.bornDevices.clear();
      s.lastSeq = seq ?? 0;
      s.bdSeq = bdSeqOf(metrics) ?? -1;
    } else if (!s.born) {
      out.seqGap = true;
      this.askRebirth(s, out, receivedAt, `${topic.type} before any NBIRTH of this session`);
      if (seq !== undefined) s.lastSeq = seq;
    } else if (seq !== undefined) {
      const expected = (s.lastSeq + 1) & 0xff;
      if (seq !== expected && seq !== s.lastSeq) {
        out.seqGap = true;
        s.seqGaps++;
        this.askRebirth(s, out, receivedAt, `seq ${seq} where ${expected} was due`);
      }
      s.lastSeq = seq;
    }

    if (topic.type === 'DBIRTH') {
      // A device re-born drops its old aliases.
      for (const [a, t] of s.aliases) if (t.spDevice === topic.device) s.aliases.delete(a);
      s.bornDevices.add(topic.device);
    }
    if (topic.type === 'NBIRTH' || topic.type === 'DBIRTH') {
      for (const m of metrics) {
        const a = u64(opt(m, 'alias'));
        const name = opt(m, 'name');
        if (a !== undefined && name !== undefined) s.aliases.set(a, { spDevice: topic.device, name });
      }
    }

    if (!dmap) {
      // The node's own metrics (bdSeq, Node Control/*) need no mapping; an unmapped device is unknown.
      if (topic.kind === 'node') {
        for (const m of metrics) if (!isSessionMetric(opt(m, 'name'))) out.unmapped++;
        return out;
      }
      return refuse(
        'unknown_device',
        `Sparkplug device ${topic.group}/${topic.node}/${topic.device} is not mapped in sparkplug.yaml`,
      );
    }
    out.device = dmap;
    if (topic.type === 'DDEATH') {
      s.bornDevices.delete(topic.device);
      out.states.push({ key: dmap.key, state: 'offline' });
      return out;
    }
    if (topic.type === 'NBIRTH' || topic.type === 'DBIRTH')
      out.states.push({ key: dmap.key, state: 'online' });
    this.readings(topic, p, metrics, s, dmap, receivedAt, out);
    return out;
  }

  private readings(
    topic: Extract<SparkplugTopic, { kind: 'node' | 'device' }>,
    p: RawPayload,
    metrics: readonly RawMetric[],
    s: NodeSession,
    dmap: SparkplugDeviceMap,
    receivedAt: number,
    out: SparkplugOutcome,
  ): void {
    const payloadTs = u64(opt(p, 'timestamp'));
    const firstTs = payloadTs ?? (metrics.length ? u64(opt(metrics[0]!, 'timestamp')) : undefined);
    if (firstTs === undefined || !(firstTs >= MIN_TS)) {
      if (metrics.length)
        out.rejects.push({
          reason: 'bad_timestamp',
          detail: `payload timestamp ${String(firstTs)} missing or before 2000`,
        });
      out.refused = metrics.length > 0;
      return;
    }
    if (firstTs - receivedAt > this.settings.maxSkewMs) {
      out.rejects.push({
        reason: 'future_timestamp',
        detail: `timestamp is ${Math.round((firstTs - receivedAt) / 1000)} s in the future`,
      });
      out.refused = true;
      return;
    }
    // The device clock is judged once per message, on the payload's time, by the same tracker as JSON telemetry.
    const tracker = this.trackerOf(dmap.key);
    const at = tracker ? tracker.observe(firstTs, -1, receivedAt) : firstTs;
    const retimed = at !== firstTs;
    const isBirth = topic.type === 'NBIRTH' || topic.type === 'DBIRTH';
    for (const m of metrics) {
      let name = opt(m, 'name');
      if (name === undefined) {
        const a = u64(opt(m, 'alias'));
        const t = a === undefined ? undefined : s.aliases.get(a);
        if (!t || t.spDevice !== topic.device) {
          out.rejects.push({
            reason: 'sparkplug_unknown_alias',
            detail:
              a === undefined
                ? 'metric with neither name nor alias'
                : `alias ${a} was not announced in a birth of ${topic.group}/${topic.node}${topic.device ? `/${topic.device}` : ''}`,
          });
          this.askRebirth(s, out, receivedAt, `unknown alias ${String(a)}`);
          continue;
        }
        name = t.name;
      }
      const mapped = dmap.metrics.get(name);
      if (!mapped) {
        if (!isSessionMetric(name)) out.unmapped++;
        continue;
      }
      // A birth may announce a metric without a current value.
      if (isBirth && opt(m, 'is_null')) continue;
      const datatype = opt(m, 'datatype') ?? 0;
      const v = metricValue(m, datatype, name);
      if (!v.ok) {
        out.rejects.push(v.reject);
        continue;
      }
      const bad = checkChannel(mapped, v.value);
      if (bad) {
        out.rejects.push(bad);
        continue;
      }
      let ts = at;
      // The metric's own time when it is re-timed: what a redelivery repeats (docs/adr/0027-retimed-readings-key.md).
      let sourceTs: number | undefined;
      if (retimed) {
        const own = u64(opt(m, 'timestamp'));
        sourceTs = own !== undefined && own >= MIN_TS ? own : firstTs;
      }
      if (!retimed) {
        const mt = u64(opt(m, 'timestamp'));
        if (mt !== undefined && mt !== firstTs) {
          if (!(mt >= MIN_TS)) {
            out.rejects.push({
              reason: 'bad_timestamp',
              detail: `metric '${name.slice(0, 64)}' timestamp ${mt} before 2000`,
            });
            continue;
          }
          if (mt - receivedAt > this.settings.maxSkewMs) {
            out.rejects.push({
              reason: 'future_timestamp',
              detail: `metric '${name.slice(0, 64)}' is ${Math.round((mt - receivedAt) / 1000)} s in the future`,
            });
            continue;
          }
          if (mt - receivedAt > this.settings.futureToleranceMs) {
            ts = receivedAt;
            sourceTs = mt;
          } else ts = mt;
        }
      }
      out.readings.push({
        siteId: dmap.siteId,
        deviceId: dmap.deviceId,
        channel: mapped.channel,
        ts,
        value: v.value,
        quality: qualityOf(m),
        receivedAt,
        sourceTs,
      });
    }
    if (out.readings.length === 0 && out.rejects.length > 0) out.refused = true;
  }

  private askRebirth(s: NodeSession, out: SparkplugOutcome, receivedAt: number, reason: string): void {
    if (out.rebirth) return;
    if (receivedAt - s.lastRebirthAt < this.config.rebirthIntervalMs) return;
    s.lastRebirthAt = receivedAt;
    s.rebirths++;
    out.rebirth = { group: s.map.group, node: s.map.node, reason };
  }
}
