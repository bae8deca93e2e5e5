import { deviceKey } from './device.model';
import { selectDevices } from './device-selection.util';
import { demoPlant } from './demo-plant.fixture';

describe('selectDevices', () => {
  const plant = demoPlant();

  it('should return every device in plant order when no selection is given', () => {
    expect(selectDevices(plant).map(deviceKey)).toEqual([...plant.deviceByKey.keys()]);
    expect(selectDevices(plant)).toHaveLength(75);
  });

  it('should return the first N devices when given a count', () => {
    expect(selectDevices(plant, 5).map(deviceKey)).toEqual([...plant.deviceByKey.keys()].slice(0, 5));
  });

  it('should pick devices by key or bare id when given a list', () => {
    expect(selectDevices(plant, ['bohai-chem/cl-gd-2', 'bz-tk-1']).map(deviceKey)).toEqual([
      'bohai-chem/cl-gd-2',
      'nangang-petro/bz-tk-1',
    ]);
  });

  it('should throw naming the unknown device when the list has one', () => {
    expect(() => selectDevices(plant, ['cl-gd-1', 'nope'])).toThrow(/unknown device\(s\) nope/);
  });

  it('should throw when the count is not a positive integer', () => {
    expect(() => selectDevices(plant, 0)).toThrow(RangeError);
    expect(() => selectDevices(plant, 1.5)).toThrow(RangeError);
  });
});
