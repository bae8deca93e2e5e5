/**
 * Stale detection for a whole fleet of devices: a device with no reading for its timeout (N × its publish period) is
 * stale; a silent gas detector is a hazard in itself. Runs on arrival time (`receivedAt`, the ingest clock), one timer
 * for the fleet (the earliest deadline), O(1) work per reading. Devices never heard from since the engine started
 * count from `startTs`.
 */
import type { Reading } from '../../common/types';
import { ConditionSlot, NO_SEED, type SeedLookup } from './condition';
import { lastDeviceLookup } from './device-lookup';
import type { RuleMachine } from './rule-machine';
import type { StaleRule } from './rule-spec';

type Entry = { rule: StaleRule; slot: ConditionSlot; lastSeen: number };

export function createStaleMachine(
  rules: readonly StaleRule[],
  startTs: number,
  seed: SeedLookup = NO_SEED,
): RuleMachine<Reading> {
  const bySite = new Map<string, Map<string, Entry>>();
  const entries: Entry[] = [];
  for (const rule of rules) {
    const slot = new ConditionSlot(
      {
        ruleId: rule.ruleId,
        siteId: rule.siteId,
        sourceId: rule.sourceId,
        deviceId: rule.deviceId,
        condition: 'stale',
      },
      rule.priority,
      seed,
    );
    const e: Entry = { rule, slot, lastSeen: startTs };
    entries.push(e);
    let m = bySite.get(rule.siteId);
    if (!m) bySite.set(rule.siteId, (m = new Map<string, Entry>()));
    m.set(rule.deviceId, e);
  }
  let due = entries.reduce(
    (d, e) => (e.slot.active ? d : Math.min(d, e.lastSeen + e.rule.timeoutMs)),
    Infinity,
  );

  const entryOf = lastDeviceLookup(bySite);

  return {
    input(r, ts, emit) {
      const e = entryOf(r.siteId, r.deviceId);
      if (!e || ts <= e.lastSeen) return;
      e.lastSeen = ts;
      if (e.slot.active) {
        e.slot.set(
          false,
          e.rule.priority,
          null,
          e.rule.timeoutMs / 1000,
          ts,
          `${e.rule.deviceId} reporting again`,
          emit,
        );
        due = Math.min(due, ts + e.rule.timeoutMs);
      }
    },
    advance(ts, emit) {
      let next = Infinity;
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        if (e.slot.active) continue;
        const deadline = e.lastSeen + e.rule.timeoutMs;
        if (deadline <= ts) {
          const silent = Math.round((ts - e.lastSeen) / 1000);
          e.slot.set(
            true,
            e.rule.priority,
            silent,
            e.rule.timeoutMs / 1000,
            deadline,
            `${e.rule.deviceId} silent: no reading for ${silent} s (limit ${e.rule.timeoutMs / 1000} s)`,
            emit,
          );
        } else if (deadline < next) next = deadline;
      }
      due = next;
    },
    nextDue() {
      // Lazy: the deadline only moves later with new readings; `advance` recomputes it. Between advances a fresh reading
      // of a stale device may need a new deadline, which the next advance finds.
      if (due === Infinity) {
        for (const e of entries) if (!e.slot.active) due = Math.min(due, e.lastSeen + e.rule.timeoutMs);
      }
      return due;
    },
  };
}
