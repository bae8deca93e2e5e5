import type { ChannelValue, Reading } from '../../src/common/types';

/** A reading with sensible defaults (a chlorine detector of the demo plant). */
export function makeReading(over: Partial<Reading> = {}): Reading {
  const ts = over.ts ?? 1_732_400_000_000;
  return {
    siteId: 'bohai-chem',
    deviceId: 'cl-gd-1',
    channel: 'conc',
    value: 0,
    quality: 'good',
    receivedAt: ts,
    ...over,
    ts,
  };
}

/** A reading at event time (and arrival time) `t` ms: in marble tests `t` is the frame the reading is emitted at. */
export function readingAt(t: number, value: ChannelValue, over: Partial<Reading> = {}): Reading {
  return makeReading({ receivedAt: t, ...over, ts: t, value });
}
