/**
 * Hidden-danger items (隐患) raised from alarms: open → rectifying → verified → closed. The enterprise rectifies and
 * verifies; only a regulator signs off (销号, docs/domain.md §1), or sends a verified item back to rectification. Pure.
 */
import type { Capability } from '../../auth/domain/capability.policy';

export type HiddenDangerState = 'open' | 'rectifying' | 'verified' | 'closed';
export const HIDDEN_DANGER_STATES: readonly HiddenDangerState[] = [
  'open',
  'rectifying',
  'verified',
  'closed',
];

const TRANSITIONS: ReadonlyArray<{ from: HiddenDangerState; to: HiddenDangerState; needs: Capability }> = [
  { from: 'open', to: 'rectifying', needs: 'alarm.disposition' },
  { from: 'rectifying', to: 'verified', needs: 'alarm.disposition' },
  { from: 'verified', to: 'closed', needs: 'disposition.review' },
  { from: 'verified', to: 'rectifying', needs: 'disposition.review' },
];

export type HiddenDangerMove = { ok: true } | { ok: false; status: 403 | 409; reason: string };

export function checkHiddenDangerMove(
  from: HiddenDangerState,
  to: HiddenDangerState,
  holds: (c: Capability) => boolean,
): HiddenDangerMove {
  const t = TRANSITIONS.find((x) => x.from === from && x.to === to);
  if (!t) return { ok: false, status: 409, reason: `a hidden-danger item cannot go from ${from} to ${to}` };
  if (!holds(t.needs))
    return {
      ok: false,
      status: 403,
      reason: `${from} → ${to} needs ${t.needs}${to === 'closed' ? ' (only a regulator signs off)' : ''}`,
    };
  return { ok: true };
}
