import {
  BOHAI_SITE,
  CAP_SETTINGS,
  CL2_DETECTOR,
  CL2_SOURCE,
  EVENT_T0,
  makeFeedEvent,
} from '../testing/feed-event.factory';
import { buildCapAlert, capCategories, capCertainty, capSeverity, capUrgency } from './cap-message.builder';

const base = { site: BOHAI_SITE, source: CL2_SOURCE, settings: CAP_SETTINGS };
const param = (a: ReturnType<typeof buildCapAlert>, name: string): string | undefined =>
  a.infos[0]?.parameters.find((p) => p.valueName === name)?.value;

describe('buildCapAlert', () => {
  it('should fill the DOMAIN §7 elements for a raised critical alarm', () => {
    const a = buildCapAlert({
      ...base,
      event: makeFeedEvent(),
      msgType: 'Alert',
      disposalDueAt: EVENT_T0 + 3600_000,
    });
    expect(a).toMatchObject({
      identifier: 'hazwatch-bohai-chem-al-0123456789abcdef0123-41',
      sender: 'hazwatch@hazwatch.example.cn',
      sent: '2026-11-24T18:00:00+08:00',
      status: 'Actual',
      msgType: 'Alert',
      scope: 'Restricted',
      incidents: 'hazwatch-bohai-chem-al-0123456789abcdef0123-41',
    });
    expect(a.references).toBeUndefined();
    expect(a.restriction).toContain('tianjin/binhai/nangang');
    const info = a.infos[0]!;
    expect(info).toMatchObject({
      categories: ['Safety'],
      urgency: 'Immediate',
      severity: 'Extreme',
      certainty: 'Observed',
    });
    expect(info.event).toContain('多点表决报警');
    expect(info.instruction).toContain('2026-11-24T19:00:00+08:00');
    expect(info.areas[0]).toMatchObject({ circles: ['38.762,117.512 0.5'] });
    expect(info.areas[0]?.geocodes).toContainEqual({
      valueName: 'hazwatch:jurisdiction',
      value: 'tianjin/binhai/nangang',
    });
    expect(param(a, 'hazwatch:disposalDueAt')).toBe('2026-11-24T19:00:00+08:00');
  });

  it('should reference the Alert from an Update and put the note text in it', () => {
    const ref = {
      identifier: 'hazwatch-bohai-chem-al-0123456789abcdef0123-41',
      sent: '2026-11-24T18:00:00+08:00',
    };
    const a = buildCapAlert({
      ...base,
      event: makeFeedEvent({
        event: 'note',
        seq: 55,
        comment: '处置记录 disposal filed: cause X',
        at: new Date(EVENT_T0 + 60_000).toISOString(),
      }),
      msgType: 'Update',
      incident: ref,
    });
    expect(a.identifier).toBe('hazwatch-bohai-chem-al-0123456789abcdef0123-55');
    expect(a.sent).toBe('2026-11-24T18:01:00+08:00');
    expect(a.references).toBe(
      'hazwatch@hazwatch.example.cn,hazwatch-bohai-chem-al-0123456789abcdef0123-41,2026-11-24T18:00:00+08:00',
    );
    expect(a.incidents).toBe(ref.identifier);
    expect(a.note).toContain('disposal filed');
    expect(a.infos[1]?.description).toContain('cause X');
  });

  it('should refuse an Update or Cancel without the Alert to reference', () => {
    expect(() => buildCapAlert({ ...base, event: makeFeedEvent(), msgType: 'Cancel' })).toThrow(
      'needs the incident',
    );
  });

  it('should mark a cleared alarm Past and AllClear', () => {
    const ref = { identifier: 'x-1', sent: '2026-11-24T18:00:00+08:00' };
    const a = buildCapAlert({
      ...base,
      event: makeFeedEvent({ event: 'cleared', active: false, state: 'rtn_unacknowledged' }),
      msgType: 'Cancel',
      incident: ref,
    });
    expect(a.infos[0]).toMatchObject({ urgency: 'Past', responseTypes: ['AllClear'] });
  });
});

describe('CAP value mapping', () => {
  it('should map colour levels to urgency', () => {
    expect(capUrgency({ active: true, level: 'red' }, 'Alert')).toBe('Immediate');
    expect(capUrgency({ active: true, level: 'orange' }, 'Update')).toBe('Immediate');
    expect(capUrgency({ active: true, level: 'yellow' }, 'Alert')).toBe('Expected');
    expect(capUrgency({ active: true, level: 'blue' }, 'Alert')).toBe('Expected');
    expect(capUrgency({ active: true, level: 'red' }, 'Cancel')).toBe('Past');
  });
  it('should take certainty from the condition class: agreeing detectors are seen, instrument trouble says nothing', () => {
    expect(capCertainty({ condition: 'vote', priority: 'critical' })).toBe('Observed');
    expect(capCertainty({ condition: 'gas_l2', priority: 'high' })).toBe('Likely');
    expect(capCertainty({ condition: 'stale', priority: 'medium' })).toBe('Unknown');
    expect(capCertainty({ condition: 'detector_fault', priority: 'high' })).toBe('Unknown');
  });
  it('should not call a detector fault a Moderate threat, and call a level-2 toxic release one', () => {
    expect(capSeverity({ condition: 'detector_fault', priority: 'critical' })).toBe('Minor');
    expect(capSeverity({ condition: 'gas_l2', priority: 'high' })).toBe('Moderate');
    expect(capSeverity({ condition: 'gas_l2', priority: 'critical' })).toBe('Severe');
  });
  it('should call a toxic release Safety and Env, a flammable leak Safety (not Fire), a fire Fire', () => {
    expect(capCategories({ condition: 'gas_l2', priority: 'high' }, CL2_DETECTOR)).toEqual(['Safety', 'Env']);
    expect(
      capCategories(
        { condition: 'gas_l2', priority: 'high' },
        { ...CL2_DETECTOR, gas: 'methane', gasClass: 'combustible' },
      ),
    ).toEqual(['Safety']);
    expect(capCategories({ condition: 'flame', priority: 'critical' })).toEqual(['Fire']);
    expect(capCategories({ condition: 'HH', priority: 'high' })).toEqual(['Safety']);
  });
});
