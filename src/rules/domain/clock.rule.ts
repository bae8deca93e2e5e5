/**
 * `clock_fault`: a device whose clock is ahead of the server beyond the future tolerance, or found behind, raises it;
 * it clears when ingest finds the clock right again. Ingest's clock tracker decides (docs/ingest-time-and-sequence.md);
 * this fleet machine turns its changes into conditions. The readings of such a device are still evaluated (timed at
 * arrival), so the condition is maintenance-class (low by default).
 */
import { ConditionSlot, NO_SEED, type SeedLookup } from './condition';
import { lastDeviceLookup } from './device-lookup';
import type { RuleMachine } from './rule-machine';
import type { ClockChange } from '../../common/types';
import type { ClockRule } from './rule-spec';

const seconds = (ms: number): number => Math.round(ms / 1000);

export function createClockMachine(
  rules: readonly ClockRule[],
  seed: SeedLookup = NO_SEED,
): RuleMachine<ClockChange> {
  type Entry = { rule: ClockRule; slot: ConditionSlot };
  const bySite = new Map<string, Map<string, Entry>>();
  for (const rule of rules) {
    const slot = new ConditionSlot(
      {
        ruleId: rule.ruleId,
        siteId: rule.siteId,
        sourceId: rule.sourceId,
        deviceId: rule.deviceId,
        condition: 'clock_fault',
      },
      rule.priority,
      seed,
    );
    let m = bySite.get(rule.siteId);
    if (!m) bySite.set(rule.siteId, (m = new Map<string, Entry>()));
    m.set(rule.deviceId, { rule, slot });
  }
  const entryOf = lastDeviceLookup(bySite);
  return {
    input(e, ts, emit) {
      const entry = entryOf(e.siteId, e.deviceId);
      if (!entry) return;
      const { rule, slot } = entry;
      const fault = e.state !== 'ok';
      const off = seconds(Math.abs(e.offsetMs));
      const message =
        e.state === 'ahead'
          ? `${rule.deviceId} clock ${off} s ahead of the server (tolerance ${seconds(e.limitMs)} s): readings timed at arrival`
          : e.state === 'behind'
            ? `${rule.deviceId} clock ${off} s behind the server (limit ${seconds(e.limitMs)} s): readings timed at arrival`
            : `${rule.deviceId} clock right again (offset ${seconds(e.offsetMs)} s)`;
      slot.set(fault, rule.priority, seconds(e.offsetMs), seconds(e.limitMs), ts, message, emit);
    },
    advance() {},
    nextDue: () => Infinity,
  };
}
