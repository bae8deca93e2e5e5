/**
 * Voting MooN across the gas detectors of one area: the vote is active when at least k members are "above the level"
 * (their member condition, gas_l2 by default, is active or was active within the window). Faulted members (detector
 * fault, bad quality, stale, offline) are counted as configured: `tripped` (2oo3 → 1oo2, fail-safe) or `excluded`
 * (2oo3 → 2oo2). `vote_degraded` is raised while fewer than k members are healthy, because the vote then cannot
 * trip on gas alone (excluded) or trips on faults (tripped). In hazwatch voting only sets priority (DOMAIN §4).
 */
import { ConditionSlot, NO_SEED, type ConditionChange, type Emit, type SeedLookup } from './condition';
import type { RuleMachine } from './rule-machine';
import type { VoteRule } from './rule-spec';

type Member = { deviceId: string; levelActive: boolean; levelEndedAt: number; faults: Set<string> };

export function createVoteMachine(
  rule: VoteRule,
  seed: SeedLookup = NO_SEED,
  activeNow: readonly ConditionChange[] = [],
): RuleMachine<ConditionChange> {
  const id = { ruleId: rule.ruleId, siteId: rule.siteId, sourceId: rule.sourceId };
  const vote = new ConditionSlot({ ...id, condition: 'vote' }, rule.priority, seed);
  const degraded = new ConditionSlot({ ...id, condition: 'vote_degraded' }, rule.degradedPriority, seed);
  const members = new Map<string, Member>(
    rule.members.map((d) => [
      d,
      { deviceId: d, levelActive: false, levelEndedAt: -Infinity, faults: new Set<string>() },
    ]),
  );
  const faultSet = new Set(rule.faultConditions);
  const apply = (c: ConditionChange): boolean => {
    if (c.siteId !== rule.siteId || c.deviceId === undefined) return false;
    const m = members.get(c.deviceId);
    if (!m) return false;
    if (c.condition === rule.memberCondition) {
      if (m.levelActive && !c.active) m.levelEndedAt = c.ts;
      m.levelActive = c.active;
      return true;
    }
    if (faultSet.has(c.condition)) {
      if (c.active) m.faults.add(c.condition);
      else m.faults.delete(c.condition);
      return true;
    }
    return false;
  };
  for (const c of activeNow) apply(c);
  let lastTs = -Infinity;

  const evaluate = (ts: number, emit: Emit): void => {
    let above = 0;
    let faulted = 0;
    const names: string[] = [];
    for (const m of members.values()) {
      if (m.faults.size > 0) {
        faulted++;
        if (rule.faulted === 'tripped') {
          above++;
          names.push(`${m.deviceId} (faulted)`);
        }
      } else if (m.levelActive || ts - m.levelEndedAt < rule.windowMs) {
        above++;
        names.push(m.deviceId);
      }
    }
    const healthy = members.size - faulted;
    const n = rule.faulted === 'excluded' ? healthy : members.size;
    const on = above >= rule.k;
    const scheme = `${rule.k}oo${n}`;
    if (on !== vote.active)
      vote.set(
        on,
        rule.priority,
        above,
        rule.k,
        ts,
        on
          ? `area ${rule.area}: ${rule.memberCondition} voted ${above} of ${members.size} (${scheme}): ${names.join(', ')}`
          : `area ${rule.area}: vote ${rule.memberCondition} reset (${above} of ${members.size} within ${rule.windowMs / 1000} s)`,
        emit,
      );
    const isDegraded = healthy < rule.k;
    if (isDegraded !== degraded.active)
      degraded.set(
        isDegraded,
        rule.degradedPriority,
        healthy,
        rule.k,
        ts,
        isDegraded
          ? `area ${rule.area}: only ${healthy} of ${members.size} detectors healthy, vote needs ${rule.k} (faulted counted as ${rule.faulted})`
          : `area ${rule.area}: ${healthy} of ${members.size} detectors healthy again`,
        emit,
      );
  };

  return {
    input(c, ts, emit) {
      if (!apply(c)) return;
      if (ts > lastTs) lastTs = ts;
      evaluate(lastTs, emit);
    },
    advance(ts, emit) {
      if (ts > lastTs) lastTs = ts;
      evaluate(ts, emit);
    },
    nextDue() {
      // Only the expiry of a member's window can change the count without an input.
      let due = Infinity;
      for (const m of members.values()) {
        if (m.levelActive || m.faults.size > 0) continue;
        const end = m.levelEndedAt + rule.windowMs;
        if (end > lastTs && end < due) due = end;
      }
      return due;
    },
  };
}
