import { mayPublish, maySubscribe, renderMosquittoAcl, type MqttPrincipal } from './mqtt-acl';

const siteA: MqttPrincipal = { username: 'site-a', role: 'site', sites: ['a'] };
const gateway: MqttPrincipal = { username: 'gw', role: 'site', sites: ['a', 'b'] };
const server: MqttPrincipal = { username: 'hazwatch-server', role: 'server', sites: [] };

describe('MQTT ACL', () => {
  it('should let a site publish only below its own site', () => {
    expect(mayPublish(siteA, 'hazwatch/v1/a/gd-1/telemetry')).toBe(true);
    expect(mayPublish(siteA, 'hazwatch/v1/a/gd-1/state')).toBe(true);
    for (const t of [
      'hazwatch/v1/b/gd-1/telemetry',
      'hazwatch/v1/a',
      'hazwatch/v1/ab/gd/telemetry',
      'hazwatch/server/x/status',
      'other/a/b',
      '',
      'hazwatch/v1/+/gd/telemetry',
      'hazwatch/v2/a/gd/telemetry',
    ]) {
      expect([t, mayPublish(siteA, t)]).toEqual([t, false]);
    }
    expect(mayPublish(gateway, 'hazwatch/v1/b/gd-9/telemetry')).toBe(true);
  });

  it('should let only the server publish the status topic and never device topics', () => {
    expect(mayPublish(server, 'hazwatch/server/hazwatch-server/status')).toBe(true);
    expect(mayPublish(server, 'hazwatch/v1/a/gd-1/telemetry')).toBe(false);
  });

  it('should refuse a site every subscription outside its own subtree', () => {
    expect(maySubscribe(siteA, 'hazwatch/v1/a/#')).toBe(true);
    expect(maySubscribe(siteA, 'hazwatch/v1/a/+/state')).toBe(true);
    for (const f of [
      '#',
      '+/#',
      'hazwatch/#',
      'hazwatch/v1/#',
      'hazwatch/v1/+/+/telemetry',
      'hazwatch/v1/b/#',
      '$SYS/#',
      'hazwatch/server/#',
    ]) {
      expect([f, maySubscribe(siteA, f)]).toEqual([f, false]);
    }
    expect(maySubscribe(server, 'hazwatch/v1/+/+/telemetry')).toBe(true);
    expect(maySubscribe(server, '$SYS/#')).toBe(false);
  });

  it('should render the same rules as a Mosquitto ACL', () => {
    expect(
      renderMosquittoAcl([siteA, server, gateway])
        .split('\n')
        .filter((l) => l && !l.startsWith('#')),
    ).toEqual([
      'user gw',
      'topic readwrite hazwatch/v1/a/#',
      'topic readwrite hazwatch/v1/b/#',
      'user hazwatch-server',
      'topic read hazwatch/v1/#',
      'topic readwrite hazwatch/server/#',
      'user site-a',
      'topic readwrite hazwatch/v1/a/#',
    ]);
  });
});
