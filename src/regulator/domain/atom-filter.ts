/**
 * Which CAP messages the Atom feed lists (docs/cap-profile.md): by default the regulator-graded alarms — priority high
 * and critical — and the loss of a whole site's data link (site_offline); lower priorities only on request. Pure.
 */
import type { Priority } from '../../common/types';

const ORDER: readonly Priority[] = ['critical', 'high', 'medium', 'low'];
export const ATOM_DEFAULT_MIN_PRIORITY: Priority = 'high';
/** Listed whatever their priority: a regulator must see that a site went dark. */
export const ATOM_ALWAYS_CONDITIONS: readonly string[] = ['site_offline'];

export type AtomFilter = { readonly priorities: readonly Priority[]; readonly conditions: readonly string[] };

export const isPriority = (s: string): s is Priority => (ORDER as readonly string[]).includes(s);

export function atomFilter(minPriority: Priority = ATOM_DEFAULT_MIN_PRIORITY): AtomFilter {
  return { priorities: ORDER.slice(0, ORDER.indexOf(minPriority) + 1), conditions: ATOM_ALWAYS_CONDITIONS };
}
