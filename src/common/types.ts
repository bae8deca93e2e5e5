/** Shared, framework-free types. */

export type Quality = 'good' | 'uncertain' | 'bad';
/** Stored as smallint in telemetry.quality (public contract, docs/contract.md §5). */
export const QUALITY_CODE: Record<Quality, number> = { good: 0, uncertain: 1, bad: 2 };

export type ChannelValue = number | boolean | string;

/** One channel reading of one device: the unit of telemetry$ and of a telemetry row. */
export type Reading = {
  readonly siteId: string;
  readonly deviceId: string;
  readonly channel: string;
  /** Event time (device clock), epoch ms. */
  readonly ts: number;
  readonly value: ChannelValue;
  readonly quality: Quality;
  /** Arrival time at hazwatch, epoch ms. */
  readonly receivedAt: number;
  /** The message's `seq` when the device sent one: part of the reading's storage key (docs/adr/0014-idempotent-telemetry.md). */
  readonly seq?: number | undefined;
  /**
   * The device's own time (epoch ms) when ingest re-timed the reading to its arrival because the device clock is wrong
   * (docs/ingest-time-and-sequence.md); absent otherwise. A redelivery repeats it where `ts` differs, so storage keys
   * re-timed readings by it (docs/adr/0027-retimed-readings-key.md).
   */
  readonly sourceTs?: number | undefined;
};

export type DeviceKind =
  'gas_detector' | 'tank' | 'shutoff_valve' | 'safety_system' | 'analog' | 'discrete' | 'weather';
export type Priority = 'critical' | 'high' | 'medium' | 'low';
export type ColourLevel = 'red' | 'orange' | 'yellow' | 'blue';

export const PRIORITY_LEVEL: Record<Priority, ColourLevel> = {
  critical: 'red',
  high: 'orange',
  medium: 'yellow',
  low: 'blue',
};

export const PRIORITY_RANK: Record<Priority, number> = { critical: 4, high: 3, medium: 2, low: 1 };

export type DeviceState = 'online' | 'offline';

/**
 * What the rule engine consumes: one reading, or the readings of one message (one device, one event time, in message
 * order). Ingest sends whole messages, so per-element stream plumbing is paid once per message, not per channel.
 */
export type ReadingInput = Reading | readonly Reading[];

/**
 * A change of a device's clock health, decided by ingest's clock tracker and turned into the rule engine's
 * `clock_fault` condition (docs/ingest-time-and-sequence.md).
 */
export type ClockChange = {
  readonly siteId: string;
  readonly deviceId: string;
  readonly state: 'ok' | 'ahead' | 'behind';
  /** Device time − arrival time of the message that decided it, ms (positive: the device clock is ahead). */
  readonly offsetMs: number;
  /** The tolerance that was exceeded (or is kept again), ms. */
  readonly limitMs: number;
  /** Arrival time of that message. */
  readonly ts: number;
};

/** The first (or only) reading of an input; a message batch is never empty. */
export const firstReading = (x: ReadingInput): Reading => (isReadingBatch(x) ? x[0]! : x);

export const isReadingBatch = (x: ReadingInput): x is readonly Reading[] => Array.isArray(x);
