import { lastDeviceLookup } from './device-lookup';

describe('lastDeviceLookup', () => {
  it('should answer for the asked site and device, also when the same device id exists on another site', () => {
    const bySite = new Map([
      [
        's1',
        new Map([
          ['a', 1],
          ['b', 2],
        ]),
      ],
      ['s2', new Map([['a', 3]])],
    ]);
    const get = lastDeviceLookup(bySite);
    expect([
      get('s1', 'a'),
      get('s1', 'a'),
      get('s2', 'a'),
      get('s1', 'b'),
      get('s2', 'b'),
      get('s3', 'a'),
    ]).toEqual([1, 1, 3, 2, undefined, undefined]);
  });

  it('should not ask the map again while the device stays the same', () => {
    const inner = new Map([['a', 1]]);
    const gets: string[] = [];
    const bySite = {
      get: (site: string) => (gets.push(site), site === 's1' ? inner : undefined),
    } as unknown as ReadonlyMap<string, ReadonlyMap<string, number>>;
    const get = lastDeviceLookup(bySite);
    get('s1', 'a');
    get('s1', 'a');
    get('s1', 'a');
    expect(gets).toEqual(['s1']);
  });
});
