/**
 * Pure reading of a broker's running drop counter (Mosquitto `$SYS/broker/publish/messages/dropped`): the count of
 * messages the broker discarded since it started — a subscriber's queue full (`max_queued_messages` /
 * `max_queued_bytes`), among others. Every increase is data lost outside hazwatch (docs/adr/0014-idempotent-telemetry.md).
 */

/** What one value of the counter means, given the values seen before it. */
export type DropObservation = {
  /** Messages dropped since the previous value (0: no new loss). */
  readonly increase: number;
  /** The counter went down: the broker restarted (its counter starts at 0 again). */
  readonly brokerRestarted: boolean;
  /** The first value this process saw: the whole count is reported, since nobody watched the broker before. */
  readonly first: boolean;
};

/** Parses a `$SYS` payload: a non-negative integer in ASCII, or undefined. */
export function parseCounter(payload: string): number | undefined {
  const s = payload.trim();
  if (!/^\d{1,15}$/.test(s)) return undefined;
  return Number(s);
}

/**
 * Turns successive counter values into increases. The first value counts whole (drops before hazwatch watched — e.g.
 * while it was down and the broker queued for it — are still losses nobody reported); a value lower than the previous
 * one means the broker restarted, and counts whole too (its drops since that restart).
 */
export class BrokerDropTracker {
  private last: number | undefined;

  observe(value: number): DropObservation {
    const prev = this.last;
    this.last = value;
    if (prev === undefined) return { increase: value, brokerRestarted: false, first: true };
    if (value < prev) return { increase: value, brokerRestarted: true, first: false };
    return { increase: value - prev, brokerRestarted: false, first: false };
  }

  /** The last value seen, if any. */
  get lastValue(): number | undefined {
    return this.last;
  }
}
