import { BrokerDropTracker, parseCounter } from './broker-drops';

describe('parseCounter', () => {
  it('should read a non-negative integer and refuse anything else', () => {
    expect(parseCounter('0')).toBe(0);
    expect(parseCounter(' 512318\n')).toBe(512318);
    for (const bad of ['', '-1', '1.5', 'abc', '1e9', '9999999999999999'])
      expect(parseCounter(bad)).toBeUndefined();
  });
});

describe('BrokerDropTracker', () => {
  it('should count the first value whole, then only increases', () => {
    const t = new BrokerDropTracker();
    expect(t.observe(0)).toEqual({ increase: 0, brokerRestarted: false, first: true });
    expect(t.observe(0).increase).toBe(0);
    expect(t.observe(120).increase).toBe(120);
    expect(t.observe(125).increase).toBe(5);
    expect(t.lastValue).toBe(125);
  });

  it('should report drops that happened before it watched (a first value above 0)', () => {
    expect(new BrokerDropTracker().observe(49_901)).toEqual({
      increase: 49_901,
      brokerRestarted: false,
      first: true,
    });
  });

  it('should treat a lower value as a broker restart and count its drops since then', () => {
    const t = new BrokerDropTracker();
    t.observe(500);
    expect(t.observe(0)).toEqual({ increase: 0, brokerRestarted: true, first: false });
    expect(t.observe(7).increase).toBe(7);
    const u = new BrokerDropTracker();
    u.observe(500);
    expect(u.observe(30)).toEqual({ increase: 30, brokerRestarted: true, first: false });
  });
});
