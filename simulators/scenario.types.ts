/**
 * Scenarios override simulated device values over time (one scenario per rule kind). A scenario is
 * pure: given a device, the model time since the simulator started and the normal (base) values, it says
 * what the device reports instead. The simulator applies it; nothing else changes.
 */
import type { Quality } from '../src/common/types';
import type { ChannelValues, SimDevice } from './device.model';

export const SCENARIO_NAMES = [
  'chlorine-leak',
  'overfill',
  'valve-stuck',
  'detector-drift',
  'detector-fault',
  'comms-loss',
  'lightning-system-fault',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export type DeviceOverride = {
  /** Channel values that replace the base values (other channels keep their base value). */
  values?: ChannelValues;
  quality?: Quality;
  /** Publish no telemetry while true; the connection stays up (the device goes stale). */
  silent?: boolean;
  /**
   * Drop the device's MQTT connection without DISCONNECT while true, so the broker publishes its last will
   * (`offline`); the device reconnects and announces `online` when this is no longer set.
   */
  offline?: boolean;
};

export type ScenarioRun = {
  /** Keys (`site/device`) of the devices the scenario acts on, for the log. */
  readonly targets: readonly string[];
  /** What the device reports at model time `tMs` instead of `base`; undefined = unchanged. */
  override(device: SimDevice, tMs: number, base: ChannelValues): DeviceOverride | undefined;
};

export type Scenario = {
  readonly name: ScenarioName;
  readonly description: string;
  /** Picks the target devices among those simulated; throws ScenarioError when the plant lacks them. */
  prepare(devices: readonly SimDevice[], opts?: ScenarioOptions): ScenarioRun;
};

export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

/** By default scenarios start this long after the simulator, so devices first report normal values. */
export const SCENARIO_START_MS = 10_000;

export type ScenarioOptions = {
  /** Model time (ms since the simulator started) at which the scenario begins. Default SCENARIO_START_MS. */
  startMs?: number;
  /**
   * The scenario's own process runs this many times faster (default 1): leak rise and stagger, fill rate, drift rate,
   * late valve closing and comms-loss duration are compressed. Device sampling and every rule timing (on-delays, travel
   * times, stale and offline delays) are unchanged: only the plant misbehaves faster.
   */
  speed?: number;
};
