import { capTime, isCapTime } from './cap-time';

describe('capTime', () => {
  it('should write China Standard Time with a +08:00 offset and whole seconds', () => {
    expect(capTime(Date.UTC(2026, 10, 24, 10, 0, 0, 999))).toBe('2026-11-24T18:00:00+08:00');
  });
  it('should roll over the date when +08:00 passes midnight', () => {
    expect(capTime(Date.UTC(2026, 11, 31, 16, 30, 5))).toBe('2027-01-01T00:30:05+08:00');
  });
  it('should write UTC as -00:00, never Z', () => {
    const s = capTime(Date.UTC(2026, 0, 2, 3, 4, 5), 0);
    expect(s).toBe('2026-01-02T03:04:05-00:00');
    expect(s).not.toContain('Z');
  });
  it('should write negative offsets', () => {
    expect(capTime(Date.UTC(2026, 0, 2, 3, 4, 5), -330)).toBe('2026-01-01T21:34:05-05:30');
  });
  it('should refuse a time that is not a number', () => {
    expect(() => capTime(Number.NaN)).toThrow(RangeError);
  });
  it('should recognise CAP date-times and reject ISO forms CAP forbids', () => {
    expect(isCapTime('2026-11-24T18:00:00+08:00')).toBe(true);
    expect(isCapTime('2026-11-24T10:00:00Z')).toBe(false);
    expect(isCapTime('2026-11-24T18:00:00.123+08:00')).toBe(false);
  });
});
