import { CST_OFFSET_MS, lostIntervals, onlineRates, type LinkEvent } from './online-rate';

const H = 3_600_000;
// 2026-12-03 00:00 China Standard Time
const DAY0 = Date.UTC(2026, 11, 3) - CST_OFFSET_MS;
const ev = (
  alarmId: string,
  deviceId: string,
  event: LinkEvent['event'],
  active: boolean,
  at: number,
  siteId = 's1',
): LinkEvent => ({
  alarmId,
  siteId,
  deviceId,
  event,
  active,
  at,
});

describe('online rate (在线率)', () => {
  it('should give the share of device-time online per site per local day', () => {
    // 4 devices; d1 offline 06:00–12:00 on day 0; d2 stale from 22:00 day 0 to 02:00 day 1
    const events = [
      ev('o1', 'd1', 'raised', true, DAY0 + 6 * H),
      ev('o1', 'd1', 'cleared', false, DAY0 + 12 * H),
      ev('s2', 'd2', 'raised', true, DAY0 + 22 * H),
      ev('s2', 'd2', 'cleared', false, DAY0 + 26 * H),
    ];
    const days = onlineRates({
      from: DAY0,
      to: DAY0 + 48 * H,
      devices: new Map([['s1', ['d1', 'd2', 'd3', 'd4']]]),
      events,
      open: [],
    });
    expect(days.map((d) => [d.day, d.onlinePercent, d.offlineDeviceHours])).toEqual([
      ['2026-12-03', 91.67, 8], // (96 − 6 − 2) / 96
      ['2026-12-04', 97.92, 2], // (96 − 2) / 96
    ]);
  });

  it('should count overlapping offline and stale periods of one device once', () => {
    const events = [
      ev('o1', 'd1', 'raised', true, DAY0 + 1 * H),
      ev('s1', 'd1', 'raised', true, DAY0 + 1 * H + 10_000),
      ev('s1', 'd1', 'suppressed', true, DAY0 + 1 * H + 10_000),
      ev('o1', 'd1', 'cleared', false, DAY0 + 3 * H),
      ev('s1', 'd1', 'cleared', false, DAY0 + 3 * H),
    ];
    const lost = lostIntervals(events, [], DAY0, DAY0 + 24 * H);
    expect(lost.get('s1/d1')).toEqual([[DAY0 + H, DAY0 + 3 * H]]);
  });

  it('should count a device lost from the range start when its first event in the range is the clear, and to the end when still lost', () => {
    const events = [
      ev('o1', 'd1', 'cleared', false, DAY0 + 2 * H),
      ev('o2', 'd2', 'raised', true, DAY0 + 20 * H),
    ];
    const lost = lostIntervals(
      events,
      [{ alarmId: 'o3', siteId: 's1', deviceId: 'd3', since: DAY0 - 5 * H }],
      DAY0,
      DAY0 + 24 * H,
    );
    expect(lost.get('s1/d1')).toEqual([[DAY0, DAY0 + 2 * H]]);
    expect(lost.get('s1/d2')).toEqual([[DAY0 + 20 * H, DAY0 + 24 * H]]);
    expect(lost.get('s1/d3')).toEqual([[DAY0, DAY0 + 24 * H]]);
  });

  it('should be 100 % for a site with no link alarm and clip partial days to the range', () => {
    const days = onlineRates({
      from: DAY0 + 12 * H,
      to: DAY0 + 30 * H,
      devices: new Map([['s1', ['d1']]]),
      events: [],
      open: [],
    });
    expect(days.map((d) => [d.day, d.onlinePercent, d.from])).toEqual([
      ['2026-12-03', 100, new Date(DAY0 + 12 * H).toISOString()],
      ['2026-12-04', 100, new Date(DAY0 + 24 * H).toISOString()],
    ]);
  });
});
