import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeAlarmTestConfig } from '../../test/factories/alarm.factory';
import { ConfigError } from '../common/errors';
import { loadPlant } from '../config/config.loader';
import { loadAlarmSettings } from './alarm-settings.loader';

const dirWith = (yaml: string): string => {
  const dir = mkdtempSync(join(tmpdir(), 'hazwatch-alarms-'));
  writeFileSync(join(dir, 'alarms.yaml'), yaml);
  return dir;
};
const plant = makeAlarmTestConfig().plant;

describe('loadAlarmSettings', () => {
  it('should load the shipped config/alarms.yaml against the demo plant', () => {
    const dir = resolve(__dirname, '../../config');
    const { settings, file } = loadAlarmSettings(dir, loadPlant(dir));
    expect(file).toMatch(/alarms\.yaml$/);
    expect(settings.reAlarmMs).toBe(60 * 60_000);
    expect(settings.latch).toContainEqual({ condition: 'trip' });
    expect(settings.suppression.map((s) => s.id)).toEqual([
      'device-offline',
      'site-offline',
      'area-maintenance',
    ]);
    expect(settings.siteLink).toEqual({
      offlineFraction: 0.8,
      restoreFraction: 0.5,
      minDevices: 3,
      holdMs: 20_000,
    });
  });

  it('should turn site link supervision on by default with its suppression rule, and off on request', () => {
    const on = loadAlarmSettings(dirWith('reAlarmMinutes: 0\n'), plant).settings;
    expect(on.siteLink).toEqual({
      offlineFraction: 0.8,
      restoreFraction: 0.5,
      minDevices: 3,
      holdMs: 20_000,
    });
    expect(on.suppression).toEqual([
      {
        id: 'site-offline',
        whileCondition: 'site_offline',
        scope: 'site',
        conditions: ['offline', 'stale', 'vote_degraded'],
      },
    ]);
    const off = loadAlarmSettings(dirWith('siteLink: { enabled: false }\n'), plant).settings;
    expect(off.siteLink).toBeUndefined();
    expect(off.suppression).toEqual([]);
  });

  it('should refuse a restore share above the offline share, naming the path', () => {
    let err: unknown;
    try {
      loadAlarmSettings(dirWith('siteLink: { offlinePercent: 60, restorePercent: 70 }\n'), plant);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      { path: 'siteLink.restorePercent', reason: 'must not exceed offlinePercent (60)' },
    ]);
  });

  it('should fall back to defaults when the file is absent', () => {
    const { settings, file } = loadAlarmSettings(mkdtempSync(join(tmpdir(), 'hazwatch-alarms-')), plant);
    expect(file).toBeNull();
    expect(settings).toEqual({ reAlarmMs: 0, latch: [], suppression: [], maintenanceAreas: [] });
  });

  it('should name the file, path and reason of a bad value', () => {
    const dir = dirWith('reAlarmMinutes: -1\nsuppression:\n  - id: x\n    scope: planet\n');
    let err: unknown;
    try {
      loadAlarmSettings(dir, plant);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as ConfigError).message;
    expect(msg).toContain(join(dir, 'alarms.yaml'));
    expect(msg).toMatch(/reAlarmMinutes: .*(0|less)/);
    expect(msg).toMatch(/suppression\[0\]\.scope/);
  });

  it('should reject a suppression rule without a trigger, a duplicate id and an unknown area', () => {
    const dir = dirWith(
      'suppression:\n  - { id: a, scope: device }\n  - { id: a, whileCondition: offline, scope: device }\nmaintenanceAreas: [ bohai-chem/nowhere ]\nlatch:\n  - {}\n',
    );
    expect(() => loadAlarmSettings(dir, plant)).toThrow(
      /suppression\[0\]: needs a trigger[\s\S]*suppression\[1\]\.id: duplicate[\s\S]*maintenanceAreas\[0\]: unknown area/,
    );
    expect(() => loadAlarmSettings(dir, plant)).toThrow(/latch\[0\]: needs ruleId and\/or condition/);
  });

  it('should reject unknown keys', () => {
    expect(() => loadAlarmSettings(dirWith('reAlarmMinute: 5\n'), plant)).toThrow(/reAlarmMinute/);
  });
});
