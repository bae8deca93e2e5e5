import { makeAlarm } from '../../../test/factories/alarm.factory';
import { DEFAULT_ALARM_SETTINGS, isLatching, type AlarmSettings } from './alarm-settings';
import { desiredSuppression, suppressionDiff, type SuppressionContext } from './suppression';

const AREAS: Record<string, string> = { 'cl-gd-1': 'cl-a1', 'cl-gd-2': 'cl-a1', 'nh-gd-1': 'nh-a1' };
const settings: AlarmSettings = {
  ...DEFAULT_ALARM_SETTINGS,
  suppression: [
    { id: 'device-offline', whileCondition: 'offline', scope: 'device' },
    { id: 'maintenance', whileAreaInMaintenance: true, scope: 'area', conditions: ['discrepancy', 'gas_l1'] },
    { id: 'esd-trip', whileCondition: 'esd_trip', scope: 'area', exceptConditions: ['gas_l2'] },
  ],
};
const ctx = (alarms: ReturnType<typeof makeAlarm>[], maintenance: string[] = []): SuppressionContext => ({
  siteAlarms: alarms,
  areaOf: (_s, d) => (d === undefined ? undefined : AREAS[d]),
  maintenance: new Set(maintenance),
});

describe('design suppression', () => {
  const gas = makeAlarm({ id: 'gas', deviceId: 'cl-gd-1', condition: 'gas_l1' });

  it('should suppress a device alarm while the same device is offline', () => {
    const offline = makeAlarm({ id: 'off', deviceId: 'cl-gd-1', condition: 'offline', active: true });
    expect(desiredSuppression(gas, settings, ctx([gas, offline]))).toEqual(['device-offline']);
  });

  it('should not suppress when the offline condition is clear or on another device', () => {
    const offClear = makeAlarm({
      id: 'off',
      deviceId: 'cl-gd-1',
      condition: 'offline',
      active: false,
      state: 'normal',
    });
    const offOther = makeAlarm({ id: 'off2', deviceId: 'cl-gd-2', condition: 'offline', active: true });
    expect(desiredSuppression(gas, settings, ctx([gas, offClear, offOther]))).toEqual([]);
  });

  it('should never let the trigger suppress itself', () => {
    const offline = makeAlarm({ id: 'off', deviceId: 'cl-gd-1', condition: 'offline', active: true });
    expect(desiredSuppression(offline, settings, ctx([offline]))).toEqual([]);
  });

  it('should suppress listed conditions of an area in maintenance only', () => {
    const other = makeAlarm({ id: 'hh', deviceId: 'cl-gd-1', condition: 'gas_l2' });
    const elsewhere = makeAlarm({ id: 'nh', deviceId: 'nh-gd-1', condition: 'gas_l1' });
    const c = ctx([gas, other, elsewhere], ['bohai-chem/cl-a1']);
    expect(desiredSuppression(gas, settings, c)).toEqual(['maintenance']);
    expect(desiredSuppression(other, settings, c)).toEqual([]);
    expect(desiredSuppression(elsewhere, settings, c)).toEqual([]);
  });

  it('should honour exceptions and area scope for condition triggers', () => {
    const trip = makeAlarm({ id: 'trip', deviceId: 'cl-gd-2', condition: 'esd_trip', active: true });
    const l2 = makeAlarm({ id: 'l2', deviceId: 'cl-gd-1', condition: 'gas_l2' });
    expect(desiredSuppression(gas, settings, ctx([gas, l2, trip]))).toEqual(['esd-trip']);
    expect(desiredSuppression(l2, settings, ctx([gas, l2, trip]))).toEqual([]);
  });

  it('should not cross sites', () => {
    const offline = makeAlarm({
      id: 'off',
      siteId: 'other-site',
      deviceId: 'cl-gd-1',
      condition: 'offline',
      active: true,
    });
    expect(desiredSuppression(gas, settings, ctx([gas, offline]))).toEqual([]);
  });

  it('should compute what to add and remove', () => {
    expect(suppressionDiff(['a', 'b'], ['b', 'c'])).toEqual({ add: ['c'], remove: ['a'] });
  });

  it('should latch only alarms matched by a latch entry', () => {
    const s: AlarmSettings = {
      ...DEFAULT_ALARM_SETTINGS,
      latch: [{ condition: 'over_range' }, { ruleId: 'esd', condition: 'trip' }, {}],
    };
    expect(isLatching(s, { ruleId: 'x', condition: 'over_range' })).toBe(true);
    expect(isLatching(s, { ruleId: 'esd', condition: 'trip' })).toBe(true);
    expect(isLatching(s, { ruleId: 'other', condition: 'trip' })).toBe(false);
    expect(isLatching(s, { ruleId: 'x', condition: 'gas_l2' })).toBe(false);
  });
});
