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

  describe('Sparkplug B (docs/sparkplug.md)', () => {
    const nodes = new Map([
      ['Plant1/gw-a', 'a'],
      ['Plant1/gw-b', 'b'],
    ]);

    it('lets a site act as its own edge nodes only: births, deaths, data; commands and STATE to read', () => {
      for (const t of [
        'spBv1.0/Plant1/NBIRTH/gw-a',
        'spBv1.0/Plant1/NDEATH/gw-a',
        'spBv1.0/Plant1/NDATA/gw-a',
        'spBv1.0/Plant1/DBIRTH/gw-a/PLC1',
        'spBv1.0/Plant1/DDATA/gw-a/PLC1',
        'spBv1.0/Plant1/DDEATH/gw-a/PLC1',
      ])
        expect([t, mayPublish(siteA, t, nodes)]).toEqual([t, true]);
      for (const t of [
        'spBv1.0/Plant1/NDATA/gw-b',
        'spBv1.0/Plant1/NCMD/gw-a',
        'spBv1.0/Plant1/DCMD/gw-a/PLC1',
        'spBv1.0/Plant1/NDATA/gw-x',
        'spBv1.0/STATE/hazwatch',
        'spBv1.0/Plant1/DDATA/gw-a',
        'spBv1.0/Plant2/NDATA/gw-a',
      ])
        expect([t, mayPublish(siteA, t, nodes)]).toEqual([t, false]);
      expect(mayPublish(siteA, 'spBv1.0/Plant1/NDATA/gw-a')).toBe(false); // no mapping, no rights
      for (const f of ['spBv1.0/Plant1/NCMD/gw-a', 'spBv1.0/Plant1/DCMD/gw-a/+', 'spBv1.0/STATE/+'])
        expect([f, maySubscribe(siteA, f, nodes)]).toEqual([f, true]);
      for (const f of [
        'spBv1.0/#',
        'spBv1.0/Plant1/NCMD/+',
        'spBv1.0/+/NCMD/gw-a',
        'spBv1.0/Plant1/NDATA/gw-a',
        'spBv1.0/Plant1/NCMD/gw-b',
        'spBv1.0/STATE/#',
      ])
        expect([f, maySubscribe(siteA, f, nodes)]).toEqual([f, false]);
    });

    it('lets the server read every Sparkplug topic and send NCMD (rebirth) and its STATE, nothing else', () => {
      expect(maySubscribe(server, 'spBv1.0/+/DDATA/+/+', nodes)).toBe(true);
      expect(mayPublish(server, 'spBv1.0/Plant1/NCMD/gw-a', nodes)).toBe(true);
      expect(mayPublish(server, 'spBv1.0/STATE/hazwatch', nodes)).toBe(true);
      expect(mayPublish(server, 'spBv1.0/STATE/hazwatch/x', nodes)).toBe(false);
      expect(mayPublish(server, 'spBv1.0/STATE/+', nodes)).toBe(false);
      expect(mayPublish(server, 'spBv1.0/Plant1/NDATA/gw-a', nodes)).toBe(false);
      expect(mayPublish(server, 'spBv1.0/Plant1/DCMD/gw-a/PLC1', nodes)).toBe(false);
    });

    it('renders the same rules for Mosquitto', () => {
      const acl = renderMosquittoAcl([siteA, server], nodes);
      expect(acl).toContain('topic write spBv1.0/Plant1/NDATA/gw-a\n');
      expect(acl).toContain('topic write spBv1.0/Plant1/DDATA/gw-a/+\n');
      expect(acl).toContain('topic read spBv1.0/Plant1/NCMD/gw-a\n');
      expect(acl).not.toContain('gw-b');
      expect(acl).toContain('topic write spBv1.0/+/NCMD/+\n');
      expect(acl).toContain('topic write spBv1.0/STATE/+\n');
      expect(acl.split('user site-a')[1]).not.toContain('topic write spBv1.0/STATE');
      expect(renderMosquittoAcl([siteA, server])).not.toContain('spBv1.0');
    });
  });
});
