/**
 * Alarm rationalisation check on the limits of one channel (docs/alarm-lifecycle.md, "On-delays"): a less severe
 * limit must not have a longer on-delay than a more severe one on the same side (H ≤ HH, L ≤ LL). Otherwise, on a
 * fast excursion, the operator sees HH before H and the H announcement arrives as noise after the emergency. Pure.
 */
import type { LimitSpec } from './rule-spec';

export type LimitOrderProblem = { readonly path: string; readonly reason: string };

/** Problems of one channel's limits; `path` names where they come from (the config entry or the generated defaults). */
export function onDelayOrderProblems(
  limits: readonly Pick<LimitSpec, 'condition' | 'direction' | 'value' | 'onDelayMs'>[],
  path: string,
): LimitOrderProblem[] {
  const problems: LimitOrderProblem[] = [];
  for (const direction of ['high', 'low'] as const) {
    // from the least to the most severe: highs by rising value, lows by falling value
    const side = limits
      .filter((l) => l.direction === direction)
      .sort((a, b) => (direction === 'high' ? a.value - b.value : b.value - a.value));
    for (let i = 0; i < side.length; i++) {
      for (let j = i + 1; j < side.length; j++) {
        const milder = side[i]!;
        const severer = side[j]!;
        if (milder.onDelayMs > severer.onDelayMs)
          problems.push({
            path,
            reason:
              `on-delay of ${milder.condition} (${milder.onDelayMs / 1000} s) exceeds the on-delay of the more severe ` +
              `${severer.condition} (${severer.onDelayMs / 1000} s): on a fast ${direction === 'high' ? 'rise' : 'fall'} ` +
              `${milder.condition} would be announced after ${severer.condition}; give ${milder.condition} an on-delay ≤ ${severer.onDelayMs / 1000} s`,
          });
      }
    }
  }
  return problems;
}
