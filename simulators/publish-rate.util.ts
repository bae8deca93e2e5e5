/** How often each simulated device publishes. */
import type { SimDevice } from './device.model';
import { deviceKey } from './device.model';

export type RateOptions = {
  /** Multiplier on every device's configured rate (periodS / rate). Default 1. */
  rate?: number;
  /** Total messages/s across all devices, shared in proportion to their configured rates (overrides `rate`). */
  messagesPerSecond?: number;
  /** One fixed period for every device, ms (overrides both). */
  periodMs?: number;
};

/** Shortest period a device timer can honour. */
export const MIN_PERIOD_MS = 1;

/** Period in ms per device key. Throws RangeError on a non-positive rate. */
export function resolvePeriods(devices: readonly SimDevice[], opts: RateOptions): Map<string, number> {
  const periods = new Map<string, number>();
  if (opts.periodMs !== undefined) {
    if (!(opts.periodMs > 0)) throw new RangeError(`period must be > 0 ms, got ${opts.periodMs}`);
    for (const d of devices) periods.set(deviceKey(d), Math.max(MIN_PERIOD_MS, opts.periodMs));
    return periods;
  }
  let multiplier = opts.rate ?? 1;
  if (opts.messagesPerSecond !== undefined) {
    if (!(opts.messagesPerSecond > 0))
      throw new RangeError(`messages/s must be > 0, got ${opts.messagesPerSecond}`);
    const natural = devices.reduce((sum, d) => sum + 1 / d.periodS, 0);
    multiplier = natural > 0 ? opts.messagesPerSecond / natural : 1;
  }
  if (!(multiplier > 0) || !Number.isFinite(multiplier))
    throw new RangeError(`rate must be a positive number, got ${multiplier}`);
  for (const d of devices)
    periods.set(deviceKey(d), Math.max(MIN_PERIOD_MS, (d.periodS * 1000) / multiplier));
  return periods;
}
