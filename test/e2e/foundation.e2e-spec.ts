import { connectAsync } from 'mqtt';
import { telemetryTopic } from '../../src/ingest/domain/telemetry-contract';
import { pollUntil } from '../setup/poll-until';
import { startServer, type ServerProcess } from '../setup/server-process';

type Device = {
  siteId: string;
  deviceId: string;
  state: string;
  values: Record<string, { value: unknown; ts: string }>;
};

/**
 * What a new user does after `npm install && npm start`: embedded PostgreSQL, in-process broker, simulators; live values
 * within 10 s, stored history, the same after a restart; malformed input is dead-lettered without stopping good data.
 */
describe('foundation end to end (embedded PostgreSQL + in-process broker + simulators)', () => {
  let server: ServerProcess | undefined;
  let token = '';
  let supervisorToken = '';
  afterAll(async () => {
    await server?.stop();
  });

  const get = async <T>(path: string, bearer = token): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${server?.url}${path}`, { headers: { authorization: `Bearer ${bearer}` } });
    return { status: res.status, body: (await res.json()) as T };
  };

  it('should serve live values, stored history, and keep them across a restart', async () => {
    server = await startServer({ freshDatabase: true }); // the fresh-machine path: initdb included
    const tokens = server.tokens();
    expect(Object.keys(tokens).sort()).toEqual(['admin', 'operator', 'regulator', 'supervisor']);
    token = tokens.operator as string;
    supervisorToken = tokens.supervisor as string;

    // live values within 10 s of readiness
    const live = await pollUntil(
      async () => {
        const { body } = await get<Device[]>('/api/devices');
        const withValues = body.filter((d) => d.state === 'online' && Object.keys(d.values).length > 0);
        return withValues.length >= 60 ? body : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 250, what: '60+ devices online with live values' },
    );
    expect(live.length).toBe(75); // every device of the demo plant (config/plant.yaml)

    // stored history
    const hist = await pollUntil(
      async () => {
        const { body } = await get<{ points: unknown[] }>(
          '/api/telemetry?device=bohai-chem/cl-gd-1&channel=conc',
        );
        return body.points.length >= 2 ? body : undefined;
      },
      { timeoutMs: 10_000, what: 'stored history for cl-gd-1' },
    );
    const before = hist.points.length;

    // unauthenticated and out-of-scope access
    expect((await get('/api/devices', 'hzw_nope_nope')).status).toBe(401);
    const reg = await get<Array<{ siteId: string }>>('/api/devices', tokens.regulator);
    expect(new Set(reg.body.map((d) => d.siteId))).toEqual(new Set(['bohai-chem', 'nangang-petro']));

    // restart on the same DATA_DIR: data kept, tokens kept (not re-created)
    const dataDir = server.dataDir;
    expect(await server.stop()).toBe(0);
    server = await startServer({ dataDir });
    expect(server.tokens()).toEqual({});
    const after = await get<{ points: unknown[] }>('/api/telemetry?device=bohai-chem/cl-gd-1&channel=conc');
    expect(after.status).toBe(200);
    expect(after.body.points.length).toBeGreaterThanOrEqual(before);
  });

  it('should dead-letter a flood of 10,000 malformed messages and store every good one sent in between', async () => {
    if (!server) throw new Error('server not started');
    const mqttUrl = server.mqttUrl();
    expect(mqttUrl).toBeDefined();
    const client = await connectAsync(mqttUrl as string, {
      ...server.mqttAuth(),
      clientId: 'e2e-flood',
      clean: true,
    });
    const topic = telemetryTopic('bohai-chem', 'cl-gd-3');
    const bad = [
      '{"ts":',
      '[]',
      JSON.stringify({ ts: Date.now(), values: { conc: 1e9 } }),
      JSON.stringify({ ts: 'later', values: { conc: 1 } }),
    ];
    const marker = 7.77;
    // One good reading after every 100 bad ones, each with its own time (older than the simulator's, still in range).
    const t0 = Date.now() - 60_000;
    const goodTimes: number[] = [];
    const sends: Array<Promise<unknown>> = [];
    for (let i = 0; i < 10_000; i++) {
      sends.push(client.publishAsync(topic, bad[i % bad.length] as string, { qos: 1 }));
      if (i % 100 === 99) {
        const ts = t0 + goodTimes.length * 10;
        goodTimes.push(ts);
        sends.push(
          client.publishAsync(topic, JSON.stringify({ ts, values: { conc: marker, fault: false } }), {
            qos: 1,
          }),
        );
      }
    }
    await Promise.all(sends);
    await client.endAsync();
    expect(goodTimes).toHaveLength(100);

    const rejects = await pollUntil(
      async () => {
        const { body } = await get<{ entries: Array<{ reason: string; topic: string }> }>(
          '/api/ingest/rejects?limit=1000',
          supervisorToken,
        );
        return body.entries.length >= 1000 ? body.entries : undefined;
      },
      { timeoutMs: 15_000, what: 'dead letters stored' },
    );
    expect(new Set(rejects.map((r) => r.reason))).toEqual(
      new Set(['invalid_json', 'invalid_schema', 'out_of_range', 'bad_timestamp']),
    );
    const from = new Date(t0 - 1).toISOString();
    const to = new Date(t0 + 1000).toISOString();
    const stored = await pollUntil(
      async () => {
        const { body } = await get<{ points: Array<{ time: string; value: number }> }>(
          `/api/telemetry?device=bohai-chem/cl-gd-3&channel=conc&from=${from}&to=${to}`,
        );
        const times = body.points.filter((p) => p.value === marker).map((p) => Date.parse(p.time));
        return times.length >= goodTimes.length ? times : undefined;
      },
      { timeoutMs: 15_000, what: 'the 100 good readings sent among the flood to be stored' },
    );
    expect([...stored].sort((a, b) => a - b)).toEqual(goodTimes);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const rejected = Number(/^hazwatch_ingest_messages_total\{result="rejected"\} (\d+)/m.exec(metrics)?.[1]);
    expect(rejected).toBeGreaterThanOrEqual(10_000);
  });
});
