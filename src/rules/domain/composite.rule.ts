/**
 * Composite conditions from config: AND / OR of condition terms (any matching condition active) and channel terms
 * (a device channel compared with a value), with
 * - `withinMs`: a term counts as true if it was true at any time within the window (correlation "A and B within 60 s"),
 * - `forMs`: the combination must hold this long before it is raised ("gas HH in area A and valve V still open after
 *   10 s"); it clears as soon as it is false.
 */
import type { Reading } from '../../common/types';
import {
  conditionKey,
  ConditionSlot,
  NO_SEED,
  type ConditionChange,
  type Emit,
  type SeedLookup,
} from './condition';
import { isCondition } from './interlock.rule';
import { DelayFilter } from './on-off-delay';
import type { RuleMachine } from './rule-machine';
import { refMatches, type CompareOp, type CompositeRule, type CompositeTerm } from './rule-spec';

type TermState = {
  term: CompositeTerm;
  active: Set<string>;
  current: boolean;
  endedAt: number;
  lastTs: number;
};

export function compare(a: unknown, op: CompareOp, b: number | string | boolean): boolean {
  switch (op) {
    case 'eq':
      return a === b;
    case 'ne':
      return a !== b;
    case 'gt':
      return typeof a === 'number' && typeof b === 'number' && a > b;
    case 'ge':
      return typeof a === 'number' && typeof b === 'number' && a >= b;
    case 'lt':
      return typeof a === 'number' && typeof b === 'number' && a < b;
    case 'le':
      return typeof a === 'number' && typeof b === 'number' && a <= b;
  }
}

const describe = (t: CompositeTerm): string =>
  t.kind === 'condition'
    ? t.refs.map((r) => `${r.condition}${r.deviceId ? `@${r.deviceId}` : ''}`).join('|')
    : `${t.deviceId}.${t.channel} ${t.op} ${String(t.value)}`;

export function createCompositeMachine(
  rule: CompositeRule,
  seed: SeedLookup = NO_SEED,
  activeNow: readonly ConditionChange[] = [],
): RuleMachine<ConditionChange | Reading> {
  const slot = new ConditionSlot(
    { ruleId: rule.ruleId, siteId: rule.siteId, sourceId: rule.sourceId, condition: rule.condition },
    rule.priority,
    seed,
  );
  const filter = new DelayFilter(rule.forMs, 0, slot.active);
  const terms: TermState[] = rule.terms.map((term) => ({
    term,
    active: new Set<string>(),
    current: false,
    endedAt: -Infinity,
    lastTs: -Infinity,
  }));
  for (const c of activeNow) {
    for (const t of terms) {
      if (t.term.kind === 'condition' && c.active && t.term.refs.some((r) => refMatches(r, c))) {
        t.active.add(conditionKey(c));
        t.current = true;
      }
    }
  }
  let lastTs = -Infinity;

  const termTrue = (t: TermState, ts: number): boolean => t.current || ts - t.endedAt < rule.withinMs;
  const combined = (ts: number): boolean =>
    rule.op === 'and' ? terms.every((t) => termTrue(t, ts)) : terms.some((t) => termTrue(t, ts));
  const setCurrent = (t: TermState, v: boolean, ts: number): void => {
    if (t.current && !v) t.endedAt = ts;
    t.current = v;
  };
  const publish = (at: number, emit: Emit): void => {
    const on = filter.active;
    const detail = terms
      .map((t) => `${describe(t.term)}=${termTrue(t, at) ? 'true' : 'false'}`)
      .join(rule.op === 'and' ? ' AND ' : ' OR ');
    slot.set(
      on,
      rule.priority,
      null,
      null,
      at,
      on ? `${rule.message} (${detail})` : `${rule.message}: cleared (${detail})`,
      emit,
    );
  };
  const evaluate = (ts: number, emit: Emit): void => {
    const t = filter.update(combined(ts), ts);
    if (!Number.isNaN(t)) publish(t, emit);
  };

  return {
    input(x, ts, emit) {
      let touched = false;
      for (const t of terms) {
        const term = t.term;
        if (isCondition(x)) {
          if (term.kind !== 'condition' || !term.refs.some((r) => refMatches(r, x))) continue;
          const key = conditionKey(x);
          if (x.active) t.active.add(key);
          else t.active.delete(key);
          setCurrent(t, t.active.size > 0, ts);
          touched = true;
        } else {
          if (
            term.kind !== 'channel' ||
            term.deviceId !== x.deviceId ||
            term.channel !== x.channel ||
            term.siteId !== x.siteId
          )
            continue;
          if (ts < t.lastTs || x.quality === 'bad') continue;
          t.lastTs = ts;
          setCurrent(t, compare(x.value, term.op, term.value), ts);
          touched = true;
        }
      }
      if (!touched) return;
      if (ts > lastTs) lastTs = ts;
      evaluate(lastTs, emit);
    },
    advance(ts, emit) {
      if (ts > lastTs) lastTs = ts;
      const t = filter.advance(ts);
      if (!Number.isNaN(t)) publish(t, emit);
      evaluate(ts, emit);
    },
    nextDue() {
      let due = filter.nextDue();
      if (rule.withinMs > 0) {
        for (const t of terms) {
          const end = t.endedAt + rule.withinMs;
          if (!t.current && end > lastTs && end < due) due = end;
        }
      }
      return due;
    },
  };
}
