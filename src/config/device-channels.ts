import type { DeviceKind } from '../common/types';
import type { DeviceSchema } from './plant.schema';

/** What a channel may carry. Numeric channels have an instrument span and wider physical limits. */
export type ChannelSpec =
  | { readonly type: 'number'; readonly span: readonly [number, number]; readonly physical: readonly [number, number] }
  | { readonly type: 'boolean' }
  | { readonly type: 'enum'; readonly values: ReadonlySet<string> };

const DEFAULT_SPAN: Record<string, [number, number]> = {
  conc: [0, 100],
  level_pct: [0, 100],
  temp_c: [-40, 150],
  pressure_kpa: [0, 2500],
};

/** Channels per device kind (CONTRACT §2). */
export const KIND_CHANNELS: Record<DeviceKind, readonly string[]> = {
  gas_detector: ['conc', 'fault'],
  tank: ['level_pct', 'temp_c', 'pressure_kpa'],
  shutoff_valve: ['position', 'demand'],
  safety_system: ['status'],
};

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
export function deviceChannels(device: Pick<DeviceSchema, 'kind' | 'ranges'>): Map<string, ChannelSpec> {
  const specs = new Map<string, ChannelSpec>();
  for (const ch of KIND_CHANNELS[device.kind]) {
    if (ch === 'fault') specs.set(ch, { type: 'boolean' });
    else if (ENUMS[ch]) specs.set(ch, { type: 'enum', values: ENUMS[ch] });
    else {
      const span = device.ranges?.[ch] ?? DEFAULT_SPAN[ch] ?? [0, 100];
      specs.set(ch, { type: 'number', span, physical: physicalLimits(span) });
    }
  }
  return specs;
}
