import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, connectAsync, type MqttClient } from 'mqtt';
import { provisionTestMqttUsers, REPO_CONFIG_DIR, type TestMqttUsers } from '../../../test/setup/mqtt-auth';
import { pollUntil } from '../../../test/setup/poll-until';
import { ManualClock } from '../../common/clock';
import { ManualScheduler } from '../../common/testing/manual.scheduler';
import { ConfigError } from '../../common/errors';
import { loadPlant, readYamlFile } from '../../config/config.loader';
import {
  loadSparkplugConfig,
  parseSparkplugConfig,
  sparkplugNodeSites,
  SPARKPLUG_FILE,
} from '../../config/sparkplug-config';
import { EmbeddedBroker } from '../embedded-broker';
import { MqttBrokerAuth } from '../mqtt-auth/mqtt-broker-auth';
import {
  decodeHostState,
  encodeHostState,
  hostStateClientId,
  SparkplugHostState,
  STATE_RECONNECT_MS,
  type HostStatePayload,
} from './host-state';

describe('Sparkplug STATE payload', () => {
  it('should encode the Sparkplug 3.0 JSON and decode only well-formed payloads', () => {
    const b = encodeHostState({ online: true, timestamp: 1_700_000_000_123 });
    expect(JSON.parse(b.toString())).toEqual({ online: true, timestamp: 1_700_000_000_123 });
    expect(decodeHostState(b)).toEqual({ online: true, timestamp: 1_700_000_000_123 });
    for (const bad of [
      'ONLINE',
      '{"online":"true","timestamp":1}',
      '{"online":true}',
      '{"online":false,"timestamp":1.5}',
      'null',
    ])
      expect(decodeHostState(Buffer.from(bad))).toBeUndefined();
  });

  it('should derive a STATE client id within the 64-character limit', () => {
    expect(hostStateClientId('hazwatch-server-abc')).toBe('hazwatch-server-abc-state');
    expect(hostStateClientId('x'.repeat(64))).toHaveLength(64);
  });
});

describe('sparkplug.yaml: hostId and publishState', () => {
  const plant = loadPlant(REPO_CONFIG_DIR);
  const raw = readYamlFile(join(REPO_CONFIG_DIR, SPARKPLUG_FILE)) as Record<string, unknown>;
  const parse = (extra: Record<string, unknown>) =>
    parseSparkplugConfig({ ...raw, ...extra }, plant, '/cfg/sparkplug.yaml');

  it('should publish STATE as "hazwatch" by default, under a configured host id, or not at all', () => {
    expect(parse({}).hostId).toBe('hazwatch');
    expect(parse({ hostId: 'scada-primary' }).hostId).toBe('scada-primary');
    expect(parse({ hostId: 'scada-primary', publishState: false }).hostId).toBeUndefined();
  });

  it('should stop on a host id that is not one topic level and on a non-boolean publishState, naming the key', () => {
    let err: ConfigError | undefined;
    try {
      parse({ hostId: 'plant/1', publishState: 'yes' });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems).toEqual([
      { path: 'hostId', reason: expect.stringMatching(/Sparkplug host id/) },
      { path: 'publishState', reason: 'must be true or false' },
    ]);
    expect(() => parse({ hostId: '+' })).toThrow(/hostId/);
  });
});

/** Real mqtt.js clients against the embedded broker with the repository's Sparkplug ACL (sites = edge nodes). */
describe('SparkplugHostState (embedded broker)', () => {
  const HOST = 'hazwatch-test';
  const TOPIC = `spBv1.0/STATE/${HOST}`;
  let broker: EmbeddedBroker;
  let users: TestMqttUsers;
  let edge: MqttClient;
  const seen: Array<HostStatePayload & { retain: boolean }> = [];
  const clock = new ManualClock(1_800_000_000_000);
  const scheduler = new ManualScheduler(clock);
  const opened: MqttClient[] = [];
  const announced: boolean[] = [];
  let state: SparkplugHostState;

  const last = (): (HostStatePayload & { retain: boolean }) | undefined => seen[seen.length - 1];
  const newState = (): SparkplugHostState =>
    new SparkplugHostState({
      hostId: HOST,
      clientId: 'hzw-server-test-state',
      credentials: users.observer,
      keepaliveS: 30,
      connect: (opts) => {
        const c = connect(broker.url, opts);
        opened.push(c);
        return c;
      },
      now: () => clock.now(),
      scheduler,
      onAnnounced: (v) => announced.push(v),
    });

  beforeAll(async () => {
    users = await provisionTestMqttUsers(mkdtempSync(join(tmpdir(), 'hzw-spstate-')));
    const nodes = sparkplugNodeSites(loadSparkplugConfig(REPO_CONFIG_DIR, loadPlant(REPO_CONFIG_DIR)));
    const auth = new MqttBrokerAuth(users.store, () => new Set(['hzw-server-test-state']), Date.now, nodes);
    broker = await EmbeddedBroker.start({
      port: 0,
      host: '127.0.0.1',
      security: { auth, maxPacketBytes: 262144 },
    });
    // An edge node (site credentials) watching the primary host's STATE, as a Sparkplug 3.0 edge node does.
    edge = await connectAsync(broker.url, {
      ...users.publisher,
      clientId: 'edge-watch',
      log: () => undefined,
    });
    edge.on('message', (_t, p, packet) => {
      const s = decodeHostState(p);
      if (s) seen.push({ ...s, retain: packet.retain });
    });
    await edge.subscribeAsync('spBv1.0/STATE/+', { qos: 1 });
  }, 60_000); // password hashing of the provisioned users is slow on a loaded machine
  afterAll(async () => {
    await state?.stop();
    await Promise.all(opened.map((c) => c.endAsync(true)));
    await edge.endAsync(true);
    await broker.stop();
  });

  it('should publish online (retained, QoS 1) once the data path is up, and offline with the same timestamp on the will', async () => {
    state = newState();
    state.dataPath(true);
    await pollUntil(() => state.online, { what: 'STATE online acknowledged' });
    // acknowledged by the broker is not yet delivered to the watching edge node: wait for it there
    await pollUntil(() => last()?.online === true, { what: 'STATE online at the edge node' });
    expect(last()).toEqual({ online: true, timestamp: clock.now(), retain: false });
    expect(announced).toEqual([true]);
    const t1 = clock.now();

    // The STATE connection dies (no DISCONNECT): the broker publishes the will registered at CONNECT.
    opened[opened.length - 1]!.stream.destroy();
    await pollUntil(() => last()?.online === false, { what: 'will (offline) at the edge node' });
    expect(last()).toEqual({ online: false, timestamp: t1, retain: false });
    expect(state.online).toBe(false);

    // A new session after the reconnect wait, with a later timestamp even though the clock stood still.
    expect(scheduler.pending).toBe(1);
    await scheduler.advance(STATE_RECONNECT_MS - 1);
    expect(opened).toHaveLength(1);
    await scheduler.advance(1);
    await pollUntil(() => state.online, { what: 'STATE online again' });
    await pollUntil(() => last()?.online === true, { what: 'STATE online again at the edge node' });
    const t2 = last()!.timestamp;
    expect(last()).toMatchObject({ online: true, retain: false });
    expect(t2).toBeGreaterThan(t1);
  });

  it('should answer a stale offline on its own topic (an old will delivered late) by publishing online again', async () => {
    const ours = last()!.timestamp;
    const other = await connectAsync(broker.url, {
      ...users.observer,
      clientId: 'old-session',
      log: () => undefined,
    });
    opened.push(other);
    const from = seen.length;
    await other.publishAsync(TOPIC, encodeHostState({ online: false, timestamp: ours - 5000 }), {
      qos: 1,
      retain: true,
    });
    await pollUntil(() => seen.length >= from + 2, { what: 'the stale offline, then online again' });
    expect(seen.slice(from, from + 2)).toEqual([
      { online: false, timestamp: ours - 5000, retain: false },
      { online: true, timestamp: ours, retain: false },
    ]);
    // What a newly connecting edge node reads (the retained value) is our online.
    const late = await connectAsync(broker.url, {
      ...users.publisher,
      clientId: 'edge-late',
      log: () => undefined,
    });
    opened.push(late);
    const retained = new Promise<HostStatePayload | undefined>((resolve) =>
      late.once('message', (_t, p) => resolve(decodeHostState(p))),
    );
    await late.subscribeAsync(TOPIC, { qos: 1 });
    expect(await retained).toEqual({ online: true, timestamp: ours });
  });

  it('should publish offline before ending when the data path goes down, and open a new session when it is back', async () => {
    const ours = last()!.timestamp;
    state.dataPath(false);
    await pollUntil(() => last()?.online === false, { what: 'offline at the edge node' });
    expect(last()).toEqual({ online: false, timestamp: ours, retain: false });
    expect(state.online).toBe(false);
    clock.advance(10_000);
    state.dataPath(true);
    await pollUntil(() => last()?.online === true, { what: 'online after the data path is back' });
    expect(last()!.timestamp).toBe(clock.now());
  });

  it('should publish offline at stop and stay offline whatever the data path does afterwards', async () => {
    const ours = last()!.timestamp;
    await state.stop();
    await pollUntil(() => last()?.online === false, { what: 'offline at stop' });
    expect(last()).toEqual({ online: false, timestamp: ours, retain: false });
    const before = opened.length;
    state.dataPath(true);
    await scheduler.advance(STATE_RECONNECT_MS * 2);
    expect(opened).toHaveLength(before);
    expect(announced[announced.length - 1]).toBe(false);
  });

  it('should not let an edge node (site credentials) publish STATE', async () => {
    const n = seen.length;
    const forger = await connectAsync(broker.url, {
      ...users.publisher,
      clientId: 'edge-forger',
      log: () => undefined,
    });
    opened.push(forger);
    forger.publish(TOPIC, encodeHostState({ online: true, timestamp: clock.now() + 1 }), {
      qos: 1,
      retain: true,
    });
    const marker = await connectAsync(broker.url, {
      ...users.observer,
      clientId: 'marker',
      log: () => undefined,
    });
    opened.push(marker);
    await marker.publishAsync('spBv1.0/STATE/marker-host', encodeHostState({ online: true, timestamp: 1 }), {
      qos: 1,
    });
    await pollUntil(() => seen.length > n, { what: 'the marker STATE at the edge node' });
    expect(seen.slice(n)).toEqual([{ online: true, timestamp: 1, retain: false }]);
  });
});
