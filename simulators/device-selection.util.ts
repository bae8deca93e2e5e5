import type { PlantModel } from '../src/config/config.loader';
import { deviceKey, type SimDevice } from './device.model';

/**
 * The devices to simulate, in plant order: all of them; the first N (a count); or those named in a list
 * (`site/device` keys or bare device ids). An unknown name is an error, not a silently smaller plant.
 */
export function selectDevices(plant: PlantModel, selection?: number | readonly string[]): SimDevice[] {
  const all = [...plant.deviceByKey.values()];
  if (selection === undefined) return all;
  if (typeof selection === 'number') {
    if (!Number.isInteger(selection) || selection < 1)
      throw new RangeError(`--devices must be a positive integer or a list of device ids, got ${selection}`);
    return all.slice(0, selection);
  }
  const wanted = new Set(selection);
  const picked = all.filter((d) => wanted.has(deviceKey(d)) || wanted.has(d.id));
  const known = new Set(all.flatMap((d) => [deviceKey(d), d.id]));
  const unknown = [...wanted].filter((w) => !known.has(w));
  if (unknown.length) throw new RangeError(`unknown device(s) ${unknown.join(', ')}: not in the plant model`);
  return picked;
}
