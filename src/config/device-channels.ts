import type { DeviceKind } from '../common/types';
import type { DeviceSchema } from './plant.schema';

/** What a channel may carry. Numeric channels have an instrument span and wider physical limits. */
export type ChannelSpec =
  | {
      readonly type: 'number';
      readonly span: readonly [number, number];
      readonly physical: readonly [number, number];
    }
  | { readonly type: 'boolean' }
  | { readonly type: 'enum'; readonly values: ReadonlySet<string> };

const DEFAULT_SPAN: Record<string, [number, number]> = {
  conc: [0, 100],
  level_pct: [0, 100],
  temp_c: [-40, 150],
  pressure_kpa: [0, 2500],
  value: [0, 100],
  wind_speed_ms: [0, 60],
  wind_dir_deg: [0, 360],
};

/** Channels per device kind (docs/contract.md §2). */
export const KIND_CHANNELS: Record<DeviceKind, readonly string[]> = {
  gas_detector: ['conc', 'fault'],
  tank: ['level_pct', 'temp_c', 'pressure_kpa'],
  shutoff_valve: ['position', 'demand'],
  safety_system: ['status'],
  /** Generic analog input: process temperature, pressure, flow … in the device's `unit`. */
  analog: ['value'],
  /** Generic discrete alarm input (true/false; which value means alarm is the device's `alarmWhen`). */
  discrete: ['state'],
  /** Site weather station: wind speed (m/s) and the direction the wind blows from (degrees, 0 = north). */
  weather: ['wind_speed_ms', 'wind_dir_deg'],
};

/** Boolean channels (everything else is numeric unless it is an enum). */
const BOOLEAN_CHANNELS: ReadonlySet<string> = new Set(['fault', 'state', 'level_switch_hh']);

const ENUMS: Record<string, ReadonlySet<string>> = {
  position: new Set(['open', 'closed', 'moving', 'fault']),
  demand: new Set(['open', 'closed']),
  status: new Set(['ok', 'fault', 'bypassed']),
};

/** Physical limits: a quarter span beyond the instrument span each side. Past them a value cannot be real. */
export function physicalLimits(span: readonly [number, number]): [number, number] {
  const margin = (span[1] - span[0]) * 0.25;
  return [span[0] - margin, span[1] + margin];
}

/** Channel specs for a device, keyed by channel name. */
export function deviceChannels(
  device: Pick<DeviceSchema, 'kind' | 'ranges'> & { readonly levelSwitchHHPct?: number },
): Map<string, ChannelSpec> {
  const specs = new Map<string, ChannelSpec>();
  const names = [...KIND_CHANNELS[device.kind]];
  // A tank with an independent HH level switch publishes it as the boolean channel level_switch_hh.
  if (device.kind === 'tank' && device.levelSwitchHHPct !== undefined) names.push('level_switch_hh');
  for (const ch of names) {
    if (BOOLEAN_CHANNELS.has(ch)) specs.set(ch, { type: 'boolean' });
    else if (ENUMS[ch]) specs.set(ch, { type: 'enum', values: ENUMS[ch] });
    else {
      const span = device.ranges?.[ch] ?? DEFAULT_SPAN[ch] ?? [0, 100];
      specs.set(ch, { type: 'number', span, physical: physicalLimits(span) });
    }
  }
  return specs;
}
