/**
 * The embedded Aedes broker's authentication, authorisation and packet limit (docs/adr/0009-mqtt-authentication.md),
 * over real sockets on an ephemeral port. A server-role observer stands in for ingest: what it never receives never
 * reaches ingest.
 */
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/common/logger';
import { EmbeddedBroker } from '../../src/ingest/embedded-broker';
import { MqttBrokerAuth, type MqttDenyReason } from '../../src/ingest/mqtt-auth/mqtt-broker-auth';
import { mqttAuthPaths, MqttUserStore } from '../../src/ingest/mqtt-auth/mqtt-user.store';
import { pollUntil } from '../setup/poll-until';

const PW = { a: 'site-a-password-123', b: 'site-b-password-456', server: 'server-password-789' };
const SERVER_CLIENT_ID = 'hazwatch-server-0123456789abcdef';
const LIMIT = 4096;

describe('embedded broker security', () => {
  let store: MqttUserStore;
  let broker: EmbeddedBroker;
  let now = 0;
  const denied: MqttDenyReason[] = [];
  const oversize: number[] = [];
  let observer: MqttClient;
  let seen: string[];
  const clients: MqttClient[] = [];

  const open = async (opts: IClientOptions): Promise<MqttClient> => {
    const c = await connectAsync(broker.url, {
      reconnectPeriod: 0,
      connectTimeout: 5000,
      clean: true,
      ...opts,
    });
    clients.push(c);
    return c;
  };
  const siteA = (clientId = 'dev-a'): Promise<MqttClient> =>
    open({ clientId, username: 'site-a', password: PW.a });
  const closed = (c: MqttClient): Promise<void> =>
    new Promise((r) => (c.connected ? c.once('close', () => r()) : r()));

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    store = new MqttUserStore(mqttAuthPaths(mkdtempSync(join(tmpdir(), 'hzw-broker-auth-'))).users);
    await store.add({ username: 'site-a', role: 'site', sites: ['site-a'], password: PW.a });
    await store.add({ username: 'site-b', role: 'site', sites: ['site-b'], password: PW.b });
    await store.add({ username: 'hazwatch-server', role: 'server', sites: [], password: PW.server });
    const auth = new MqttBrokerAuth(
      store,
      () => new Set([SERVER_CLIENT_ID]),
      () => now,
    );
    broker = await EmbeddedBroker.start({
      port: 0,
      security: {
        auth,
        maxPacketBytes: LIMIT,
        onDenied: (r) => denied.push(r),
        onOversize: (d) => oversize.push(d.bytes),
      },
    });
    observer = await open({
      clientId: SERVER_CLIENT_ID,
      clean: false,
      username: 'hazwatch-server',
      password: PW.server,
    });
    observer.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
    const granted = await observer.subscribeAsync('hazwatch/#', { qos: 1 });
    expect(granted[0]?.qos).toBe(1);
  });

  beforeEach(() => {
    seen = [];
    denied.length = 0;
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker.stop();
  });

  /** Publishes a marker as site A on a fresh connection and waits until the observer has it: everything before is in. */
  const marker = async (): Promise<void> => {
    const c = await siteA(`marker-${Math.random().toString(36).slice(2)}`);
    const m = `marker-${Date.now()}-${Math.random()}`;
    await c.publishAsync('hazwatch/v1/site-a/gd-1/telemetry', m, { qos: 1 });
    await pollUntil(() => seen.some((s) => s.endsWith(m)), { what: 'marker at the observer' });
    await c.endAsync();
  };

  it('should refuse an anonymous client', async () => {
    await expect(open({ clientId: 'anon' })).rejects.toThrow(/Not authorized/i);
    expect(denied).toEqual(['anonymous']);
  });

  it('should refuse a wrong password and an unknown user', async () => {
    await expect(open({ clientId: 'x1', username: 'site-a', password: 'not-the-password' })).rejects.toThrow(
      /Bad username or password/i,
    );
    await expect(open({ clientId: 'x2', username: 'nobody', password: PW.a })).rejects.toThrow(
      /Bad username or password/i,
    );
    expect(denied).toEqual(['bad_credentials', 'bad_credentials']);
  });

  it("should deliver a site's own readings and never another site's forged by it", async () => {
    const a = await siteA();
    await a.publishAsync('hazwatch/v1/site-a/gd-1/telemetry', 'own', { qos: 1 });
    const gone = closed(a);
    a.publish('hazwatch/v1/site-b/gd-1/telemetry', 'forged', { qos: 1 });
    await gone; // the broker closes a connection that publishes outside its rights
    await marker();
    expect(seen).toContain('hazwatch/v1/site-a/gd-1/telemetry own');
    expect(seen.filter((s) => s.includes('forged'))).toEqual([]);
    expect(denied).toEqual(['publish_denied']);
  });

  it("should refuse a site's publish to the server status topic", async () => {
    const a = await siteA();
    const gone = closed(a);
    a.publish('hazwatch/server/hazwatch-server/status', 'offline', { qos: 1, retain: true });
    await gone;
    await marker();
    expect(seen.filter((s) => s.startsWith('hazwatch/server/'))).toEqual([]);
    expect(denied).toEqual(['publish_denied']);
  });

  it('should refuse subscriptions to every site, other sites and $SYS but grant the own site', async () => {
    const a = await siteA();
    const results: string[] = [];
    for (const f of [
      '#',
      'hazwatch/v1/+/+/telemetry',
      'hazwatch/v1/site-b/#',
      '$SYS/#',
      'hazwatch/v1/site-a/#',
    ]) {
      // mqtt.js rejects a SUBACK with return code 0x80 (failure)
      results.push(
        await a.subscribeAsync(f, { qos: 1 }).then(
          (g) => `granted ${g[0]?.qos}`,
          (err: Error) => `refused: ${err.message}`,
        ),
      );
    }
    expect(results).toEqual([
      'refused: Subscribe error: Unspecified error',
      'refused: Subscribe error: Unspecified error',
      'refused: Subscribe error: Unspecified error',
      'refused: Subscribe error: Unspecified error',
      'granted 1',
    ]);
    expect(denied).toEqual(['subscribe_denied', 'subscribe_denied', 'subscribe_denied', 'subscribe_denied']);
  });

  it("should refuse the server's client id to site credentials (no session takeover)", async () => {
    await expect(
      open({ clientId: SERVER_CLIENT_ID, clean: false, username: 'site-a', password: PW.a }),
    ).rejects.toThrow(/Identifier rejected/i);
    expect(observer.connected).toBe(true);
    expect(denied).toEqual(['client_id_reserved']);
  });

  it("should not publish a last will on another site's topic", async () => {
    const c = await open({
      clientId: 'dev-will',
      username: 'site-a',
      password: PW.a,
      will: {
        topic: 'hazwatch/v1/site-b/gd-1/state',
        payload: Buffer.from('offline'),
        qos: 1,
        retain: false,
      },
    });
    const gone = closed(c);
    c.stream.destroy(); // no DISCONNECT: the broker publishes the will
    await gone;
    await pollUntil(() => denied.includes('publish_denied'), { what: 'will refused' });
    await marker();
    expect(seen.filter((s) => s.startsWith('hazwatch/v1/site-b/'))).toEqual([]);
  });

  it('should close the connection of a packet over the size limit, count it, and deliver nothing of it', async () => {
    const a = await siteA();
    const gone = closed(a);
    a.publish('hazwatch/v1/site-a/gd-1/telemetry', Buffer.alloc(LIMIT * 16, 0x41), { qos: 1 });
    await gone;
    expect(oversize).toHaveLength(1);
    expect(oversize[0]).toBeGreaterThan(LIMIT);
    await marker();
    expect(seen.filter((s) => s.includes('AAAA'))).toEqual([]);
  });

  it('should refuse a removed user: new connections at once, open ones at their next publish', async () => {
    await store.add({ username: 'site-c', role: 'site', sites: ['site-c'], password: 'site-c-password-000' });
    const c = await open({ clientId: 'dev-c', username: 'site-c', password: 'site-c-password-000' });
    await c.publishAsync('hazwatch/v1/site-c/gd-1/telemetry', 'before', { qos: 1 });
    store.remove('site-c');
    now += 5_000; // the publish path re-reads the store at most once a second
    const gone = closed(c);
    c.publish('hazwatch/v1/site-c/gd-1/telemetry', 'after', { qos: 1 });
    await gone;
    await expect(
      open({ clientId: 'dev-c2', username: 'site-c', password: 'site-c-password-000' }),
    ).rejects.toThrow(/Bad username or password/i);
    await marker();
    expect(seen).toContain('hazwatch/v1/site-c/gd-1/telemetry before');
    expect(seen.filter((s) => s.endsWith(' after'))).toEqual([]);
  });
});
