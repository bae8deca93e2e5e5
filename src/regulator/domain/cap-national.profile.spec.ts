import { buildCapAlert } from './cap-message.builder';
import { renderCapXml } from './cap-xml';
import {
  NATIONAL_ID,
  NationalSerial,
  beijingStamp,
  nationalSenderCode,
  toNationalProfile,
  type NationalProfileSettings,
} from './cap-national.profile';
import { validateCap } from '../testing/cap-schema.validator';
import { BOHAI_SITE, CAP_SETTINGS, CL2_SOURCE, EVENT_T0, makeFeedEvent } from '../testing/feed-event.factory';

const NATIONAL: NationalProfileSettings = {
  industryCode: '331',
  unitCode: '000',
  extensionCode: '00',
  eventTypeCode: '11C01',
};
const SITE = { ...BOHAI_SITE, adminCode: '120116', jurisdictionName: '天津市滨海新区南港工业区' };
const SENDER = nationalSenderCode('120116', NATIONAL);

const oasis = (msgType: 'Alert' | 'Update' | 'Cancel', over: Parameters<typeof makeFeedEvent>[0] = {}) =>
  buildCapAlert({
    event: makeFeedEvent(over),
    msgType,
    ...(msgType !== 'Alert'
      ? {
          incident: {
            identifier: 'hazwatch-bohai-chem-al-0123456789abcdef0123-41',
            sent: '2026-11-24T18:00:00+08:00',
          },
        }
      : {}),
    site: SITE,
    source: { ...CL2_SOURCE, substances: ['chlorine'] },
    settings: CAP_SETTINGS,
  });

describe('national early-warning profile (GB/T 35965.1 identifiers)', () => {
  it('should build the 14-character unit code and the 31-character identifier in Beijing time', () => {
    expect(SENDER).toBe('12011633100000');
    expect(beijingStamp(EVENT_T0)).toBe('20261124180000');
    const id = new NationalSerial().next(SENDER, EVENT_T0 + 999);
    expect(id).toBe('12011633100000_20261124180000_0');
    expect(id).toHaveLength(31);
    expect(NATIONAL_ID.test(id)).toBe(true);
    expect(() => nationalSenderCode('tianjin', NATIONAL)).toThrow(/GB\/T 2260/);
  });

  it('should number ten messages per unit and second, then move to the next second, never repeating', () => {
    const serial = new NationalSerial();
    const ids = Array.from({ length: 23 }, () => serial.next(SENDER, EVENT_T0));
    expect(new Set(ids).size).toBe(23);
    expect(ids[9]).toBe('12011633100000_20261124180000_9');
    expect(ids[10]).toBe('12011633100000_20261124180001_0');
    expect(ids[22]).toBe('12011633100000_20261124180002_2');
    // an event of the next second does not reuse what the burst took; another unit has its own count
    expect(serial.next(SENDER, EVENT_T0 + 1000)).toBe('12011633100000_20261124180002_3');
    expect(serial.next('12011433100000', EVENT_T0)).toBe('12011433100000_20261124180000_0');
    // a later event starts its own second at 0
    expect(serial.next(SENDER, EVENT_T0 + 60_000)).toBe('12011633100000_20261124180100_0');
  });

  it('should continue after the last stored identifier when seeded (a restart)', () => {
    const serial = new NationalSerial();
    serial.seed('12011633100000_20261124180000_4');
    serial.seed('12011633100000_20261124175959_9'); // older: ignored
    serial.seed('not-a-national-id');
    expect(serial.has(SENDER)).toBe(true);
    expect(serial.next(SENDER, EVENT_T0 - 5_000)).toBe('12011633100000_20261124180000_5');
  });

  it('should re-address the message, keep alarm wording and CAP severities, and stay valid CAP 1.2', async () => {
    const a = oasis('Alert');
    const n = toNationalProfile(a, {
      identifier: '12011633100000_20261124180000_0',
      senderCode: SENDER,
      settings: NATIONAL,
    });
    expect(n).toMatchObject({
      identifier: '12011633100000_20261124180000_0',
      sender: SENDER,
      codes: ['GB/T 35965.1-2018'],
      incidents: '12011633100000_20261124180000_0',
      sent: a.sent,
      scope: 'Restricted',
    });
    expect(n.infos.map((i) => i.language)).toEqual(['zh-CN']);
    const [zh] = n.infos;
    expect(zh?.severity).toBe(a.infos[0]?.severity);
    expect(['Extreme', 'Severe', 'Moderate', 'Minor', 'Unknown']).toContain(zh?.severity);
    expect(zh?.eventCodes[0]).toEqual({ valueName: 'GB/T 35965.1-2018 eventType', value: '11C01' });
    expect(zh?.parameters).toContainEqual({ valueName: 'hazwatch:oasisIdentifier', value: a.identifier });
    const xml = renderCapXml(n);
    expect(xml).toContain('报警');
    expect(xml).not.toMatch(/预警|特别严重|Ⅰ级|Ⅱ级|>Red<|>Orange<|>Yellow<|>Blue</);
    expect(xml).toMatch(/<restriction>[^<]+<\/restriction>\n {2}<code>GB\/T 35965\.1-2018<\/code>/);
    const v = await validateCap(xml);
    expect(v.errors).toEqual([]);
    expect(v.valid).toBe(true);
  });

  it('should reference the incident by its national identifier in Updates and Cancels (valid CAP 1.2)', async () => {
    for (const msgType of ['Update', 'Cancel'] as const) {
      const a = oasis(msgType, { event: msgType === 'Cancel' ? 'cleared' : 'acknowledged', seq: 42 });
      expect(() =>
        toNationalProfile(a, {
          identifier: '12011633100000_20261124180005_0',
          senderCode: SENDER,
          settings: NATIONAL,
        }),
      ).toThrow(/needs the national identifier/);
      const n = toNationalProfile(a, {
        identifier: '12011633100000_20261124180005_0',
        senderCode: SENDER,
        incidentIdentifier: '12011633100000_20261124180000_0',
        settings: { ...NATIONAL, senderName: '天津市滨海新区危险化学品监测报警' },
      });
      expect(n.references).toBe(`${SENDER},12011633100000_20261124180000_0,2026-11-24T18:00:00+08:00`);
      expect(n.incidents).toBe('12011633100000_20261124180000_0');
      expect(n.infos[0]?.senderName).toBe('天津市滨海新区危险化学品监测报警');
      expect((await validateCap(renderCapXml(n))).errors).toEqual([]);
    }
  });
});
