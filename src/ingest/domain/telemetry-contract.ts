/**
 * The device → hazwatch MQTT payload contract (docs/contract.md §2). Shared by ingest and the simulators,
 * so both sides compile against one definition.
 */
import type { ChannelValue, DeviceState, Quality } from '../../common/types';

export const TOPIC_ROOT = 'hazwatch/v1';
export const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export type TelemetryPayload = {
  /** Epoch milliseconds or an ISO-8601 string with time zone. */
  ts: number | string;
  seq?: number;
  values: Record<string, ChannelValue>;
  quality?: Quality;
};

export const telemetryTopic = (siteId: string, deviceId: string): string =>
  `${TOPIC_ROOT}/${siteId}/${deviceId}/telemetry`;
export const stateTopic = (siteId: string, deviceId: string): string =>
  `${TOPIC_ROOT}/${siteId}/${deviceId}/state`;
/** Subscriptions the server makes. */
export const SUBSCRIPTIONS = [`${TOPIC_ROOT}/+/+/telemetry`, `${TOPIC_ROOT}/+/+/state`] as const;

export type ParsedTopic = { kind: 'telemetry' | 'state'; siteId: string; deviceId: string };

/** Returns null for anything that is not exactly hazwatch/v1/{site}/{device}/{telemetry|state}. */
export function parseTopic(topic: string): ParsedTopic | null {
  const parts = topic.split('/');
  if (parts.length !== 5 || parts[0] !== 'hazwatch' || parts[1] !== 'v1') return null;
  const [, , siteId, deviceId, kind] = parts as [string, string, string, string, string];
  if (kind !== 'telemetry' && kind !== 'state') return null;
  if (!ID_RE.test(siteId) || !ID_RE.test(deviceId)) return null;
  return { kind, siteId, deviceId };
}

export type StatePayload = DeviceState;
