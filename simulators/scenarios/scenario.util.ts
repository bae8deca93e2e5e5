import type { DeviceKind } from '../../src/common/types';
import { deviceKey, type SimDevice } from '../device.model';
import { ScenarioError, type ScenarioName } from '../scenario.types';

/** The first simulated device (plant order) of a kind that matches, or a ScenarioError naming what is missing. */
export function firstDevice(name: ScenarioName, devices: readonly SimDevice[], kind: DeviceKind, what: string, match: (d: SimDevice) => boolean = () => true): SimDevice {
  const found = devices.find((d) => d.kind === kind && match(d));
  if (!found) throw new ScenarioError(`scenario '${name}' needs ${what} among the simulated devices; there is none`);
  return found;
}

/** Identity test by site and device id. */
export const sameDevice = (a: SimDevice, b: SimDevice): boolean => a.siteId === b.siteId && a.id === b.id;

export const keys = (devices: readonly SimDevice[]): string[] => devices.map(deviceKey);

/** Level 2 set point of a gas detector, or half its span when not configured. */
export function level2Of(d: SimDevice, span: readonly [number, number]): number {
  return d.level2 ?? span[0] + 0.5 * (span[1] - span[0]);
}
