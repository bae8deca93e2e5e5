import type { OnCallWindow, Person, SiteContacts } from './callout.types';
import { dutyDeskCalled, inWindow, isQuiet, localTime, resolveCallee } from './roster';

const TZ = 'Asia/Shanghai';
/** Epoch ms of a local Tianjin time (UTC+8, no DST). */
const local = (iso: string): number => Date.parse(`${iso}+08:00`);
const weekdays: OnCallWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], fromMin: 8 * 60, toMin: 20 * 60 };
const nights: OnCallWindow = {
  days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
  fromMin: 20 * 60,
  toMin: 8 * 60,
};

const day: Person = { name: '王五', number: '+8613800000003', onCall: [weekdays] };
const night: Person = { name: '赵六', number: '+8613800000004', onCall: [nights] };
const contacts: SiteContacts = {
  siteId: 'bohai-chem',
  controlRoom: { name: '中控室', number: 'sip:8001@pbx' },
  responsible: {
    operations: [day, night],
    technical: [{ name: '李四', number: '+8613800000002', onCall: [] }],
    main: [],
  },
  sources: new Map([['bhc-nh3', { operations: [{ name: '孙七', number: '+8613800000007', onCall: [] }] }]]),
};

describe('roster', () => {
  it('should read local date, weekday and minute in Asia/Shanghai', () => {
    expect(localTime(Date.UTC(2026, 10, 23, 16, 30), TZ)).toEqual({
      date: '2026-11-24',
      weekday: 'tue',
      minutes: 30,
    });
  });

  it('should put the early morning of a night window on the day the window started', () => {
    // Saturday 03:00 belongs to Friday night's window
    const w: OnCallWindow = { days: ['fri'], fromMin: 20 * 60, toMin: 8 * 60 };
    expect(inWindow(w, localTime(local('2026-11-28T03:00:00'), TZ))).toBe(true);
    expect(inWindow(w, localTime(local('2026-11-29T03:00:00'), TZ))).toBe(false);
    expect(inWindow(w, localTime(local('2026-11-27T21:00:00'), TZ))).toBe(true);
  });

  it('should respect a holiday date range', () => {
    const w: OnCallWindow = { ...nights, fromDate: '2026-10-01', toDate: '2026-10-07' };
    expect(inWindow(w, localTime(local('2026-10-07T22:00:00'), TZ))).toBe(true);
    expect(inWindow(w, localTime(local('2026-10-08T22:00:00'), TZ))).toBe(false);
  });

  it('should pick the person on call by the calendar', () => {
    expect(
      resolveCallee(contacts, 'operations', 'bhc-cl2', localTime(local('2026-11-24T10:00:00'), TZ))?.name,
    ).toBe('王五');
    expect(
      resolveCallee(contacts, 'operations', 'bhc-cl2', localTime(local('2026-11-24T23:00:00'), TZ))?.name,
    ).toBe('赵六');
  });

  it('should call the first listed person and flag a roster gap when nobody is on call', () => {
    const gap: SiteContacts = { ...contacts, responsible: { ...contacts.responsible, operations: [day] } };
    expect(
      resolveCallee(gap, 'operations', undefined, localTime(local('2026-11-28T10:00:00'), TZ)),
    ).toMatchObject({ name: '王五', rosterGap: true });
  });

  it('should prefer the hazard source roster over the site roster', () => {
    expect(
      resolveCallee(contacts, 'operations', 'bhc-nh3', localTime(local('2026-11-24T10:00:00'), TZ))?.name,
    ).toBe('孙七');
  });

  it('should return nothing for a role nobody holds', () => {
    expect(
      resolveCallee(contacts, 'main', undefined, localTime(local('2026-11-24T10:00:00'), TZ)),
    ).toBeUndefined();
    expect(
      resolveCallee(contacts, 'duty_desk', undefined, localTime(local('2026-11-24T10:00:00'), TZ)),
    ).toBeUndefined();
  });

  it('should never hold a critical call in quiet hours', () => {
    const rules = [
      { fromMin: 23 * 60, toMin: 7 * 60, priorities: ['high' as const], targets: ['technical' as const] },
    ];
    const t = localTime(local('2026-11-24T02:00:00'), TZ);
    expect(isQuiet(rules, 'technical', 'high', t)).toBe(true);
    expect(isQuiet(rules, 'technical', 'critical', t)).toBe(false);
    expect(isQuiet(rules, 'operations', 'high', t)).toBe(false);
    expect(isQuiet(rules, 'technical', 'high', localTime(local('2026-11-24T08:00:00'), TZ))).toBe(false);
  });

  it('should hold the main responsible person whenever the technical manager is held, except for critical alarms', () => {
    const rules = [
      { fromMin: 23 * 60, toMin: 7 * 60, priorities: ['high' as const], targets: ['technical' as const] },
    ];
    const night = localTime(local('2026-11-24T02:00:00'), TZ);
    const day = localTime(local('2026-11-24T10:00:00'), TZ);
    expect(isQuiet(rules, 'main', 'high', night)).toBe(true);
    expect(isQuiet(rules, 'main', 'critical', night)).toBe(false);
    expect(isQuiet(rules, 'main', 'medium', night)).toBe(false);
    expect(isQuiet(rules, 'main', 'high', day)).toBe(false);
    // the hierarchy runs upward only: a rule for 主要负责人 does not hold the 技术负责人
    const mainOnly = [{ ...rules[0]!, targets: ['main' as const] }];
    expect(isQuiet(mainOnly, 'technical', 'high', night)).toBe(false);
  });

  it('should call the duty desk only for critical alarms and alarms graded for the regulator', () => {
    const ladders = [
      { ruleIdPrefix: 'ext:duty-check', ladder: [{ targets: ['duty_desk' as const, 'main' as const] }] },
      { ruleIdPrefix: 'ext:plant-only', ladder: [{ targets: ['main' as const] }] },
    ];
    expect(dutyDeskCalled(ladders, 'gas-high', 'critical')).toBe(true);
    expect(dutyDeskCalled(ladders, 'gas-high', 'high')).toBe(false);
    expect(dutyDeskCalled(ladders, 'ext:duty-check', 'high')).toBe(true);
    expect(dutyDeskCalled(ladders, 'ext:plant-only:x', 'high')).toBe(false);
  });
});
