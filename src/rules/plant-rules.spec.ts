/** Rules derived from the plant model: filling limit, design values, substance packs, new device kinds. */
import { join } from 'node:path';
import { loadPlant } from '../config/config.loader';
import { compileRules } from './domain/rule-compiler';
import type { ChannelRule, CompiledRules, LimitRule } from './domain/rule-spec';
import { toPlantView } from './rules.loader';

const demoDir = join(__dirname, '..', '..', 'config');
const plant = loadPlant(demoDir);
const view = toPlantView(plant);

function compiled(config: Parameters<typeof compileRules>[1] = { version: 1 }): CompiledRules {
  const r = compileRules(view, config);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.rules;
}
const rules = compiled();
const channelRules = (site: string, device: string, channel: string): readonly ChannelRule[] =>
  rules.devices.get(site)?.get(device)?.channels.get(channel)?.rules ?? [];
const limits = (site: string, device: string, channel: string): Array<[string, number, string]> => {
  const l = channelRules(site, device, channel).find((r): r is LimitRule => r.kind === 'limit');
  return (l?.limits ?? []).map((x) => [x.condition, x.value, x.priority]);
};

describe('rules derived from the plant model', () => {
  it('should refuse a level HH above the level holding the filling limit (the chlorine 80 % fill, HH 85 %)', () => {
    const r = compileRules(view, {
      version: 1,
      limits: [
        {
          site: 'bohai-chem',
          device: 'cl-tk-1',
          channel: 'level_pct',
          limits: [
            { condition: 'H', value: 80 },
            { condition: 'HH', value: 85 },
          ],
        },
      ],
    });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems).toEqual([
      {
        path: 'limits[0]',
        reason:
          "tank 'cl-tk-1': level HH 85 % is above 74.5 %, the level that holds its filling limit of 80 % of volume (horizontal_cylinder): HH would trip only after the limit is passed",
      },
    ]);
    const inverted = compileRules(view, {
      version: 1,
      limits: [
        {
          site: 'bohai-chem',
          device: 'cl-tk-1',
          channel: 'level_pct',
          limits: [{ condition: 'H', value: 74.5 }],
        },
      ],
    });
    expect(!inverted.ok && inverted.problems.map((p) => p.reason)).toEqual([
      "tank 'cl-tk-1': level H 74.5 % must be below HH 74.5 %",
    ]);
  });

  it('should put every tank level HH at its filling limit through its geometry (sphere, horizontal, vertical)', () => {
    expect(limits('nangang-petro', 'vc-tk-1', 'level_pct').slice(2)).toEqual([
      ['H', 70.5, 'medium'],
      ['HH', 75.5, 'high'],
    ]);
    expect(limits('bohai-chem', 'nh-tk-1', 'level_pct').slice(2)).toEqual([
      ['H', 74.2, 'medium'],
      ['HH', 79.2, 'high'],
    ]);
    expect(limits('wuqing-fine', 'me-tk-1', 'level_pct').slice(2)).toEqual([
      ['H', 85, 'medium'],
      ['HH', 90, 'high'],
    ]);
  });

  it('should derive pressure limits from the relief set point and temperature limits from the design window, not the span', () => {
    // Atmospheric benzene tank, breather valve at 1.8 kPa(g): H 90 %, HH 95 % (it used to alarm at 2,000 kPa).
    expect(limits('nangang-petro', 'bz-tk-1', 'pressure_kpa')).toEqual([
      ['H', 1.6, 'medium'],
      ['HH', 1.7, 'high'],
    ]);
    // Pressurised chlorine: relief valve set at 1,500 kPa(g) → H 1,350, HH 1,425.
    expect(limits('bohai-chem', 'cl-tk-1', 'pressure_kpa')).toEqual([
      ['H', 1350, 'medium'],
      ['HH', 1425, 'high'],
    ]);
    // Design −40…50 °C: L 5 % above the minimum, H at 90 %, HH at 95 % of the window.
    expect(limits('bohai-chem', 'cl-tk-1', 'temp_c')).toEqual([
      ['L', -35.5, 'medium'],
      ['H', 41, 'medium'],
      ['HH', 45.5, 'high'],
    ]);
  });

  it('should apply the substance packs: H2O2 decomposition (absolute and rate of rise), benzene freezing', () => {
    expect(limits('wuqing-fine', 'hp-tk-1', 'temp_c')).toEqual([
      ['L', -7, 'medium'],
      ['H', 40, 'medium'],
      ['HH', 45, 'high'],
    ]);
    expect(channelRules('wuqing-fine', 'hp-tk-1', 'temp_c').find((r) => r.kind === 'roc')).toMatchObject({
      ruleId: 'roc:hp-tk-1:temp_c',
      maxRisePerMin: 0.2,
      maxFallPerMin: null,
      windowMs: 600_000,
      priority: 'high',
    });
    expect(limits('nangang-petro', 'bz-tk-1', 'temp_c')).toEqual([
      ['L', 8, 'medium'],
      ['H', 52, 'medium'],
      ['HH', 56, 'high'],
      ['LL', 6.5, 'high'],
    ]);
    expect(channelRules('wuqing-fine', 'me-tk-1', 'temp_c').some((r) => r.kind === 'roc')).toBe(false);
  });

  it('should watch the HH level switch, discrete inputs at their alarm value and analog inputs at their limits', () => {
    expect(channelRules('bohai-chem', 'cl-tk-1', 'level_switch_hh')).toEqual([
      expect.objectContaining({ kind: 'flag', ruleId: 'lshh:cl-tk-1', condition: 'LSHH', priority: 'high' }),
    ]);
    expect(channelRules('bohai-chem', 'cl-absorber-pump', 'state')).toEqual([
      expect.objectContaining({
        kind: 'flag',
        condition: 'discrete_alarm',
        activeWhen: false,
        priority: 'high',
      }),
    ]);
    expect(limits('bohai-chem', 'cl-ft-101', 'value')).toEqual([
      ['H', 20, 'medium'],
      ['HH', 25, 'high'],
    ]);
    expect(channelRules('bohai-chem', 'cl-ft-101', 'value').find((r) => r.kind === 'limit')).toMatchObject({
      unit: 'm3/h',
    });
  });

  it('should generate interlock supervision only from the cause-and-effect matrix', () => {
    const noCe = compileRules(
      { sites: view.sites.map((s) => ({ ...s, causeAndEffect: [] })) },
      { version: 1 },
    );
    // Voted areas with valves everywhere, but no trip declared: nothing to supervise.
    expect(noCe.ok && noCe.rules.interlocks).toEqual([]);
    expect(noCe.ok && noCe.rules.votes.length).toBe(6);
    expect(rules.interlocks.find((i) => i.ruleId === 'interlock:bz-a1')).toBeUndefined();
    expect(rules.interlocks.find((i) => i.ruleId === 'interlock:cl-a1')).toMatchObject({
      trigger: [{ siteId: 'bohai-chem', ruleId: 'vote:cl-a1', condition: 'vote' }],
      valves: [
        { deviceId: 'cl-xv-1', sourceId: 'bhc-cl2', closeWithinMs: 20_000 },
        { deviceId: 'cl-xv-2', sourceId: 'bhc-cl2', closeWithinMs: 20_000 },
      ],
    });
  });
});
