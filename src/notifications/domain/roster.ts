/** On-call calendar and quiet rules, evaluated in local time (Asia/Shanghai by default). Pure: time is passed in. */
import type { Priority } from '../../common/types';
import {
  WEEKDAYS,
  type Callee,
  type CalleeRole,
  type OnCallWindow,
  type Person,
  type PersonRole,
  type QuietRule,
  type SiteContacts,
  type Weekday,
} from './callout.types';

export type LocalTime = { readonly date: string; readonly weekday: Weekday; readonly minutes: number };

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Local calendar date, weekday and minute of day of `at` (epoch ms) in an IANA time zone. */
export function localTime(at: number, timeZone: string): LocalTime {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(new Date(at))) parts[p.type] = p.value;
  const weekday = (parts.weekday ?? '').slice(0, 3).toLowerCase() as Weekday;
  if (!WEEKDAYS.includes(weekday)) throw new Error(`cannot read the weekday of ${at} in ${timeZone}`);
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    weekday,
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

const previousDay = (d: Weekday): Weekday => WEEKDAYS[(WEEKDAYS.indexOf(d) + 6) % 7] ?? d;

/** Local date of the day before (YYYY-MM-DD arithmetic in UTC, no zone needed). */
function previousDate(date: string): string {
  const t = Date.parse(`${date}T00:00:00Z`) - 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}

function dateIn(w: OnCallWindow, date: string): boolean {
  if (w.fromDate !== undefined && date < w.fromDate) return false;
  if (w.toDate !== undefined && date > w.toDate) return false;
  return true;
}

/** True when `t` falls in the window; a window that wraps midnight belongs to the day (and date) it starts on. */
export function inWindow(w: OnCallWindow, t: LocalTime): boolean {
  if (w.fromMin < w.toMin)
    return w.days.includes(t.weekday) && t.minutes >= w.fromMin && t.minutes < w.toMin && dateIn(w, t.date);
  // wraps midnight (or covers the whole day when from == to)
  if (t.minutes >= w.fromMin) return w.days.includes(t.weekday) && dateIn(w, t.date);
  if (t.minutes < w.toMin) return w.days.includes(previousDay(t.weekday)) && dateIn(w, previousDate(t.date));
  return false;
}

export const isOnCall = (p: Person, t: LocalTime): boolean =>
  p.onCall.length === 0 || p.onCall.some((w) => inWindow(w, t));

/**
 * The person of a role on call at `t`: the first listed whose calendar covers `t`. When nobody's does, the first
 * listed (the role's holder) is called anyway — an alarm never goes unannounced because of a roster gap.
 */
export function onCallPerson(
  people: readonly Person[],
  t: LocalTime,
): { person: Person; rosterGap: boolean } | undefined {
  const found = people.find((p) => isOnCall(p, t));
  if (found) return { person: found, rosterGap: false };
  const first = people[0];
  return first ? { person: first, rosterGap: true } : undefined;
}

/**
 * Whether a quiet rule holds a call to `role` for an alarm of `priority` at `t`. Critical is never quiet. Quiet hours
 * follow the hierarchy (docs/domain.md §6): when the 技术负责人 is held, the 主要负责人 above is held on the same terms.
 */
export function isQuiet(
  rules: readonly QuietRule[],
  role: CalleeRole,
  priority: Priority,
  t: LocalTime,
): boolean {
  if (priority === 'critical') return false;
  const roles: readonly CalleeRole[] = role === 'main' ? ['main', 'technical'] : [role];
  return rules.some(
    (r) =>
      roles.some((x) => r.targets.includes(x)) &&
      (r.priorities as readonly Priority[]).includes(priority) &&
      (r.fromMin < r.toMin
        ? t.minutes >= r.fromMin && t.minutes < r.toMin
        : t.minutes >= r.fromMin || t.minutes < r.toMin),
  );
}

/**
 * The district/park duty desk is called for critical alarms and for alarms graded for the regulator: those whose rule
 * has its own ladder naming the desk (a missed duty check, an overdue feedback). Other alarms reach regulators through
 * the feeds and webhooks only (docs/regulator-workflows.md).
 */
export function dutyDeskCalled(
  ruleLadders: ReadonlyArray<{
    readonly ruleIdPrefix: string;
    readonly ladder: ReadonlyArray<{ readonly targets: readonly CalleeRole[] }>;
  }>,
  ruleId: string,
  priority: Priority,
): boolean {
  if (priority === 'critical') return true;
  const own = ruleLadders.find((l) => ruleId.startsWith(l.ruleIdPrefix));
  return own !== undefined && own.ladder.some((step) => step.targets.includes('duty_desk'));
}

export type ResolvedCallee = Callee & { readonly rosterGap?: boolean };

/** Who to call for a role at `t`, for an alarm of `sourceId` (a source's own roster wins over the site's). */
export function resolveCallee(
  contacts: SiteContacts,
  role: CalleeRole,
  sourceId: string | undefined,
  t: LocalTime,
): ResolvedCallee | undefined {
  switch (role) {
    case 'control_room':
      return { role, name: contacts.controlRoom.name, number: contacts.controlRoom.number };
    case 'duty_desk':
      return contacts.dutyDesk
        ? { role, name: contacts.dutyDesk.name, number: contacts.dutyDesk.number }
        : undefined;
    case 'operations':
    case 'technical':
    case 'main': {
      const people = personList(contacts, role, sourceId);
      const found = onCallPerson(people, t);
      if (!found) return undefined;
      return {
        role,
        name: found.person.name,
        number: found.person.number,
        ...(found.rosterGap ? { rosterGap: true } : {}),
      };
    }
  }
}

function personList(
  contacts: SiteContacts,
  role: PersonRole,
  sourceId: string | undefined,
): readonly Person[] {
  const own = sourceId !== undefined ? contacts.sources.get(sourceId)?.[role] : undefined;
  return own && own.length > 0 ? own : contacts.responsible[role];
}
