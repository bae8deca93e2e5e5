/**
 * Per-device clock and sequence tracking on the ingest hot path (pure: no I/O, no clock read, no allocation per
 * message). See docs/ingest-time-and-sequence.md and docs/adr/0010-device-clocks.md.
 *
 * Clock: a message's `ts` is the device's claim. The tracker decides the time hazwatch uses for the message's readings
 * (stored and evaluated):
 * - more than `futureToleranceMs` ahead of arrival: the arrival time (a device cannot measure the future; its claim is
 *   kept as the device's clock offset), and the clock is `ahead` at once;
 * - every message over at least `windowMs` of arrival time (and at least `MIN_BEHIND_MESSAGES`) lagging arrival by more
 *   than `behindMs`, by a steady amount (varying by at most `behindMs / 2`: a backlog that drains is not a clock), or a
 *   step back of more than `behindMs` between two consecutive sequence numbers: the clock is `behind`, and from then
 *   on its lagging messages use the arrival time too;
 * - `CLEAR_AFTER` consecutive messages within the tolerances: the clock is `ok` again.
 * A `ts` within the tolerances is used as sent. A time used is never later than arrival + `futureToleranceMs`.
 *
 * Sequence: the optional `seq` of a device's messages. A forward jump of more than one is a gap (`jump − 1` messages
 * missing upstream); an equal or slightly lower seq (up to `SEQ_REPLAY_WINDOW` back) is a duplicate or a redelivery,
 * not a gap; a bigger step back (or a forward jump above `SEQ_MAX_GAP`) is a device restart, which re-bases the count.
 */
import type { ClockChange } from '../../common/types';

export type { ClockChange };

export type ClockState = 'unknown' | 'ok' | 'ahead' | 'behind';

export type ClockSettings = {
  /** A `ts` further ahead of arrival than this is not used: the message is timed at arrival. */
  readonly futureToleranceMs: number;
  /** Lag beyond which a device clock counts as behind (when it persists over `windowMs`). */
  readonly behindMs: number;
  /** How long (arrival time) every message must lag before the clock is declared behind. */
  readonly windowMs: number;
};

export const DEFAULT_CLOCK_SETTINGS: ClockSettings = {
  futureToleranceMs: 5_000,
  behindMs: 120_000,
  windowMs: 120_000,
};

/** Fleet-wide counts, read by the metrics at scrape time (the hot path only increments numbers). */
export type LinkTotals = {
  seqGaps: number;
  seqMissing: number;
  seqRestarts: number;
  /** Messages timed at arrival because the device's clock was wrong. */
  clockRetimed: number;
  /** Devices whose clock is `ahead` or `behind` right now. */
  clockFaulty: number;
};

export const newLinkTotals = (): LinkTotals => ({
  seqGaps: 0,
  seqMissing: 0,
  seqRestarts: 0,
  clockRetimed: 0,
  clockFaulty: 0,
});

/** Consecutive good messages that clear a clock fault (one good reading among bad ones is not enough). */
export const CLEAR_AFTER = 3;
/** Lagging messages needed (besides the window) before a clock counts as behind. */
export const MIN_BEHIND_MESSAGES = 3;
/** A seq this far below the last one (or closer) is a duplicate or a broker redelivery, not a restart. */
export const SEQ_REPLAY_WINDOW = 64;
/** A forward jump beyond this is a re-seeded counter (restart), not that many lost messages. */
export const SEQ_MAX_GAP = 100_000;

export class DeviceTracker {
  // ---- clock
  clock: ClockState = 'unknown';
  /** Device time − arrival of the last message, ms (NaN before the first). */
  offsetMs = NaN;
  /** Arrival time at which the current clock state began (NaN: unknown). */
  clockSince = NaN;
  /** Messages of this device timed at arrival. */
  retimed = 0;
  /** Set when `clock` changed on the last `observe`; the caller reads `change()` and clears it. */
  changed = false;
  private lagSince = NaN;
  private lagCount = 0;
  private lagMin = 0;
  private lagMax = 0;
  private okStreak = 0;
  private lastDeviceTs = NaN;
  // ---- sequence
  /** Highest seq seen since the last restart (-1: none yet). */
  lastSeq = -1;
  seqGaps = 0;
  seqMissing = 0;
  seqRestarts = 0;
  seqDuplicates = 0;
  /**
   * Of `seqMissing`, the messages missing in gaps that followed a silence longer than `silentGapMs` (arrival time): the
   * device was already stale or offline for hazwatch, and that loss is annunciated by the link alarms, not again as a
   * data gap (docs/ingest-time-and-sequence.md).
   */
  seqMissingAfterSilence = 0;
  private lastArrival = NaN;

  constructor(
    readonly siteId: string,
    readonly deviceId: string,
    private readonly settings: ClockSettings = DEFAULT_CLOCK_SETTINGS,
    private readonly totals: LinkTotals = newLinkTotals(),
    /** Arrival silence after which a gap counts as already annunciated (the device's stale window); ∞: never. */
    private readonly silentGapMs = Number.POSITIVE_INFINITY,
  ) {}

  /**
   * Observes one message's claimed time `ts` and `seq` (-1: none) at `receivedAt`; returns the time to use for its
   * readings. Call once per message whose timestamp is valid.
   */
  observe(ts: number, seq: number, receivedAt: number): number {
    const contiguous = seq >= 0 && this.lastSeq >= 0 && seq === this.lastSeq + 1;
    const silent = receivedAt - this.lastArrival > this.silentGapMs;
    this.lastArrival = receivedAt;
    if (seq >= 0) this.observeSeq(seq, silent);
    const s = this.settings;
    const offset = ts - receivedAt;
    const stepBack = contiguous && this.lastDeviceTs - ts > s.behindMs;
    this.offsetMs = offset;
    this.lastDeviceTs = ts;
    if (offset > s.futureToleranceMs) {
      this.okStreak = 0;
      this.lagSince = NaN;
      this.lagCount = 0;
      if (this.clock !== 'ahead') this.setClock('ahead', receivedAt);
      return this.retime(receivedAt);
    }
    if (-offset > s.behindMs) {
      this.okStreak = 0;
      const lag = -offset;
      if (lag < this.lagMin) this.lagMin = lag;
      if (lag > this.lagMax) this.lagMax = lag;
      // NaN check: the first lagging message; or a lag that moves by more than half the limit is not a clock but a
      // queue draining (broker backlog after a server restart, a device replaying its buffer): start the window again
      if (this.lagSince !== this.lagSince || this.lagMax - this.lagMin > s.behindMs / 2) {
        this.lagSince = receivedAt;
        this.lagCount = 0;
        this.lagMin = this.lagMax = lag;
      }
      this.lagCount++;
      if (
        this.clock !== 'behind' &&
        (stepBack || (this.lagCount >= MIN_BEHIND_MESSAGES && receivedAt - this.lagSince >= s.windowMs))
      )
        this.setClock('behind', receivedAt);
      return this.clock === 'behind' ? this.retime(receivedAt) : ts;
    }
    this.lagSince = NaN;
    this.lagCount = 0;
    if (this.clock === 'unknown') this.setClock('ok', receivedAt);
    else if (this.clock !== 'ok' && ++this.okStreak >= CLEAR_AFTER) this.setClock('ok', receivedAt);
    return ts;
  }

  /** The change made by the last `observe` (when `changed`); clears the flag. */
  change(): ClockChange {
    this.changed = false;
    const state = this.clock === 'unknown' ? 'ok' : this.clock;
    const limitMs = state === 'behind' ? this.settings.behindMs : this.settings.futureToleranceMs;
    return {
      siteId: this.siteId,
      deviceId: this.deviceId,
      state,
      offsetMs: this.offsetMs,
      limitMs,
      ts: this.clockSince,
    };
  }

  private retime(receivedAt: number): number {
    this.retimed++;
    this.totals.clockRetimed++;
    return receivedAt;
  }

  private setClock(state: ClockState, at: number): void {
    const wasFaulty = this.clock === 'ahead' || this.clock === 'behind';
    const faulty = state === 'ahead' || state === 'behind';
    if (faulty && !wasFaulty) this.totals.clockFaulty++;
    else if (!faulty && wasFaulty) this.totals.clockFaulty--;
    this.clock = state;
    this.clockSince = at;
    this.okStreak = 0;
    this.changed = true;
  }

  private observeSeq(seq: number, silent: boolean): void {
    const last = this.lastSeq;
    if (last < 0) {
      this.lastSeq = seq;
      return;
    }
    const d = seq - last;
    if (d === 1) {
      this.lastSeq = seq;
    } else if (d > 1 && d <= SEQ_MAX_GAP) {
      this.seqGaps++;
      this.seqMissing += d - 1;
      if (silent) this.seqMissingAfterSilence += d - 1;
      this.totals.seqGaps++;
      this.totals.seqMissing += d - 1;
      this.lastSeq = seq;
    } else if (d <= 0 && -d <= SEQ_REPLAY_WINDOW) {
      this.seqDuplicates++;
    } else {
      this.seqRestarts++;
      this.totals.seqRestarts++;
      this.lastSeq = seq;
    }
  }
}

/** What `GET /api/devices` shows of a device's link. */
export function linkView(t: DeviceTracker): Record<string, unknown> {
  return {
    clock: t.clock,
    clockOffsetS: t.offsetMs === t.offsetMs ? Math.round(t.offsetMs / 100) / 10 : null,
    clockSince: t.clockSince === t.clockSince ? new Date(t.clockSince).toISOString() : null,
    clockRetimed: t.retimed,
    lastSeq: t.lastSeq >= 0 ? t.lastSeq : null,
    seqGaps: t.seqGaps,
    seqMissing: t.seqMissing,
    seqRestarts: t.seqRestarts,
    seqDuplicates: t.seqDuplicates,
  };
}
