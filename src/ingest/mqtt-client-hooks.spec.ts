import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, KeepaliveManager, type MqttClient } from 'mqtt';
import { provisionTestMqttUsers, type TestMqttUsers } from '../../test/setup/mqtt-auth';
import { pollUntil } from '../../test/setup/poll-until';
import { MqttBrokerAuth } from './mqtt-auth/mqtt-broker-auth';
import { EmbeddedBroker } from './embedded-broker';
import { installDeferredAcks, installKeepaliveGuard, MqttHookError } from './mqtt-client-hooks';

const MQTT_LIB = join(__dirname, '..', '..', 'node_modules', 'mqtt', 'build', 'lib');

describe('mqtt.js layout the hooks rely on (fails when mqtt.js changes it)', () => {
  it('should send the QoS 1 PUBACK from the handleMessage callback through _sendPacket, then call done', () => {
    const src = readFileSync(join(MQTT_LIB, 'handlers', 'publish.js'), 'utf8');
    const qos1 = src.slice(src.indexOf('case 1:'), src.indexOf('case 0:'));
    expect(qos1).toMatch(
      /client\.handleMessage\(packet, \(err\) => \{[\s\S]*client\['_sendPacket'\]\(\{ cmd: 'puback', messageId, reasonCode: code \}, done\)/,
    );
  });

  it('should have a KeepaliveManager that pings at count 2 and gives up through client.onKeepaliveTimeout', () => {
    const src = readFileSync(join(MQTT_LIB, 'KeepaliveManager.js'), 'utf8');
    expect(src).toMatch(/this\.counter === 2\)\s*\{\s*this\.client\.sendPing\(\)/);
    expect(src).toMatch(/this\.counter > 2\)\s*\{\s*this\.client\.onKeepaliveTimeout\(\)/);
  });

  it('should refuse to install (throw) when the internals are missing instead of acknowledging early', () => {
    const fake = { handleMessage: () => undefined } as unknown as MqttClient;
    expect(() => installDeferredAcks(fake, () => 0)).toThrow(MqttHookError);
    expect(() => installKeepaliveGuard(fake, { now: () => 0, deliberatelyPaused: () => false })).toThrow(
      MqttHookError,
    );
  });
});

describe('installDeferredAcks (real mqtt.js client against the embedded broker)', () => {
  let broker: EmbeddedBroker;
  let sub: MqttClient;
  let pub: MqttClient;

  let users: TestMqttUsers;

  beforeAll(async () => {
    // The embedded broker authenticates every client: an observer (server role) subscribes, a gateway publishes.
    users = await provisionTestMqttUsers(mkdtempSync(join(tmpdir(), 'hzw-hooks-')));
    const security = {
      auth: new MqttBrokerAuth(users.store, () => new Set<string>()),
      maxPacketBytes: 262144,
    };
    broker = await EmbeddedBroker.start({ port: 0, host: '127.0.0.1', security });
  });
  afterEach(async () => {
    await sub?.endAsync(true);
    await pub?.endAsync(true);
  });
  afterAll(async () => broker.stop());

  it('should keep reading messages while their PUBACKs are held, and send them in order once released', async () => {
    sub = await connectAsync(broker.url, {
      ...users.observer,
      clientId: 'hook-sub',
      clean: false,
      log: () => undefined,
    });
    let mark = 1;
    const acks = installDeferredAcks(sub, () => mark);
    const received: string[] = [];
    const pubacks: number[] = [];
    sub.on('message', (_t, p) => received.push(p.toString()));
    sub.on('packetsend', (p) => {
      if (p.cmd === 'puback') pubacks.push(p.messageId ?? -1);
    });
    await sub.subscribeAsync('hazwatch/v1/bohai-chem/#', { qos: 1 });
    pub = await connectAsync(broker.url, { ...users.publisher, clientId: 'hook-pub', log: () => undefined });
    for (let i = 0; i < 5; i++)
      await pub.publishAsync('hazwatch/v1/bohai-chem/hook-a/telemetry', `m${i}`, { qos: 1 });
    await pollUntil(() => received.length === 5, { what: 'five messages read while none is acknowledged' });
    expect(pubacks).toEqual([]);
    expect(acks.ledger.unacked).toBe(5);
    mark = 2;
    await pub.publishAsync('hazwatch/v1/bohai-chem/hook-a/telemetry', 'm5', { qos: 1 });
    await pollUntil(() => received.length === 6, { what: 'sixth message' });
    acks.ledger.release(1);
    await pollUntil(() => pubacks.length === 5, { what: 'first five PUBACKs' });
    expect(acks.ledger.unacked).toBe(1);
    acks.ledger.release(2);
    await pollUntil(() => pubacks.length === 6, { what: 'sixth PUBACK' });
    // Receipt order (MQTT 3.1.1 §4.6): the ids in the order the messages came.
    expect(pubacks).toEqual([...pubacks].sort((a, b) => a - b));
  });

  it('should send nothing for messages held when the connection closed (the broker redelivers them)', async () => {
    sub = await connectAsync(broker.url, {
      ...users.observer,
      clientId: 'hook-sub2',
      clean: false,
      log: () => undefined,
      reconnectPeriod: 50,
    });
    const acks = installDeferredAcks(sub, () => 1);
    sub.on('close', () => acks.reset());
    let received = 0;
    sub.on('message', () => received++);
    await sub.subscribeAsync('hazwatch/v1/nangang-petro/#', { qos: 1 });
    pub = await connectAsync(broker.url, { ...users.publisher, clientId: 'hook-pub2', log: () => undefined });
    await pub.publishAsync('hazwatch/v1/nangang-petro/hook-a/telemetry', 'x', { qos: 1 });
    await pollUntil(() => received === 1, { what: 'first delivery' });
    sub.stream.destroy();
    // Redelivered on the resumed session because it was never acknowledged.
    await pollUntil(() => received === 2, { what: 'redelivery after reconnect' });
    acks.ledger.release(1);
  });
});

describe('installKeepaliveGuard (real KeepaliveManager, virtual time)', () => {
  /** Virtual timers in the shape mqtt.js's `timerVariant` takes. */
  function virtualTime() {
    let now = 0;
    let timers: Array<{ id: number; at: number; every: number; fn: () => void }> = [];
    let next = 1;
    return {
      now: () => now,
      timer: {
        set: (fn: () => void, ms: number) => {
          const t = { id: next++, at: now + ms, every: ms, fn };
          timers.push(t);
          return t.id;
        },
        clear: (id: number) => {
          timers = timers.filter((t) => t.id !== id);
        },
      },
      advance(ms: number, each?: (now: number) => void, step = 100) {
        const end = now + ms;
        while (now < end) {
          now += step;
          each?.(now);
          for (const t of [...timers]) {
            if (t.at <= now && timers.includes(t)) {
              t.at += t.every;
              t.fn();
            }
          }
        }
      },
    };
  }

  function fakeClient(vt: ReturnType<typeof virtualTime>) {
    const events: Array<[string, number]> = [];
    const client = {
      keepalive: 10,
      keepaliveManager: null as KeepaliveManager | null,
      log: () => undefined,
      sendPing: () => events.push(['pingreq', vt.now()]),
      onKeepaliveTimeout: () => events.push(['timeout', vt.now()]),
    };
    client.keepaliveManager = new KeepaliveManager(client as never, vt.timer);
    return { client, events };
  }

  it('should send PINGREQs on schedule during a flood whose PINGRESPs are stuck behind data, and never time out', () => {
    const vt = virtualTime();
    const { client, events } = fakeClient(vt);
    const guard = installKeepaliveGuard(client as unknown as MqttClient, {
      now: vt.now,
      deliberatelyPaused: () => false,
    });
    vt.advance(60_000, () => guard.onData()); // a turn of data every 100 ms, no PINGRESP at all
    const pings = events.filter(([e]) => e === 'pingreq').map(([, t]) => t);
    expect(events.filter(([e]) => e === 'timeout')).toEqual([]);
    expect(pings.length).toBeGreaterThanOrEqual(5);
    // keep-alive is about what the client sends: never more than one period (10 s) between PINGREQs
    for (let i = 1; i < pings.length; i++) expect(pings[i]! - pings[i - 1]!).toBeLessThanOrEqual(10_000);
    expect(pings[0]).toBeLessThanOrEqual(10_000);
  });

  it('should still time out a silent broker', () => {
    const vt = virtualTime();
    const { client, events } = fakeClient(vt);
    installKeepaliveGuard(client as unknown as MqttClient, { now: vt.now, deliberatelyPaused: () => false });
    vt.advance(16_000);
    expect(events.map(([e]) => e)).toEqual(['pingreq', 'timeout']);
  });

  it('should not time out while we deliberately stopped reading (back-pressure), and keep pinging', () => {
    const vt = virtualTime();
    const { client, events } = fakeClient(vt);
    installKeepaliveGuard(client as unknown as MqttClient, { now: vt.now, deliberatelyPaused: () => true });
    vt.advance(60_000);
    expect(events.filter(([e]) => e === 'timeout')).toEqual([]);
    expect(events.filter(([e]) => e === 'pingreq').length).toBeGreaterThanOrEqual(5);
  });

  it('shows the old defect: rescheduling on every turn of data never sends a PINGREQ', () => {
    const vt = virtualTime();
    const { client, events } = fakeClient(vt);
    vt.advance(60_000, () => client.keepaliveManager!.reschedule());
    expect(events).toEqual([]);
  });
});
