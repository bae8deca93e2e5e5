/**
 * Jurisdiction scope: a Binhai regulator token cannot read a Wuqing enterprise anywhere — REST, KPIs, journal, feeds (Atom, CAP),
 * call-out and duty-check records, and the WebSocket. A Wuqing gas alarm is raised over MQTT on the real server and
 * every surface is checked against the operator's view (which must see it, so each check could fail).
 */
import { connectAsync, type MqttClient } from 'mqtt';
import { telemetryTopic } from '../../src/ingest/domain/telemetry-contract';
import { pollUntil } from '../setup/poll-until';
import { startServer, type ServerProcess } from '../setup/server-process';
import { WsTestClient } from './ws-test-client';

type Alarm = { id: string; siteId: string };

describe('jurisdiction scope across every surface (real server)', () => {
  let server: ServerProcess;
  let mqtt: MqttClient;
  let op = '';
  let reg = '';
  let wuqingAlarm: Alarm;
  const clients: WsTestClient[] = [];

  const get = async (path: string, token: string): Promise<{ status: number; text: string }> => {
    const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, text: await res.text() };
  };
  const json = async <T>(path: string, token: string): Promise<T> => {
    const r = await get(path, token);
    expect(r.status).toBe(200);
    return JSON.parse(r.text) as T;
  };

  beforeAll(async () => {
    server = await startServer({ env: { SIMULATE: 'false' } });
    const tokens = server.tokens();
    op = tokens.operator as string;
    reg = tokens.regulator as string;
    mqtt = await connectAsync(server.mqttUrl() as string, {
      ...server.mqttAuth(),
      clientId: 'scope-e2e',
      clean: true,
    });
    // hydrogen peroxide detector in Wuqing: level 2 is 3 mg/m3; hold 5 mg/m3 past the on-delay
    const started = Date.now();
    wuqingAlarm = await pollUntil(
      async () => {
        await mqtt.publishAsync(
          telemetryTopic('wuqing-fine', 'hp-gd-1'),
          JSON.stringify({ ts: Date.now(), values: { conc: 5, fault: false } }),
          { qos: 1 },
        );
        const list = await json<Alarm[] | { alarms: Alarm[] }>('/api/alarms?site=wuqing-fine', op);
        const alarms = Array.isArray(list) ? list : list.alarms;
        return alarms.find((a) => a.siteId === 'wuqing-fine');
      },
      { timeoutMs: 30_000, intervalMs: 500, what: `a Wuqing alarm (after ${Date.now() - started} ms)` },
    );
    // and one in Binhai, which the regulator must see
    await pollUntil(
      async () => {
        await mqtt.publishAsync(
          telemetryTopic('bohai-chem', 'nh-gd-1'),
          JSON.stringify({ ts: Date.now(), values: { conc: 60, fault: false } }),
          { qos: 1 },
        );
        const list = await json<Alarm[] | { alarms: Alarm[] }>('/api/alarms?site=bohai-chem', op);
        return (Array.isArray(list) ? list : list.alarms).length > 0;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'a Binhai alarm' },
    );
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await mqtt?.endAsync();
    await server?.stop();
  });

  it('should hide the Wuqing enterprise, its devices and history from REST (404, never 403)', async () => {
    for (const path of [
      '/api/sites/wuqing-fine',
      '/api/devices?site=wuqing-fine',
      '/api/telemetry?device=wuqing-fine/hp-gd-1',
      `/api/alarms/${wuqingAlarm.id}`,
      `/api/alarms/${wuqingAlarm.id}/journal`,
    ]) {
      expect({ path, status: (await get(path, op)).status }).toEqual({ path, status: 200 });
      expect({ path, status: (await get(path, reg)).status }).toEqual({ path, status: 404 });
    }
    for (const path of ['/api/sites', '/api/devices', '/api/hazard-sources', '/api/alarms']) {
      expect((await get(path, op)).text).toContain('wuqing-fine');
      const body = (await get(path, reg)).text;
      expect(body).not.toContain('wuqing-fine');
      expect(body).not.toContain('wqf-');
    }
    expect((await get('/api/alarms', reg)).text).toContain('bohai-chem');
  });

  it('should leave Wuqing out of KPIs and the journal', async () => {
    const from = new Date(Date.now() - 3600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const opKpi = await get(`/api/kpi/alarms?from=${from}&to=${to}`, op);
    const regKpi = await get(`/api/kpi/alarms?from=${from}&to=${to}`, reg);
    expect(opKpi.text).toContain('wuqing-fine');
    expect(regKpi.status).toBe(200);
    expect(regKpi.text).not.toContain('wuqing-fine');
    expect((JSON.parse(regKpi.text) as { totalAlarms: number }).totalAlarms).toBeLessThan(
      (JSON.parse(opKpi.text) as { totalAlarms: number }).totalAlarms,
    );
    const journalPath = `/api/journal?from=${from}&to=${to}`;
    expect((await get(journalPath, op)).text).toContain('wuqing-fine');
    expect((await get(journalPath, reg)).text).not.toContain('wuqing-fine');
  });

  it('should leave Wuqing out of the Atom feed and refuse its CAP documents', async () => {
    const opFeed = await pollUntil(
      async () => {
        const r = await get('/feeds/alerts.atom', op);
        return r.text.includes('wuqing-fine') ? r.text : undefined;
      },
      { timeoutMs: 15_000, what: 'the Wuqing alert in the operator feed' },
    );
    const capLink = /href="[^"]*\/feeds\/alerts\/([^"]*wuqing-fine[^"]*)\.cap"/.exec(opFeed)?.[1];
    expect(capLink).toBeDefined();
    expect((await get(`/feeds/alerts/${capLink}.cap`, op)).status).toBe(200);
    expect((await get(`/feeds/alerts/${capLink}.cap`, reg)).status).toBe(404);
    const regFeed = await get('/feeds/alerts.atom', reg);
    expect(regFeed.status).toBe(200);
    expect(regFeed.text).not.toContain('wuqing-fine');
  });

  it('should leave Wuqing out of call-out and duty-check records', async () => {
    for (const path of ['/api/callouts', '/api/duty-checks']) {
      const r = await get(path, reg);
      expect({ path, status: r.status }).toEqual({ path, status: 200 });
      expect(r.text).not.toContain('wuqing-fine');
    }
  });

  it('should never push Wuqing alarms or telemetry over the WebSocket', async () => {
    const wsUrl = server.url.replace(/^http/, 'ws') + '/ws';
    const c = await WsTestClient.connect(wsUrl, { Authorization: `Bearer ${reg}` });
    clients.push(c);
    await c.waitFor('hello');
    c.send('subscribe', { alarms: true, since: 0, telemetry: ['wuqing-fine/hp-gd-1', 'bohai-chem/nh-gd-1'] });
    const sub = await pollUntil(() => c.of('subscribed')[0], { what: 'subscribed' });
    expect(JSON.stringify(sub.data)).toContain('wuqing-fine/hp-gd-1'); // listed as rejected
    await mqtt.publishAsync(
      telemetryTopic('wuqing-fine', 'hp-gd-1'),
      JSON.stringify({ ts: Date.now(), values: { conc: 0.1, fault: false } }),
      { qos: 1 },
    );
    await mqtt.publishAsync(
      telemetryTopic('bohai-chem', 'nh-gd-1'),
      JSON.stringify({ ts: Date.now(), values: { conc: 1, fault: false } }),
      { qos: 1 },
    );
    await pollUntil(() => c.of('telemetry').some((f) => JSON.stringify(f.data).includes('nh-gd-1')), {
      what: 'Binhai telemetry frame',
    });
    await pollUntil(() => c.of('alarm').some((f) => JSON.stringify(f.data).includes('bohai-chem')), {
      what: 'replayed Binhai alarm',
    });
    const everything = JSON.stringify([...c.of('alarm'), ...c.of('telemetry')]);
    expect(everything).not.toContain('wuqing-fine');
  });
});
