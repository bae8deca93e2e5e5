import type { AlarmEventType } from './alarm.types';

/**
 * The alarm events that announce an alarm: on an alarm that is active, shown and not yet announced (no open
 * call-out, no open regulator incident), each of them makes it news — the first raise, and the moments a hidden or
 * acknowledged alarm comes (back) in front of people (docs/alarm-lifecycle.md). The single source for the call-out
 * service (`src/notifications/callout.service.ts`) and the regulator incident policy
 * (`src/regulator/domain/incident.policy.ts`).
 */
export const ANNOUNCING_EVENTS: ReadonlySet<AlarmEventType> = new Set<AlarmEventType>([
  'raised',
  'updated',
  'realarm',
  'unshelved',
  'shelve_expired',
  'unsuppressed',
  'returned_to_service',
]);
