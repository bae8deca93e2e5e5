/**
 * The rule-kind registry: one compiler per `kind` of compiled rule (src/rules/domain/rule-spec.ts). The `satisfies`
 * clauses make `tsc` fail when a kind is added to rule-spec without a compiler here (CONTRACT: CONTRIBUTING.md, "How
 * to add a rule kind"). Order matters and is the order below: it is the order rules are added to a channel (which
 * the engine evaluates in turn) and the order problems are reported.
 */
import type { ChannelRule, DeviceRule, DeviceRules } from '../rule-spec';
import { compositeCompiler, interlockCompiler, voteCompiler } from './area-kinds';
import { limitCompiler, overfillCompiler, rangeCompiler, rocCompiler } from './channel-kinds';
import {
  clockCompiler,
  flagCompiler,
  offlineCompiler,
  qualityCompiler,
  safetySystemCompiler,
  staleCompiler,
  valveCompiler,
} from './device-kinds';
import type { AreaKindCompiler, AreaRuleKind, DeviceKindCompilerFactory } from './kind-compiler';

/** Every kind of rule that hangs on one device. */
export type DeviceRuleKind =
  ChannelRule['kind'] | DeviceRule['kind'] | NonNullable<DeviceRules['stale' | 'offline' | 'clock']>['kind'];

export const DEVICE_RULE_COMPILERS = {
  limit: limitCompiler,
  range: rangeCompiler,
  roc: rocCompiler,
  overfill: overfillCompiler,
  flag: flagCompiler,
  safety_system: safetySystemCompiler,
  quality: qualityCompiler,
  valve: valveCompiler,
  stale: staleCompiler,
  offline: offlineCompiler,
  clock: clockCompiler,
} as const satisfies Record<DeviceRuleKind, DeviceKindCompilerFactory>;

export const AREA_RULE_COMPILERS = {
  vote: voteCompiler,
  interlock: interlockCompiler,
  composite: compositeCompiler,
} as const satisfies { readonly [K in AreaRuleKind]: AreaKindCompiler<K> };
