/** The part of the plant model the rule compiler reads (structural: the config module's PlantModel satisfies it). */
import type { DeviceKind } from '../../common/types';

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
export type SiteView = {
  readonly id: string;
  readonly hazardSources: readonly HazardSourceView[];
  readonly devices: readonly DeviceView[];
};
export type PlantView = { readonly sites: readonly SiteView[] };
