/**
 * /ws end to end on the real server (`node dist/src/main.js`: embedded PostgreSQL, in-process broker, real rules,
 * alarms and auth): a gas reading over MQTT raises alarms pushed over the WebSocket, an HTTP ack is pushed back,
 * a reconnect with `since` replays exactly what was missed, and a binhai regulator sees nothing of wuqing.
 * The bundled simulators are off so every reading comes from this test.
 */
import { connectAsync, type MqttClient } from 'mqtt';
import { telemetryTopic } from '../../src/ingest/domain/telemetry-contract';
import { pollUntil } from '../setup/poll-until';
import { startServer, type ServerProcess } from '../setup/server-process';
import { WsTestClient, type Frame } from './ws-test-client';

type Alarm = {
  id: string;
  siteId: string;
  deviceId?: string;
  condition: string;
  state: string;
  priority: string;
  seq: number;
  acked: boolean;
  active: boolean;
};

const alarmsOf = (c: WsTestClient): Alarm[] => c.of('alarm').map((f: Frame) => f.data as unknown as Alarm);

describe('/ws end to end (real server, MQTT → rules → alarms → WebSocket)', () => {
  let server: ServerProcess;
  let mqtt: MqttClient;
  let tokens: Record<string, string>;
  const clients: WsTestClient[] = [];
  let wsUrl = '';

  beforeAll(async () => {
    server = await startServer({ env: { SIMULATE: 'false' } });
    tokens = server.tokens();
    wsUrl = server.url.replace(/^http/, 'ws') + '/ws';
    mqtt = await connectAsync(server.mqttUrl() as string, {
      ...server.mqttAuth(),
      clientId: 'ws-e2e',
      clean: true,
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await mqtt?.endAsync();
    await server?.stop();
  });

  const open = async (token: string, via: 'header' | 'frame'): Promise<WsTestClient> => {
    const c = await WsTestClient.connect(wsUrl, via === 'header' ? { Authorization: `Bearer ${token}` } : {});
    clients.push(c);
    if (via === 'frame') c.send('auth', { token });
    await c.waitFor('hello');
    return c;
  };
  const subscribe = async (c: WsTestClient, data: Record<string, unknown>): Promise<Frame> => {
    const before = c.of('subscribed').length;
    c.send('subscribe', data);
    return pollUntil(() => c.of('subscribed')[before], { what: 'subscribed' });
  };
  const publish = (siteId: string, deviceId: string, conc: number): Promise<unknown> =>
    mqtt.publishAsync(
      telemetryTopic(siteId, deviceId),
      JSON.stringify({ ts: Date.now(), values: { conc, fault: false } }),
      { qos: 1 },
    );
  /** Keeps publishing (as a detector does every few hundred ms) until `done` holds. */
  const publishUntil = <T>(
    readings: Array<[string, string, number]>,
    done: () => T | undefined,
    what: string,
  ): Promise<NonNullable<T>> =>
    pollUntil(
      async () => {
        await Promise.all(readings.map(([s, d, v]) => publish(s, d, v)));
        return done();
      },
      { timeoutMs: 30_000, intervalMs: 250, what },
    );
  const http = async (
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  };

  it('should push raised alarms, the ack made over HTTP, and scope them per jurisdiction', async () => {
    const op = await open(tokens.operator as string, 'header');
    const reg = await open(tokens.regulator as string, 'frame');
    expect(op.of('hello')[0]?.data).toMatchObject({ server: 'hazwatch', seq: expect.any(Number) });
    const since = op.of('hello')[0]?.data.seq as number;
    await subscribe(op, { alarms: true, since, telemetry: ['bohai-chem/cl-gd-1'] });
    const regSub = await subscribe(reg, {
      alarms: true,
      since,
      telemetry: ['bohai-chem/cl-gd-1', 'wuqing-fine/hp-gd-1'],
    });
    expect(regSub.data.rejected).toEqual([{ entry: 'wuqing-fine/hp-gd-1', reason: 'out_of_scope' }]);

    // chlorine above level 2 in bohai-chem, H2O2 above level 2 in wuqing-fine
    const raised = await publishUntil(
      [
        ['bohai-chem', 'cl-gd-1', 3],
        ['wuqing-fine', 'hp-gd-1', 5],
      ],
      () => {
        const mine = alarmsOf(op);
        const cl = mine.find(
          (a) => a.deviceId === 'cl-gd-1' && a.condition === 'gas_l2' && a.state === 'unacknowledged',
        );
        const wq = mine.find((a) => a.siteId === 'wuqing-fine' && a.state === 'unacknowledged');
        return cl && wq ? cl : undefined;
      },
      'gas_l2 alarms on cl-gd-1 and in wuqing-fine pushed to the operator',
    );
    expect(raised).toMatchObject({ siteId: 'bohai-chem', priority: 'high', active: true, acked: false });

    // telemetry of the subscribed device arrives, rate-limited, scoped
    await op.waitFor('telemetry', (d) => d.deviceId === 'cl-gd-1');
    expect(op.of('telemetry').every((f) => f.data.deviceId === 'cl-gd-1')).toBe(true);

    // acknowledge over HTTP; the state change is pushed to both clients that may see it
    const ack = await http('POST', `/api/alarms/${raised.id}/ack`, tokens.operator as string, {
      comment: 'e2e ack',
    });
    expect(ack.status).toBeLessThan(300);
    const acked = await op.waitFor('alarm', (d) => d.id === raised.id && d.state === 'acknowledged', 10_000);
    expect(acked.data.seq as number).toBeGreaterThan(raised.seq);
    await reg.waitFor('alarm', (d) => d.id === raised.id && d.state === 'acknowledged', 10_000);

    // the regulator for tianjin/binhai never received anything from wuqing
    expect(alarmsOf(reg).filter((a) => a.siteId === 'wuqing-fine')).toEqual([]);
    expect(reg.of('telemetry').filter((f) => f.data.siteId === 'wuqing-fine')).toEqual([]);
    expect(alarmsOf(reg).length).toBeGreaterThan(0);
    // each client's events are in strictly increasing seq order
    for (const c of [op, reg]) {
      const seqs = alarmsOf(c).map((a) => a.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
    }
  });

  it('should replay every event missed while disconnected when the client resumes with since', async () => {
    const watcher = await open(tokens.supervisor as string, 'header');
    await subscribe(watcher, { alarms: true, since: watcher.of('hello')[0]?.data.seq });
    const op = await open(tokens.operator as string, 'frame');
    await subscribe(op, { alarms: true, since: op.of('hello')[0]?.data.seq });
    // raise on another detector while both are connected
    const a = await publishUntil(
      [['bohai-chem', 'cl-gd-2', 3]],
      () => alarmsOf(op).find((x) => x.deviceId === 'cl-gd-2' && x.condition === 'gas_l2'),
      'gas_l2 on cl-gd-2',
    );
    const lastSeen = Math.max(...alarmsOf(op).map((x) => x.seq));
    op.close();
    await op.waitClosed();

    // while the operator is away: the gas clears (both limits) and the supervisor acknowledges
    await publishUntil(
      [
        ['bohai-chem', 'cl-gd-2', 0],
        ['bohai-chem', 'cl-gd-1', 0],
        ['wuqing-fine', 'hp-gd-1', 0],
      ],
      () => alarmsOf(watcher).find((x) => x.id === a.id && !x.active),
      'cl-gd-2 level 2 cleared',
    );
    const ack = await http('POST', `/api/alarms/${a.id}/ack`, tokens.supervisor as string, {});
    expect(ack.status).toBeLessThan(300);
    await watcher.waitFor('alarm', (d) => d.id === a.id && d.acked === true, 10_000);
    const missed = alarmsOf(watcher).filter((x) => x.seq > lastSeen);
    expect(missed.length).toBeGreaterThanOrEqual(2);

    const back = await open(tokens.operator as string, 'header');
    const sub = await subscribe(back, { alarms: true, since: lastSeen });
    expect(sub.data).toMatchObject({ reset: false });
    const replayed = alarmsOf(back).map((x) => x.seq);
    // exactly the events the supervisor saw live after lastSeen (same scope: everything), in order, no gap, no duplicate
    expect(replayed.slice(0, missed.length)).toEqual(missed.map((x) => x.seq));
    expect(alarmsOf(back).find((x) => x.id === a.id && x.acked)).toBeDefined();
  });

  it('should refuse a bad token with 4401 and count WebSocket clients in /metrics', async () => {
    const bad = await WsTestClient.connect(wsUrl);
    clients.push(bad);
    bad.send('auth', { token: 'hzw_nope_nope' });
    expect(await bad.waitClosed()).toMatchObject({ code: 4401 });
    expect(bad.frames.map((f) => f.event)).toEqual(['error']);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^hazwatch_ws_clients \d+/m);
    expect(metrics).toMatch(/^hazwatch_ws_disconnects_total\{reason="auth_failed"\} [1-9]/m);
  });
});
