/**
 * Safety-system health (the "four systems": ESD, gas detection, video, lightning warning). `fault` raises
 * system_fault (ESD: critical, "ESD failed"); `bypassed` raises bypassed, escalated to a higher priority when the
 * bypass lasts longer than allowed. The clear message records how long the bypass lasted (journalled by the alarm module).
 */
import type { Reading } from '../../common/types';
import { ConditionSlot, NO_SEED, type SeedLookup } from './condition';
import type { RuleMachine } from './rule-machine';
import type { SafetySystemRule } from './rule-spec';

const minutes = (ms: number): string => `${Math.round(ms / 600) / 100} min`;

export function createSafetySystemMachine(
  rule: SafetySystemRule,
  seed: SeedLookup = NO_SEED,
): RuleMachine<Reading> {
  const id = { ruleId: rule.ruleId, siteId: rule.siteId, sourceId: rule.sourceId, deviceId: rule.deviceId };
  const fault = new ConditionSlot({ ...id, condition: 'system_fault' }, rule.faultPriority, seed);
  const bypass = new ConditionSlot({ ...id, condition: 'bypassed' }, rule.bypassPriority, seed);
  let lastTs = -Infinity;
  /** Event time the current bypass began (NaN when not bypassed, or unknown after a seed). */
  let bypassSince = NaN;
  let seededBypass = bypass.active;
  const name = `${rule.system.toUpperCase()} system ${rule.deviceId}`;

  return {
    input(r, ts, emit) {
      if (typeof r.value !== 'string' || ts < lastTs) return;
      lastTs = ts;
      const status = r.value;
      const isFault = status === 'fault';
      if (isFault !== fault.active)
        fault.set(
          isFault,
          rule.faultPriority,
          status,
          'ok',
          ts,
          isFault ? `${name} in fault` : `${name} fault cleared (${status})`,
          emit,
        );
      const isBypassed = status === 'bypassed';
      if (isBypassed && !bypass.active) {
        bypassSince = ts;
        bypass.set(
          true,
          rule.bypassPriority,
          status,
          rule.bypassAllowedMs / 1000,
          ts,
          `${name} bypassed (allowed ${minutes(rule.bypassAllowedMs)})`,
          emit,
        );
      } else if (isBypassed && seededBypass) {
        // Seeded from a previous engine: restart the allowance from now rather than guess.
        seededBypass = false;
        bypassSince = ts;
      } else if (!isBypassed && bypass.active) {
        const lasted = Number.isNaN(bypassSince) ? '' : ` after ${minutes(ts - bypassSince)}`;
        bypass.set(
          false,
          bypass.priority,
          status,
          rule.bypassAllowedMs / 1000,
          ts,
          `${name} bypass ended${lasted}`,
          emit,
        );
        bypassSince = NaN;
        seededBypass = false;
      }
    },
    advance(ts, emit) {
      if (
        bypass.active &&
        !Number.isNaN(bypassSince) &&
        ts - bypassSince >= rule.bypassAllowedMs &&
        bypass.priority !== rule.escalatedPriority
      ) {
        bypass.set(
          true,
          rule.escalatedPriority,
          'bypassed',
          rule.bypassAllowedMs / 1000,
          ts,
          `${name} bypassed for ${minutes(ts - bypassSince)}, longer than the allowed ${minutes(rule.bypassAllowedMs)}`,
          emit,
        );
      }
    },
    nextDue() {
      if (bypass.active && !Number.isNaN(bypassSince) && bypass.priority !== rule.escalatedPriority)
        return bypassSince + rule.bypassAllowedMs;
      return Infinity;
    },
  };
}
