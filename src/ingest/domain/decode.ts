/**
 * Pure decoding and validation of device messages: no I/O, no clock, no framework. The hot path uses
 * plain checks (class-validator is far too slow per message at tens of thousands of messages/s).
 */
import { QUALITY_CODE, type DeviceState, type Quality, type Reading } from '../../common/types';
import type { ChannelSpec } from '../../config/device-channels';
import type { DeviceTracker } from './device-tracker';

export type RejectReason =
  | 'bad_topic'
  | 'unknown_device'
  | 'payload_too_large'
  | 'invalid_json'
  | 'invalid_schema'
  | 'bad_timestamp'
  | 'future_timestamp'
  | 'unknown_channel'
  | 'wrong_type'
  | 'out_of_range'
  | 'bad_state'
  | 'sparkplug_decode'
  | 'sparkplug_unknown_alias'
  | 'sparkplug_unsupported'
  | 'sparkplug_null';

/** Every reason, for metrics initialisation and docs. */
export const REJECT_REASONS: readonly RejectReason[] = [
  'bad_topic',
  'unknown_device',
  'payload_too_large',
  'invalid_json',
  'invalid_schema',
  'bad_timestamp',
  'future_timestamp',
  'unknown_channel',
  'wrong_type',
  'out_of_range',
  'bad_state',
  // Sparkplug B (docs/sparkplug.md)
  'sparkplug_decode',
  'sparkplug_unknown_alias',
  'sparkplug_unsupported',
  'sparkplug_null',
];

export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** 2000-01-01: anything earlier is a device clock that was never set. */
const MIN_TS = 946_684_800_000;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

export type Reject = { reason: RejectReason; detail: string };

export type DecodeContext = {
  siteId: string;
  deviceId: string;
  /** Channel specs of the configured device. */
  channels: ReadonlyMap<string, ChannelSpec>;
  /** Arrival time, epoch ms. */
  receivedAt: number;
  maxSkewMs: number;
  /**
   * The device's clock and sequence tracker (ingest sets it per message): it sees every message with a valid `ts` and
   * decides the time its readings carry (the arrival time when the device clock is wrong, docs/ingest-time-and-sequence.md).
   * Absent: readings carry `ts` as sent.
   */
  tracker?: DeviceTracker | undefined;
};

export type DecodeResult = { readings: Reading[]; rejects: readonly Reject[]; seq?: number };

/** Shared by every clean message (the usual case): no array allocated per message for no rejects. */
const NO_REJECTS: readonly Reject[] = Object.freeze([]);

function rejectAll(reason: RejectReason, detail: string): DecodeResult {
  return { readings: [], rejects: [{ reason, detail }] };
}

export function parseTimestamp(ts: unknown): number | null {
  if (typeof ts === 'number') return Number.isFinite(ts) && ts >= MIN_TS ? Math.round(ts) : null;
  if (typeof ts === 'string' && ISO_RE.test(ts)) {
    const t = Date.parse(ts);
    return Number.isFinite(t) && t >= MIN_TS ? t : null;
  }
  return null;
}

const QUALITIES = new Set<string>(Object.keys(QUALITY_CODE));

/**
 * Decodes one telemetry payload. Good values survive bad neighbours: each bad value is its own reject.
 */
export function decodeTelemetry(payload: Buffer | string, ctx: DecodeContext): DecodeResult {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (size > MAX_PAYLOAD_BYTES) return rejectAll('payload_too_large', `${size} bytes > ${MAX_PAYLOAD_BYTES}`);
  let body: unknown;
  try {
    body = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch (err) {
    return rejectAll('invalid_json', (err as Error).message);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return rejectAll('invalid_schema', 'payload must be a JSON object');
  const msg = body as Record<string, unknown>;
  const values = msg.values;
  if (values === null || typeof values !== 'object' || Array.isArray(values))
    return rejectAll('invalid_schema', '"values" must be an object');
  let quality: Quality = 'good';
  if (msg.quality !== undefined) {
    if (typeof msg.quality !== 'string' || !QUALITIES.has(msg.quality))
      return rejectAll('invalid_schema', '"quality" must be good, uncertain or bad');
    quality = msg.quality as Quality;
  }
  let seq: number | undefined;
  if (msg.seq !== undefined) {
    if (typeof msg.seq !== 'number' || !Number.isSafeInteger(msg.seq) || msg.seq < 0)
      return rejectAll('invalid_schema', '"seq" must be a non-negative integer');
    seq = msg.seq;
  }
  if (msg.ts === undefined) return rejectAll('invalid_schema', '"ts" is required');
  const ts = parseTimestamp(msg.ts);
  if (ts === null) return rejectAll('bad_timestamp', `unparseable ts ${JSON.stringify(msg.ts).slice(0, 64)}`);
  if (ts - ctx.receivedAt > ctx.maxSkewMs)
    return rejectAll('future_timestamp', `ts is ${Math.round((ts - ctx.receivedAt) / 1000)} s in the future`);
  const at = ctx.tracker ? ctx.tracker.observe(ts, seq ?? -1, ctx.receivedAt) : ts;

  const readings: Reading[] = [];
  let rejects: Reject[] | undefined;
  const entries = values as Record<string, unknown>;
  let count = 0;
  for (const channel in entries) {
    if (!Object.prototype.hasOwnProperty.call(entries, channel)) continue;
    count++;
    const value = entries[channel];
    const spec = ctx.channels.get(channel);
    if (!spec) {
      (rejects ??= []).push({ reason: 'unknown_channel', detail: `channel '${channel.slice(0, 64)}'` });
      continue;
    }
    switch (spec.type) {
      case 'number':
        if (typeof value !== 'number' || !Number.isFinite(value)) {
          (rejects ??= []).push({ reason: 'wrong_type', detail: `${channel} must be a finite number` });
          continue;
        }
        if (value < spec.physical[0] || value > spec.physical[1]) {
          (rejects ??= []).push({
            reason: 'out_of_range',
            detail: `${channel}=${value} outside physical limits [${spec.physical[0]}, ${spec.physical[1]}]`,
          });
          continue;
        }
        break;
      case 'boolean':
        if (typeof value !== 'boolean') {
          (rejects ??= []).push({ reason: 'wrong_type', detail: `${channel} must be a boolean` });
          continue;
        }
        break;
      case 'enum':
        if (typeof value !== 'string' || !spec.values.has(value)) {
          (rejects ??= []).push({
            reason: 'wrong_type',
            detail: `${channel} must be one of ${[...spec.values].join('|')}`,
          });
          continue;
        }
        break;
    }
    // One object shape for both (the rule engine's call sites stay monomorphic); sourceTs is set only when re-timed.
    readings.push({
      siteId: ctx.siteId,
      deviceId: ctx.deviceId,
      channel,
      ts: at,
      value: value,
      quality,
      receivedAt: ctx.receivedAt,
      seq,
      sourceTs: at === ts ? undefined : ts,
    });
  }
  if (count === 0) return rejectAll('invalid_schema', '"values" is empty');
  return seq === undefined
    ? { readings, rejects: rejects ?? NO_REJECTS }
    : { readings, rejects: rejects ?? NO_REJECTS, seq };
}

/** Decodes a retained `state` payload: "online" / "offline", bare or JSON-quoted. */
export function decodeState(payload: Buffer | string): DeviceState | null {
  const s = (typeof payload === 'string' ? payload : payload.toString('utf8'))
    .trim()
    .replace(/^"(.*)"$/, '$1');
  return s === 'online' || s === 'offline' ? s : null;
}
