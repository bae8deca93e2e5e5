import type { DeviceKind } from '../../src/common/types';
import { deviceKey, type SimDevice } from '../device.model';
import { SCENARIO_START_MS, ScenarioError, type ScenarioName, type ScenarioOptions } from '../scenario.types';

/** The first simulated device (plant order) of a kind that matches, or a ScenarioError naming what is missing. */
export function firstDevice(
  name: ScenarioName,
  devices: readonly SimDevice[],
  kind: DeviceKind,
  what: string,
  match: (d: SimDevice) => boolean = () => true,
): SimDevice {
  const found = devices.find((d) => d.kind === kind && match(d));
  if (!found)
    throw new ScenarioError(`scenario '${name}' needs ${what} among the simulated devices; there is none`);
  return found;
}

/** Identity test by site and device id. */
export const sameDevice = (a: SimDevice, b: SimDevice): boolean => a.siteId === b.siteId && a.id === b.id;

export const keys = (devices: readonly SimDevice[]): string[] => devices.map(deviceKey);

/** Level 2 set point of a gas detector, or half its span when not configured. */
export function level2Of(d: SimDevice, span: readonly [number, number]): number {
  return d.level2 ?? span[0] + 0.5 * (span[1] - span[0]);
}

/** When a scenario starts and how fast its own process runs (ScenarioOptions with defaults, validated). */
export type ScenarioTiming = {
  readonly startMs: number;
  readonly speed: number;
  /** Scenario time (ms since the scenario began, × speed) at model time `tMs`; negative before the start. */
  elapsed(tMs: number): number;
};

export function scenarioTiming(name: ScenarioName, opts: ScenarioOptions | undefined): ScenarioTiming {
  const startMs = opts?.startMs ?? SCENARIO_START_MS;
  const speed = opts?.speed ?? 1;
  if (!Number.isFinite(startMs) || startMs < 0)
    throw new ScenarioError(`scenario '${name}': start must be a time >= 0 ms, got ${startMs}`);
  if (!Number.isFinite(speed) || speed <= 0)
    throw new ScenarioError(`scenario '${name}': speed must be a positive number, got ${speed}`);
  return { startMs, speed, elapsed: (tMs) => (tMs - startMs) * speed };
}
