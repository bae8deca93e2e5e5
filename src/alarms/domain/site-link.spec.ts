import { makeCondition, T0 } from '../../../test/factories/alarm.factory';
import type { ConditionChange } from './condition-change';
import { DEFAULT_SITE_LINK, SiteLinkSupervisor, type LinkAction } from './site-link';

const link = (
  deviceId: string,
  active: boolean,
  ts: number,
  condition: 'offline' | 'stale' = 'stale',
): ConditionChange =>
  makeCondition({
    ruleId: `${condition}:${deviceId}`,
    deviceId,
    condition,
    active,
    ts,
    priority: 'medium',
    value: null,
    limit: null,
  });

const brief = (actions: readonly LinkAction[]): string[] =>
  actions.map((a) =>
    a.kind === 'site'
      ? `site ${a.verdict.offline ? 'offline' : 'online'} ${a.verdict.lost}/${a.verdict.devices}`
      : `${a.change.active ? '+' : '-'}${a.change.deviceId}:${a.change.condition}`,
  );

const devices = (n: number): string[] => Array.from({ length: n }, (_, i) => `d${i + 1}`);

describe('SiteLinkSupervisor', () => {
  const make = (n = 10, settings = DEFAULT_SITE_LINK): SiteLinkSupervisor =>
    new SiteLinkSupervisor(settings, new Map([['bohai-chem', n]]));

  it('should raise one site verdict before the held device raises when 80 % of the devices drop within the hold window', () => {
    const s = make(10);
    const out: string[] = [];
    devices(7).forEach((d, i) => out.push(...brief(s.input(link(d, true, T0 + i * 1_000), T0 + i * 1_000))));
    expect(out).toEqual([]); // 7 of 10 held, below 80 %
    expect(s.heldCount('bohai-chem')).toBe(7);
    const eighth = brief(s.input(link('d8', true, T0 + 7_000), T0 + 7_000));
    expect(eighth).toEqual(['site offline 8/10', ...devices(8).map((d) => `+${d}:stale`)]);
    expect(s.heldCount()).toBe(0);
    // further devices pass at once (they are suppressed by design downstream)
    expect(brief(s.input(link('d9', true, T0 + 8_000), T0 + 8_000))).toEqual(['+d9:stale']);
  });

  it('should release a held raise when its window ends and the site stays online', () => {
    const s = make(10);
    expect(s.input(link('d1', true, T0), T0)).toEqual([]);
    expect(s.advance(T0 + DEFAULT_SITE_LINK.holdMs - 1)).toEqual([]);
    expect(brief(s.advance(T0 + DEFAULT_SITE_LINK.holdMs))).toEqual(['+d1:stale']);
    expect(s.isOffline('bohai-chem')).toBe(false);
  });

  it('should release a held raise before its clear (nothing is dropped)', () => {
    const s = make(10);
    s.input(link('d1', true, T0), T0);
    expect(brief(s.input(link('d1', false, T0 + 2_000), T0 + 2_000))).toEqual(['+d1:stale', '-d1:stale']);
    expect(s.heldCount()).toBe(0);
  });

  it('should count a device once when it is both offline and stale, and keep it lost until both clear', () => {
    const s = make(5, { ...DEFAULT_SITE_LINK, holdMs: 0 });
    s.input(link('d1', true, T0, 'offline'), T0);
    s.input(link('d1', true, T0, 'stale'), T0);
    expect(s.lostCount('bohai-chem')).toBe(1);
    s.input(link('d1', false, T0 + 1, 'offline'), T0 + 1);
    expect(s.lostCount('bohai-chem')).toBe(1);
    s.input(link('d1', false, T0 + 2, 'stale'), T0 + 2);
    expect(s.lostCount('bohai-chem')).toBe(0);
  });

  it('should clear the site once fewer than half of the devices are lost (hysteresis), after the device clear', () => {
    const s = make(10);
    devices(10).forEach((d) => s.input(link(d, true, T0), T0));
    expect(s.isOffline('bohai-chem')).toBe(true);
    const out: string[] = [];
    for (const d of devices(6)) out.push(...brief(s.input(link(d, false, T0 + 5_000), T0 + 5_000)));
    // 10 → 4 lost: below the restore share (5) at 4, declared back once the stragglers had the hold window
    expect(out).toEqual(['-d1:stale', '-d2:stale', '-d3:stale', '-d4:stale', '-d5:stale', '-d6:stale']);
    expect(s.advance(T0 + 5_000 + DEFAULT_SITE_LINK.holdMs - 1)).toEqual([]);
    expect(brief(s.advance(T0 + 5_000 + DEFAULT_SITE_LINK.holdMs))).toEqual(['site online 4/10']);
    expect(s.isOffline('bohai-chem')).toBe(false);
  });

  it('should declare the site back at once when every device reports again', () => {
    const s = make(10);
    devices(10).forEach((d) => s.input(link(d, true, T0), T0));
    const out: string[] = [];
    for (const d of devices(10)) out.push(...brief(s.input(link(d, false, T0 + 5_000), T0 + 5_000)));
    expect(out.slice(-2)).toEqual(['-d10:stale', 'site online 0/10']);
  });

  it('should cancel the restore window when the devices drop again', () => {
    const s = make(10);
    devices(10).forEach((d) => s.input(link(d, true, T0), T0));
    devices(6).forEach((d) => s.input(link(d, false, T0 + 1_000), T0 + 1_000));
    devices(2).forEach((d) => s.input(link(d, true, T0 + 2_000), T0 + 2_000));
    expect(s.advance(T0 + 60_000)).toEqual([]);
    expect(s.isOffline('bohai-chem')).toBe(true);
  });

  it('should not supervise a site with fewer devices than minDevices', () => {
    const s = make(2);
    expect(s.supervises('bohai-chem')).toBe(false);
    expect(brief(s.input(link('d1', true, T0), T0))).toEqual(['+d1:stale']);
  });

  it('should need at least minDevices lost even on a small site', () => {
    const s = make(3, { ...DEFAULT_SITE_LINK, holdMs: 0 });
    s.input(link('d1', true, T0), T0);
    s.input(link('d2', true, T0), T0);
    expect(s.isOffline('bohai-chem')).toBe(false); // 2 of 3 = 67 % < 80 %
    expect(brief(s.input(link('d3', true, T0), T0))).toEqual(['site offline 3/3', '+d3:stale']);
  });

  it('should pass conditions of unknown sites straight through', () => {
    const s = make(10);
    expect(brief(s.input({ ...link('x', true, T0), siteId: 'elsewhere' }, T0))).toEqual(['+x:stale']);
  });

  it('should rebuild after a restart: raise for a site whose devices are lost, clear a site alarm that no longer holds', () => {
    const s = new SiteLinkSupervisor(
      DEFAULT_SITE_LINK,
      new Map([
        ['a', 5],
        ['b', 5],
      ]),
    );
    const lost = devices(5).map((d) => ({ ...link(d, true, T0), siteId: 'a' }));
    expect(brief(s.seed(lost, new Set(['b']), T0))).toEqual(['site offline 5/5', 'site online 0/5']);
  });

  it('should hold an area vote_degraded like a device link raise, suppress-ready after the site verdict, without counting it as a lost device', () => {
    const s = make(5);
    const degraded = makeCondition({
      ruleId: 'vote:cl-a1',
      condition: 'vote_degraded',
      active: true,
      ts: T0,
    });
    delete (degraded as { deviceId?: string }).deviceId;
    expect(s.input(degraded, T0)).toEqual([]);
    expect(s.lostCount('bohai-chem')).toBe(0);
    devices(3).forEach((d) => s.input(link(d, true, T0), T0));
    const out = s
      .input(link('d4', true, T0), T0)
      .map((a) => (a.kind === 'site' ? 'site' : a.change.condition));
    expect(out).toEqual(['site', 'vote_degraded', 'stale', 'stale', 'stale', 'stale']);
  });
});
