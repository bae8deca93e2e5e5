import { alarmId } from './alarm-id';

describe('alarmId', () => {
  it('should give the same id for the same key', () => {
    expect(alarmId({ ruleId: 'r', sourceId: 's', deviceId: 'd', condition: 'HH' })).toBe(
      alarmId({ condition: 'HH', deviceId: 'd', sourceId: 's', ruleId: 'r' }),
    );
  });

  it('should give different ids when any part differs, including a missing device', () => {
    const base = { ruleId: 'r', sourceId: 's', deviceId: 'd', condition: 'HH' };
    const ids = new Set([
      alarmId(base),
      alarmId({ ...base, ruleId: 'r2' }),
      alarmId({ ...base, sourceId: 's2' }),
      alarmId({ ...base, deviceId: 'd2' }),
      alarmId({ ruleId: 'r', sourceId: 's', condition: 'HH' }),
      alarmId({ ...base, condition: 'H' }),
      // no ambiguity from separators inside the parts
      alarmId({ ruleId: 'r/s', sourceId: '', deviceId: 'd', condition: 'HH' }),
    ]);
    expect(ids.size).toBe(7);
  });

  it('should be URL-safe', () => {
    expect(alarmId({ ruleId: 'ä ö/?', sourceId: 's', condition: 'c' })).toMatch(/^al-[0-9a-f]{20}$/);
  });
});
