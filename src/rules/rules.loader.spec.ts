import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../common/errors';
import { loadPlant } from '../config/config.loader';
import { loadRules } from './rules.loader';

const demoDir = join(__dirname, '..', '..', 'config');
const plant = loadPlant(demoDir);

function dirWith(rulesYaml: string | null): string {
  const dir = mkdtempSync(join(tmpdir(), 'hazwatch-rules-'));
  copyFileSync(join(demoDir, 'plant.yaml'), join(dir, 'plant.yaml'));
  if (rulesYaml !== null) writeFileSync(join(dir, 'rules.yaml'), rulesYaml);
  return dir;
}

function problems(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadRules', () => {
  it('should load the demo rules and cover every device of the demo plant', () => {
    const { rules, fromFile } = loadRules(demoDir, plant);
    expect(fromFile).toBe(true);
    let devices = 0;
    for (const site of rules.devices.values())
      for (const d of site.values()) {
        devices++;
        expect(d.stale).not.toBeNull();
        expect(d.offline).not.toBeNull();
        expect(d.deviceRules.some((r) => r.kind === 'quality')).toBe(true);
        if (d.kind === 'gas_detector')
          expect(d.channels.get('conc')?.rules.map((r) => r.kind)).toEqual(['limit', 'range']);
        if (d.kind === 'tank')
          expect(d.channels.get('level_pct')?.rules.map((r) => r.kind)).toEqual([
            'limit',
            'range',
            'roc',
            'overfill',
          ]);
        if (d.kind === 'shutoff_valve')
          expect(d.deviceRules.map((r) => r.kind)).toEqual(['quality', 'valve']);
        if (d.kind === 'safety_system')
          expect(d.channels.get('status')?.rules.map((r) => r.kind)).toEqual(['safety_system']);
      }
    expect(devices).toBe(plant.deviceByKey.size);
    expect(rules.votes).toHaveLength(6);
    expect(rules.votes.find((v) => v.area === 'cl-a1')).toMatchObject({
      k: 2,
      faulted: 'tripped',
      members: ['cl-gd-1', 'cl-gd-2', 'cl-gd-3'],
      priority: 'critical',
    });
    // Interlock supervision only from the plant's cause-and-effect: the toxic areas' votes and every tank's LSHH.
    expect(rules.interlocks.map((i) => i.ruleId).sort()).toEqual(
      [
        'interlock:cl-a1',
        'interlock:nh-a1',
        ...['cl', 'nh', 'bz', 'vc', 'hp', 'me'].flatMap((p) => [`hh-trip:${p}-tk-1`, `hh-trip:${p}-tk-2`]),
      ].sort(),
    );
    expect(rules.interlocks.find((i) => i.ruleId === 'hh-trip:cl-tk-1')?.trigger).toEqual([
      { siteId: 'bohai-chem', ruleId: 'lshh:cl-tk-1', deviceId: 'cl-tk-1', condition: 'LSHH' },
    ]);
    // gas-valve-open:cl-a1, systems-degraded:bz-a1 and hh-inlet-open for each of the 12 tanks
    expect(rules.composites).toHaveLength(14);
    expect(rules.hazardSources).toHaveLength(plant.sourceById.size);
  });

  it('should derive gas limits from each detector set points and tank level limits from the filling limit', () => {
    const { rules } = loadRules(demoDir, plant);
    const gd = rules.devices.get('bohai-chem')!.get('cl-gd-1')!.channels.get('conc')!.rules[0]!;
    expect(gd).toMatchObject({
      kind: 'limit',
      limits: [
        expect.objectContaining({ condition: 'gas_l1', value: 1, priority: 'medium', deadband: 0.1 }),
        expect.objectContaining({ condition: 'gas_l2', value: 2, priority: 'high' }),
      ],
    });
    const tk = rules.devices.get('bohai-chem')!.get('cl-tk-1')!.channels.get('level_pct')!.rules;
    const lim = tk[0]!;
    // 80 % of the volume of a horizontal cylinder is held at 74.5 % of its level: HH there, H 5 % below.
    expect(lim.kind === 'limit' && lim.limits.map((l) => [l.condition, l.value])).toEqual([
      ['LL', 5],
      ['L', 10],
      ['H', 69.5],
      ['HH', 74.5],
    ]);
    expect(tk.find((r) => r.kind === 'overfill')).toMatchObject({ hh: 74.5 });
  });

  it('should use the defaults only when rules.yaml is absent', () => {
    const { rules, fromFile } = loadRules(dirWith(null), plant);
    expect(fromFile).toBe(false);
    expect(rules.votes.every((v) => v.faulted === 'excluded')).toBe(true);
    expect(rules.composites).toHaveLength(0);
  });

  it('should name the file, the path and the reason when the schema is violated', () => {
    const dir = dirWith(
      'version: 1\nvotes:\n  - { site: bohai-chem, area: cl-a1, k: 0 }\nsettings: { lateToleranceS: -1 }\n',
    );
    const err = problems(() => loadRules(dir, plant));
    expect(err.file).toBe(join(dir, 'rules.yaml'));
    const paths = err.problems.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining(['votes[0].k', 'votes[0].faulted', 'settings.lateToleranceS']),
    );
    expect(err.message).toContain('faulted must be chosen explicitly');
  });

  it('should reject references to unknown sites, devices, channels and wrong device kinds', () => {
    const dir = dirWith(
      [
        'version: 1',
        'limits:',
        '  - { site: nowhere, device: x, channel: conc, limits: [] }',
        '  - { site: bohai-chem, device: cl-gd-1, channel: level_pct, limits: [] }',
        'interlocks:',
        '  - { id: x, site: bohai-chem, when: [ { condition: HH, device: ghost } ], valves: [ cl-gd-1 ] }',
        'disable: [ "limit:ghost:conc" ]',
      ].join('\n'),
    );
    const err = problems(() => loadRules(dir, plant));
    expect(err.problems).toEqual(
      expect.arrayContaining([
        { path: 'limits[0].site', reason: "unknown site 'nowhere'" },
        { path: 'limits[1].channel', reason: "a gas_detector has no channel 'level_pct'" },
        { path: 'interlocks[0].when[0].device', reason: "unknown device 'ghost' in site 'bohai-chem'" },
        {
          path: 'interlocks[0].valves[0].device',
          reason: "'cl-gd-1' is a gas_detector, not a shutoff_valve",
        },
        { path: 'disable', reason: "no rule with id 'limit:ghost:conc'" },
      ]),
    );
  });

  it('should reject a low limit above a high limit and a new limit without a direction', () => {
    const dir = dirWith(
      'version: 1\nlimits:\n  - { site: bohai-chem, device: cl-tk-1, channel: level_pct, limits: [ { condition: L, value: 95 }, { condition: X, value: 3 } ] }\n',
    );
    const err = problems(() => loadRules(dir, plant));
    const reasons = err.problems.map((p) => `${p.path}: ${p.reason}`);
    expect(reasons).toEqual(
      expect.arrayContaining([
        "limits[0].limits[1].direction: required for the new limit 'X'",
        expect.stringMatching(/^limits\[0\]\.limits: low limit L \(95\) must be below high limit H/),
      ]),
    );
  });

  it('should report a YAML syntax error with its line', () => {
    const err = problems(() => loadRules(dirWith('version: 1\nvotes: [ {\n'), plant));
    expect(err.problems[0]!.path).toMatch(/^line \d+, column \d+$/);
  });

  it('should switch off a generated rule listed in disable', () => {
    const { rules } = loadRules(
      dirWith('version: 1\ndisable: [ "roc:cl-tk-1:level_pct", "stale:cl-gd-1" ]\n'),
      plant,
    );
    const d = rules.devices.get('bohai-chem')!.get('cl-tk-1')!;
    expect(d.channels.get('level_pct')!.rules.some((r) => r.kind === 'roc')).toBe(false);
    expect(rules.devices.get('bohai-chem')!.get('cl-gd-1')!.stale).toBeNull();
    expect(rules.producible.has('bohai-chem|stale:cl-gd-1|stale')).toBe(false);
  });

  describe('on-delay order (docs/alarm-lifecycle.md)', () => {
    it('should refuse an H on-delay longer than the HH on-delay of the same channel, naming file, path and reason', () => {
      const dir = dirWith(
        'version: 1\nlimits:\n  - { site: bohai-chem, device: nh-tk-1, channel: level_pct, limits: [ { condition: H, onDelayS: 60 }, { condition: HH, onDelayS: 10 } ] }\n',
      );
      const err = problems(() => loadRules(dir, plant));
      expect(err.file).toBe(join(dir, 'rules.yaml'));
      expect(err.problems).toEqual([
        {
          path: 'limits[0].limits',
          reason: expect.stringMatching(
            /^on-delay of H \(60 s\) exceeds the on-delay of the more severe HH \(10 s\)/,
          ),
        },
      ]);
      expect(err.message).toContain('limits[0].limits: on-delay of H (60 s)');
    });

    it('should refuse an L on-delay longer than the LL on-delay', () => {
      const dir = dirWith(
        'version: 1\nlimits:\n  - { site: bohai-chem, device: nh-tk-1, channel: level_pct, limits: [ { condition: L, onDelayS: 30 } ] }\n',
      );
      const err = problems(() => loadRules(dir, plant));
      expect(err.problems.map((p) => p.reason)).toEqual([
        expect.stringContaining('on-delay of L (30 s) exceeds the on-delay of the more severe LL (10 s)'),
      ]);
    });

    it('should give every generated limit an on-delay no longer than the severer limit on its side', () => {
      const { rules } = loadRules(demoDir, plant);
      let checked = 0;
      for (const site of rules.devices.values())
        for (const d of site.values())
          for (const ch of d.channels.values())
            for (const r of ch.rules) {
              if (r.kind !== 'limit') continue;
              const byCond = new Map(r.limits.map((l) => [l.condition, l.onDelayMs]));
              for (const [mild, severe] of [
                ['H', 'HH'],
                ['L', 'LL'],
                ['gas_l1', 'gas_l2'],
              ] as const) {
                const m = byCond.get(mild);
                const s2 = byCond.get(severe);
                if (m === undefined || s2 === undefined) continue;
                expect(m).toBeLessThanOrEqual(s2);
                checked++;
              }
            }
      expect(checked).toBeGreaterThan(20);
    });
  });
});
