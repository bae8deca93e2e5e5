import { SubscriptionIndex } from './subscription.index';

describe('SubscriptionIndex', () => {
  const make = (): SubscriptionIndex<string> => new SubscriptionIndex<string>();

  it('should index a client by every visible site when it is added', () => {
    const idx = make();
    idx.addClient('c1', ['bohai-chem', 'nangang-petro']);
    expect([...(idx.siteClients('bohai-chem') ?? [])]).toEqual(['c1']);
    expect([...(idx.siteClients('nangang-petro') ?? [])]).toEqual(['c1']);
    expect(idx.siteClients('wuqing-fine')).toBeUndefined();
  });

  it('should list alarm subscribers only for sites they may see when alarms are on', () => {
    const idx = make();
    idx.addClient('binhai', ['bohai-chem']);
    idx.addClient('all', ['bohai-chem', 'wuqing-fine']);
    idx.setAlarms('binhai', true);
    idx.setAlarms('all', true);
    expect([...(idx.alarmSubscribers('bohai-chem') ?? [])].sort()).toEqual(['all', 'binhai']);
    expect([...(idx.alarmSubscribers('wuqing-fine') ?? [])]).toEqual(['all']);
  });

  it('should stop listing a client for alarms when alarms are turned off', () => {
    const idx = make();
    idx.addClient('c1', ['s1']);
    idx.setAlarms('c1', true);
    idx.setAlarms('c1', false);
    expect(idx.alarmSubscribers('s1')).toBeUndefined();
    expect(idx.hasAlarms('c1')).toBe(false);
  });

  it('should replace the telemetry set when setTelemetry is called again', () => {
    const idx = make();
    idx.addClient('c1', ['s1']);
    idx.setTelemetry('c1', [
      { siteId: 's1', deviceId: 'd1' },
      { siteId: 's1', deviceId: 'd2' },
    ]);
    idx.setTelemetry('c1', [
      { siteId: 's1', deviceId: 'd2' },
      { siteId: 's1', deviceId: 'd3' },
    ]);
    expect(idx.deviceSubscribers('s1', 'd1')).toBeUndefined();
    expect([...(idx.deviceSubscribers('s1', 'd2') ?? [])]).toEqual(['c1']);
    expect([...(idx.deviceSubscribers('s1', 'd3') ?? [])]).toEqual(['c1']);
    expect([...idx.telemetryOf('c1')].sort()).toEqual(['s1/d2', 's1/d3']);
  });

  it('should refuse a telemetry entry of a site the client may not see', () => {
    const idx = make();
    idx.addClient('c1', ['s1']);
    expect(() => idx.setTelemetry('c1', [{ siteId: 's2', deviceId: 'd1' }])).toThrow(/not visible/);
  });

  it('should keep other subscribers of a device when one client leaves', () => {
    const idx = make();
    idx.addClient('c1', ['s1']);
    idx.addClient('c2', ['s1']);
    idx.setTelemetry('c1', [{ siteId: 's1', deviceId: 'd1' }]);
    idx.setTelemetry('c2', [{ siteId: 's1', deviceId: 'd1' }]);
    idx.removeClient('c1');
    expect([...(idx.deviceSubscribers('s1', 'd1') ?? [])]).toEqual(['c2']);
  });

  it('should leave no trace in any index when the last client is removed', () => {
    const idx = make();
    idx.addClient('c1', ['s1', 's2']);
    idx.setAlarms('c1', true);
    idx.setTelemetry('c1', [{ siteId: 's2', deviceId: 'd9' }]);
    idx.removeClient('c1');
    expect(idx.size).toBe(0);
    expect(idx.siteClients('s1')).toBeUndefined();
    expect(idx.alarmSubscribers('s2')).toBeUndefined();
    expect(idx.deviceSubscribers('s2', 'd9')).toBeUndefined();
    expect(idx.telemetrySubscriptionCount).toBe(0);
    expect(idx.has('c1')).toBe(false);
  });

  it('should throw when a subscription is set for an unregistered client', () => {
    const idx = make();
    expect(() => idx.setAlarms('ghost', true)).toThrow(/not registered/);
    expect(() => idx.setTelemetry('ghost', [])).toThrow(/not registered/);
  });
});
