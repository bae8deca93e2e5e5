/** The part of the plant model the rule compiler reads (structural: the config module's PlantModel satisfies it). */
import type { DeviceKind, Priority } from '../../common/types';

export type ChannelView =
  | { readonly type: 'number'; readonly span: readonly [number, number] }
  | { readonly type: 'boolean' }
  | { readonly type: 'enum' };

export type DeviceView = {
  readonly id: string;
  readonly kind: DeviceKind;
  readonly name: string;
  readonly sourceId: string;
  readonly area: string;
  readonly periodS: number;
  readonly gas?: string;
  readonly gasClass?: 'combustible' | 'toxic';
  readonly unit?: string;
  readonly level1?: number;
  readonly level2?: number;
  readonly capacityM3?: number;
  readonly densityTPerM3?: number;
  readonly substance?: string;
  readonly maxFillPct?: number;
  readonly geometry?: 'vertical_cylinder' | 'horizontal_cylinder' | 'sphere' | 'strapping';
  readonly strapping?: readonly (readonly [number, number])[];
  readonly tankType?: 'atmospheric' | 'pressurised' | 'refrigerated';
  readonly designPressureKpa?: number;
  readonly reliefSetKpa?: number;
  readonly designMinTempC?: number;
  readonly designMaxTempC?: number;
  readonly levelSwitchHHPct?: number;
  readonly limits?: { readonly LL?: number; readonly L?: number; readonly H?: number; readonly HH?: number };
  readonly alarmWhen?: boolean;
  readonly priority?: Priority;
  readonly travelTimeS?: number;
  readonly system?: string;
  readonly channels: ReadonlyMap<string, ChannelView>;
};

export type SubstanceView = {
  readonly substance: string;
  readonly criticalQ: number;
  readonly beta: number;
  readonly designQ: number;
  readonly fixedQ?: number;
};
export type HazardSourceView = {
  readonly id: string;
  readonly name: string;
  readonly peopleWithin500m: number;
  readonly filedGrade: number;
  readonly substances: readonly SubstanceView[];
};
/** One row of the plant's cause-and-effect matrix (docs/plant-model.md). */
export type CauseEffectView = {
  readonly id: string;
  readonly cause: {
    readonly vote?: string;
    readonly levelSwitchHH?: string;
    readonly discrete?: string;
    readonly rule?: string;
    readonly condition?: string;
  };
  readonly close: readonly string[];
  readonly closeWithinS?: number;
};
export type SiteView = {
  readonly id: string;
  readonly causeAndEffect?: readonly CauseEffectView[];
  readonly hazardSources: readonly HazardSourceView[];
  readonly devices: readonly DeviceView[];
};
export type PlantView = { readonly sites: readonly SiteView[] };
