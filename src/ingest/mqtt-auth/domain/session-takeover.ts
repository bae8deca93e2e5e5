/**
 * Detects that another client took the server's MQTT session (same client id): the broker then disconnects the
 * server, which reconnects and takes it back, and so on, while the intruder receives part of the server's messages.
 * Pure; fed by the MQTT client's events with the injected clock's time (docs/adr/0009-mqtt-authentication.md).
 *
 * - MQTT 5: the broker sends DISCONNECT with reason 0x8E "Session taken over" → suspected at once.
 * - MQTT 3.1.1 (what hazwatch speaks; Aedes supports nothing newer) has no such reason: the broker just closes the
 *   socket. Heuristic: `streak` broker-side closes within `windowMs`, each after a successful CONNACK and with no
 *   network error (connection refused/reset, keepalive timeout) since that CONNACK, and each reconnect succeeding at
 *   once. A broker restart or a network cut produces errors or failed reconnects, which reset the streak.
 * Cleared once the server has held its connection for `clearAfterMs` without a close.
 */

export type TakeoverReason = 'session_taken_over' | 'repeated_broker_closes';

export type TakeoverState = {
  readonly suspected: boolean;
  readonly reason: TakeoverReason | null;
  /** When the current suspicion started (epoch ms), or null. */
  readonly since: number | null;
  /** Broker-side closes counted toward the current suspicion. */
  readonly closes: number;
};

export type TakeoverOptions = {
  readonly streak: number;
  readonly windowMs: number;
  readonly clearAfterMs: number;
};

export const DEFAULT_TAKEOVER_OPTIONS: TakeoverOptions = {
  streak: 3,
  windowMs: 60_000,
  clearAfterMs: 60_000,
};

/** MQTT 5 reason code "Session taken over". */
export const REASON_SESSION_TAKEN_OVER = 0x8e;

export const NO_TAKEOVER: TakeoverState = { suspected: false, reason: null, since: null, closes: 0 };

export class SessionTakeoverDetector {
  private state: TakeoverState = NO_TAKEOVER;
  private connectedAt: number | null = null;
  private erroredSinceConnect = false;
  private takenOverPacket = false;
  private closes: number[] = [];

  constructor(private readonly opts: TakeoverOptions = DEFAULT_TAKEOVER_OPTIONS) {}

  get current(): TakeoverState {
    return this.state;
  }

  /** CONNACK accepted. */
  connected(now: number): void {
    this.connectedAt = now;
    this.erroredSinceConnect = false;
    this.takenOverPacket = false;
  }

  /** Any client error (network, keepalive, refused CONNACK): the next close is not evidence of a takeover. */
  error(): void {
    this.erroredSinceConnect = true;
  }

  /** A DISCONNECT packet from the broker (MQTT 5). */
  disconnectPacket(reasonCode: number | undefined, now: number): TakeoverState {
    if (reasonCode !== REASON_SESSION_TAKEN_OVER) return this.state;
    this.takenOverPacket = true;
    this.closes.push(now);
    return this.raise('session_taken_over', now);
  }

  /**
   * The connection closed. `byUs`: we ended it (shutdown). Returns the new state (the same object when unchanged).
   */
  closed(now: number, byUs = false): TakeoverState {
    const wasConnected = this.connectedAt !== null;
    const clean = wasConnected && !this.erroredSinceConnect && !byUs;
    this.connectedAt = null;
    if (this.takenOverPacket) {
      this.takenOverPacket = false;
      return this.state;
    }
    if (!clean) {
      // A failed attempt or a network error: not a takeover pattern. Keep an already raised suspicion.
      this.closes = [];
      return this.state;
    }
    this.closes = this.closes.filter((t) => now - t < this.opts.windowMs);
    this.closes.push(now);
    if (this.closes.length >= this.opts.streak) return this.raise('repeated_broker_closes', now);
    return this.state;
  }

  /** Periodic check: clears the suspicion once the session has been held for clearAfterMs. */
  tick(now: number): TakeoverState {
    if (
      this.state.suspected &&
      this.connectedAt !== null &&
      now - this.connectedAt >= this.opts.clearAfterMs
    ) {
      this.closes = [];
      this.state = NO_TAKEOVER;
    }
    return this.state;
  }

  private raise(reason: TakeoverReason, now: number): TakeoverState {
    const closes = this.closes.length;
    this.state = this.state.suspected
      ? {
          ...this.state,
          closes,
          reason: this.state.reason === 'session_taken_over' ? this.state.reason : reason,
        }
      : { suspected: true, reason, since: now, closes };
    return this.state;
  }
}
