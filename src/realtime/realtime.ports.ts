/**
 * What the /ws gateway consumes from other modules, as small ports. realtime.adapters.ts binds them to the real
 * services (AuthService, ScopeService, AlarmService, IngestService, RulesService); tests bind fakes.
 */
import type { Observable } from 'rxjs';
import type { Principal } from '../auth/principal';
import type { Reading } from '../common/types';
import type { AlarmEventDto, HazardDto } from './domain/client-events';

export const WS_AUTHENTICATOR = Symbol('WS_AUTHENTICATOR');
export const WS_SCOPE = Symbol('WS_SCOPE');
export const ALARM_FEED = Symbol('ALARM_FEED');
export const TELEMETRY_FEED = Symbol('TELEMETRY_FEED');
export const HAZARD_FEED = Symbol('HAZARD_FEED');
export const STORAGE_STATUS = Symbol('STORAGE_STATUS');
export const REALTIME_OPTIONS = Symbol('REALTIME_OPTIONS');

export type WsAuthenticator = {
  /** The principal for a bearer token, or null (missing, invalid, revoked, rate-limited). */
  authenticateToken(token: string, clientIp: string): Promise<Principal | null>;
  /**
   * Revocations as they happen (this server, another one, the CLI): `token` closes that token's sessions at once,
   * `resync` (revocations may have been missed) re-checks every session's token now. Absent: no push, re-checks only.
   */
  readonly revocations$?: Observable<
    { readonly kind: 'token'; readonly id: string } | { readonly kind: 'resync' }
  >;
  /** A token's standing now, for the periodic re-check of long-lived sessions; throws when it cannot be read. */
  tokenStatus?(tokenId: string): Promise<'active' | 'revoked' | 'unknown'>;
};

export type WsScope = {
  /** Site ids the principal may see (resolved once per connection). */
  visibleSiteIds(principal: Principal): ReadonlySet<string>;
};

export type AlarmFeed = {
  /** Every alarm event, live, in seq order. Hot; never completes while the app runs. */
  readonly events$: Observable<AlarmEventDto>;
  /** Seq of the newest alarm event (0 when none). */
  currentSeq(): number;
  /** Every alarm event with seq > since that the principal may see, in seq order (from the journal). */
  eventsSince(since: number, principal: Principal): Promise<readonly AlarmEventDto[]>;
  /**
   * Cluster feeds only: reads what is final in the journal now and returns the new current seq, so a client resuming
   * from a seq another node already pushed is not taken for one from another journal.
   */
  refresh?(): Promise<number>;
};

/**
 * Thrown by `AlarmFeed.eventsSince` when the missed events cannot be replayed (too many): the client is told to reset,
 * i.e. reload the alarm list over HTTP and continue live. Alarm state is not lost; intermediate events stay in the journal.
 */
export class ReplayGapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayGapError';
  }
}

export type TelemetryFeed = { readonly telemetry$: Observable<Reading> };

export type HazardFeed = { readonly hazard$: Observable<HazardDto> };

export type StorageStatus = {
  storageDegraded(): boolean;
  /** Every alarm event up to this seq is in the journal table (drives the `journalled` frame). */
  journalledSeq?(): number;
  /** Why the database is not usable (liveness probe), or undefined. */
  databaseReason?(): string | undefined;
};

export type RealtimeOptions = {
  /** Time a client has to authenticate before it is closed with 4401. */
  readonly authTimeoutMs: number;
  /** Send-buffer ceiling per client; above it the client is closed with 4408. */
  readonly maxBufferedBytes: number;
  /** Minimum time between two telemetry frames of one device to one client. */
  readonly telemetryIntervalMs: number;
  /** Live alarm events buffered per client while its replay loads; beyond it the client is closed (it resumes). */
  readonly maxReplayBuffer: number;
  /** Replay frames sent before waiting for the socket to drain. */
  readonly replayChunk: number;
  /** Protocol ping interval; a client that misses one pong is terminated. 0 disables. */
  readonly heartbeatMs: number;
  /** How often the storage status is polled for changes. */
  readonly statusPollMs: number;
  /** A slow client that does not complete the close handshake is terminated after this. */
  readonly closeGraceMs: number;
  /** How often every open session's token is re-checked against the token store (revoked or deleted → closed). */
  readonly tokenRecheckMs: number;
};

export const DEFAULT_REALTIME_OPTIONS: RealtimeOptions = Object.freeze({
  authTimeoutMs: 5_000,
  maxBufferedBytes: 4 * 1024 * 1024,
  telemetryIntervalMs: 250,
  maxReplayBuffer: 10_000,
  replayChunk: 500,
  heartbeatMs: 30_000,
  statusPollMs: 1_000,
  closeGraceMs: 2_000,
  tokenRecheckMs: 60_000,
});
