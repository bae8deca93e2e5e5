/**
 * Which CAP message (if any) an alarm event becomes. An incident is one raise of one alarm: its first message is the
 * `Alert`; later changes are `Update`s and the clear is the `Cancel`, each referencing the Alert. Pure.
 */
import { HIDDEN_STATES, type AlarmEventDto } from '../../alarms/domain/alarm.types';
import { ANNOUNCING_EVENTS } from '../../alarms/domain/announcing-events';
import { capTime } from './cap-time';
import { capIdentifier, type IncidentRef } from './cap-message.builder';

export type Incident = IncidentRef & {
  readonly alarmId: string;
  readonly siteId: string;
  readonly open: boolean;
};

export type FeedDecision =
  | { readonly msgType: 'Alert'; readonly incident: Incident }
  | { readonly msgType: 'Update' | 'Cancel'; readonly incident: Incident; readonly reference: IncidentRef };

/** After the Cancel, only these still reach the regulator (the closed loop of a finished incident). */
const AFTER_CANCEL_EVENTS: ReadonlySet<string> = new Set(['acknowledged', 'reset', 'note']);

const shown = (e: AlarmEventDto): boolean => !HIDDEN_STATES.has(e.state);

export function decideCapMessage(e: AlarmEventDto, current: Incident | undefined): FeedDecision | null {
  const startsIncident =
    e.active && shown(e) && (e.event === 'raised' || (!current?.open && ANNOUNCING_EVENTS.has(e.event))); // e.g. a shelf ended
  if (startsIncident) {
    return {
      msgType: 'Alert',
      incident: {
        alarmId: e.id,
        siteId: e.siteId,
        identifier: capIdentifier(e.siteId, e.id, e.seq),
        sent: capTime(Date.parse(e.at)),
        open: true,
      },
    };
  }
  if (current === undefined) return null;
  const reference: IncidentRef = { identifier: current.identifier, sent: current.sent };
  if (current.open) {
    if (e.event === 'cleared' || !e.active)
      return { msgType: 'Cancel', incident: { ...current, open: false }, reference };
    return { msgType: 'Update', incident: current, reference };
  }
  return AFTER_CANCEL_EVENTS.has(e.event) ? { msgType: 'Update', incident: current, reference } : null;
}
