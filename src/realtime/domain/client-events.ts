/**
 * The /ws wire contract (docs/contract.md §4): frames `{"event": "...", "data": {...}}`. Event names are public.
 * Pure types and a frame parser: no Nest, no ws.
 */
import type { AlarmEventDto, AlarmState } from '../../alarms/domain/alarm.types';
import type { ChannelValue, ColourLevel } from '../../common/types';

/**
 * The alarm wire types are defined once, in the alarm module (`src/alarms/domain/alarm.types.ts`): an alarm event as
 * pushed to clients is the full snapshot plus `seq` (monotonic across all alarm events), the event type and, live,
 * `journalled` (docs/contract.md §4).
 */
export type { AlarmEventDto, AlarmState };

/** Server → client `hello`, sent once right after successful authentication. */
export type HelloDto = {
  readonly seq: number;
  readonly server: 'hazwatch';
  readonly version: string;
  readonly principal: { readonly name: string; readonly role: string; readonly scope: string };
};

/** Server → client `telemetry`: latest values of one subscribed device (channels coalesced, latest value wins). */
export type TelemetryDto = {
  readonly siteId: string;
  readonly deviceId: string;
  /** Event time of the newest reading in this frame, epoch ms. */
  readonly ts: number;
  readonly values: Readonly<Record<string, ChannelValue>>;
};

/** Server → client `hazard`: a hazard source whose live grade or four-colour level changed. */
export type HazardDto = {
  readonly sourceId: string;
  readonly siteId: string;
  readonly grade: number;
  readonly level: ColourLevel;
  readonly [extra: string]: unknown;
};

export type RejectedEntry = {
  readonly entry: string;
  readonly reason: 'malformed' | 'unknown_device' | 'out_of_scope';
};

/** Server → client `subscribed`: the effective subscription after a `subscribe`, sent after any replay was delivered. */
export type SubscribedDto = {
  readonly alarms: boolean;
  readonly telemetry: readonly string[];
  readonly rejected: readonly RejectedEntry[];
  /** Alarm events replayed for `since` by this subscribe. */
  readonly replayed: number;
  /**
   * True when `since` was ahead of the server's current seq (the server's journal is not the one the client saw):
   * the client must discard its alarm list and reload it.
   */
  readonly reset: boolean;
};

/** Server → client `status`: server-side conditions the console shows as banners. */
export type StatusDto = { readonly storageDegraded: boolean; readonly databaseReason?: string };

/** Server → client `journalled`: every alarm event with seq ≤ `seq` is now in the journal table. */
export type JournalledDto = { readonly seq: number };

export type ErrorCode =
  | 'auth_failed'
  | 'auth_timeout'
  | 'auth_required'
  | 'bad_frame'
  | 'slow_client'
  | 'replay_failed'
  | 'replay_overflow';

/** Server → client `error`. Errors that end the connection are followed by a close with `closeCode`. */
export type ErrorDto = { readonly code: ErrorCode; readonly message: string; readonly closeCode?: number };

export type ClientEventMap = {
  hello: HelloDto;
  alarm: AlarmEventDto;
  telemetry: TelemetryDto;
  hazard: HazardDto;
  subscribed: SubscribedDto;
  status: StatusDto;
  journalled: JournalledDto;
  error: ErrorDto;
};

export type ClientEvent = keyof ClientEventMap;

/** Close codes (4000–4999 are application codes). */
export const CLOSE = {
  unauthorized: 4401,
  slowClient: 4408,
  badFrame: 4400,
  internal: 1011,
  goingAway: 1001,
} as const;

export const encodeFrame = <E extends ClientEvent>(event: E, data: ClientEventMap[E]): string =>
  JSON.stringify({ event, data });

// ---------------------------------------------------------------------------------------------------------------------
// Client → server commands

export type AuthCommand = { readonly event: 'auth'; readonly token: string };
export type SubscribeCommand = {
  readonly event: 'subscribe';
  /** Absent: unchanged. */
  readonly alarms?: boolean;
  /** `siteId/deviceId` entries. Absent: unchanged; present: replaces the telemetry subscription. */
  readonly telemetry?: readonly string[];
  /** Replay every alarm event with seq > since before live ones. */
  readonly since?: number;
};
export type ClientCommand = AuthCommand | SubscribeCommand;

export type ParseResult =
  { readonly ok: true; readonly command: ClientCommand } | { readonly ok: false; readonly reason: string };

const MAX_TELEMETRY_ENTRIES = 500;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and validates one client frame. Never throws. */
export function parseClientFrame(raw: string): ParseResult {
  let msg: unknown;
  try {
    msg = JSON.parse(raw);
  } catch {
    return { ok: false, reason: 'frame is not valid JSON' };
  }
  if (!isRecord(msg) || typeof msg.event !== 'string')
    return { ok: false, reason: 'frame must be {"event": string, "data": object}' };
  const data = msg.data === undefined ? {} : msg.data;
  if (!isRecord(data)) return { ok: false, reason: `${msg.event}: data must be an object` };
  switch (msg.event) {
    case 'auth': {
      if (typeof data.token !== 'string' || data.token.length === 0 || data.token.length > 512)
        return { ok: false, reason: 'auth: data.token must be a non-empty string' };
      return { ok: true, command: { event: 'auth', token: data.token } };
    }
    case 'subscribe': {
      const { alarms, telemetry, since } = data;
      if (alarms !== undefined && typeof alarms !== 'boolean')
        return { ok: false, reason: 'subscribe: data.alarms must be a boolean' };
      if (
        since !== undefined &&
        since !== null &&
        !(typeof since === 'number' && Number.isSafeInteger(since) && since >= 0)
      )
        return { ok: false, reason: 'subscribe: data.since must be a non-negative integer' };
      if (telemetry !== undefined) {
        if (!Array.isArray(telemetry) || !telemetry.every((t): t is string => typeof t === 'string'))
          return {
            ok: false,
            reason: 'subscribe: data.telemetry must be an array of "siteId/deviceId" strings',
          };
        if (telemetry.length > MAX_TELEMETRY_ENTRIES)
          return { ok: false, reason: `subscribe: at most ${MAX_TELEMETRY_ENTRIES} telemetry entries` };
      }
      return {
        ok: true,
        command: {
          event: 'subscribe',
          ...(alarms !== undefined ? { alarms } : {}),
          ...(telemetry !== undefined ? { telemetry } : {}),
          ...(typeof since === 'number' ? { since } : {}),
        },
      };
    }
    default:
      return { ok: false, reason: `unknown event '${msg.event}' (expected auth or subscribe)` };
  }
}
