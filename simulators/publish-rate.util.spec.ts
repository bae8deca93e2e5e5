import { deviceKey } from './device.model';
import { demoDevices } from './demo-plant.fixture';
import { resolvePeriods } from './publish-rate.util';

const totalRate = (periods: Map<string, number>): number =>
  [...periods.values()].reduce((s, p) => s + 1000 / p, 0);

describe('resolvePeriods', () => {
  const devices = demoDevices();

  it('should use each device periodS when no rate is given', () => {
    const periods = resolvePeriods(devices, {});
    for (const d of devices) expect(periods.get(deviceKey(d))).toBe(d.periodS * 1000);
  });

  it('should divide every period by the multiplier when given --rate', () => {
    const periods = resolvePeriods(devices, { rate: 4 });
    for (const d of devices) expect(periods.get(deviceKey(d))).toBe((d.periodS * 1000) / 4);
  });

  it('should reach the requested total messages/s in proportion to configured rates when given messages/s', () => {
    const natural = totalRate(resolvePeriods(devices, {}));
    const periods = resolvePeriods(devices, { messagesPerSecond: 500 });
    expect(totalRate(periods)).toBeCloseTo(500, 6);
    const gas = devices.find((d) => d.kind === 'gas_detector')!;
    expect(periods.get(deviceKey(gas))).toBeCloseTo((gas.periodS * 1000 * natural) / 500, 6);
  });

  it('should give every device the same period when given periodMs', () => {
    expect(new Set(resolvePeriods(devices, { periodMs: 250, rate: 9 }).values())).toEqual(new Set([250]));
  });

  it('should throw when the rate is not positive', () => {
    expect(() => resolvePeriods(devices, { rate: 0 })).toThrow(RangeError);
    expect(() => resolvePeriods(devices, { messagesPerSecond: -1 })).toThrow(/messages\/s must be > 0/);
    expect(() => resolvePeriods(devices, { periodMs: 0 })).toThrow(/period must be > 0/);
  });
});
