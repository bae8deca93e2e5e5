/**
 * Sparkplug B on a real Mosquitto (docs/sparkplug.md "Security", "Primary host STATE"):
 *  - a PRIVATE Mosquitto on an ephemeral port running the repository's docker/mosquitto.conf with the password and ACL
 *    files `npm run mqtt-acl` writes for the repository's config/ (plant.yaml + sparkplug.yaml): an edge node may
 *    publish only its own group/node topics, never STATE, commands or another node's topics, and hazwatch reads them;
 *  - hazwatch's STATE publisher (SparkplugHostState) on that broker and on the local Mosquitto (TEST_MQTT_URL).
 * Needs TEST_MQTT_URL (a Mosquitto installation; the binary is found as in test/setup/private-mosquitto.ts).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { connect, connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { ManualClock } from '../../src/common/clock';
import { ManualScheduler } from '../../src/common/testing/manual.scheduler';
import { runMqttAclCli } from '../../src/ingest/mqtt-auth/mqtt-acl.cli';
import { mqttAuthPaths, MqttUserStore } from '../../src/ingest/mqtt-auth/mqtt-user.store';
import { SPARKPLUG_SUBSCRIPTIONS } from '../../src/ingest/sparkplug/domain/sparkplug-topic';
import {
  decodeHostState,
  SparkplugHostState,
  type HostStatePayload,
} from '../../src/ingest/sparkplug/host-state';
import { DataType, encodePayload } from '../../src/ingest/sparkplug/sparkplug-payload';
import { REPO_CONFIG_DIR } from '../setup/mqtt-auth';
import { pollUntil } from '../setup/poll-until';
import { mosquittoBinary, privateMosquittoConf } from '../setup/private-mosquitto';
import { freePort } from '../setup/server-process';

const BIN = mosquittoBinary();
const run = process.env.TEST_MQTT_URL && BIN ? describe : describe.skip;
if (!process.env.TEST_MQTT_URL || !BIN)
  console.warn('sparkplug-mosquitto.int-spec: skipped — needs TEST_MQTT_URL and a mosquitto binary');

const PW = { edge: 'edge-password-123', other: 'other-site-password-456', server: 'server-password-789' };
/** The repository's config/sparkplug.yaml maps this edge node to site bohai-chem. */
const G = 'bohai-chem';
const N = 'cl-plc-gateway';
const data = (seq: number): Buffer =>
  encodePayload({
    timestamp: Date.now(),
    seq,
    metrics: [{ name: 'Gas/Concentration', datatype: DataType.Float, value: 1.5 }],
  });

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** Every STATE payload a client receives, with the retain flag. */
function watchState(c: MqttClient): Array<HostStatePayload & { topic: string; retain: boolean }> {
  const seen: Array<HostStatePayload & { topic: string; retain: boolean }> = [];
  c.on('message', (topic, p, packet) => {
    const s = topic.startsWith('spBv1.0/STATE/') ? decodeHostState(p) : undefined;
    if (s) seen.push({ ...s, topic, retain: packet.retain });
  });
  return seen;
}

run('Sparkplug on a private Mosquitto with the repository config and the generated ACL', () => {
  let broker: ChildProcess;
  let url: string;
  let log = '';
  let server: MqttClient;
  const atServer: string[] = [];
  const clients: MqttClient[] = [];
  const open = async (opts: IClientOptions): Promise<MqttClient> => {
    const c = await connectAsync(url, {
      reconnectPeriod: 0,
      connectTimeout: 5000,
      clean: true,
      log: () => undefined,
      ...opts,
    });
    clients.push(c);
    return c;
  };
  const edgeCreds = { username: 'bohai-chem-gw', password: PW.edge };
  const otherCreds = { username: 'nangang-gw', password: PW.other };
  const serverCreds = { username: 'hazwatch-server', password: PW.server };
  /** Publishes a marker from the edge node and waits for it at hazwatch: what was sent before it has arrived. */
  const sync = async (edge: MqttClient, seq: number): Promise<void> => {
    await edge.publishAsync(`spBv1.0/${G}/NDATA/${N}`, data(seq), { qos: 1 });
    await pollUntil(() => atServer.includes(`spBv1.0/${G}/NDATA/${N}`), { what: 'marker at hazwatch' });
  };

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hzw-sp-mosq-'));
    chmodSync(dir, 0o777);
    const store = new MqttUserStore(mqttAuthPaths(dir).users);
    await store.add({ ...edgeCreds, role: 'site', sites: ['bohai-chem'] });
    await store.add({ ...otherCreds, role: 'site', sites: ['nangang-petro'] });
    await store.add({ ...serverCreds, role: 'server', sites: [] });
    const out = join(dir, 'mosquitto');
    const quiet = { out: () => undefined, err: (s: string) => process.stderr.write(s) };
    expect(await runMqttAclCli(['--out', out], { DATA_DIR: dir, CONFIG_DIR: REPO_CONFIG_DIR }, quiet)).toBe(
      0,
    );
    const port = await freePort();
    url = `mqtt://127.0.0.1:${port}`;
    const conf = join(dir, 'mosquitto.conf');
    // docker/mosquitto.conf as shipped (queue, in-flight, packet size, persistence), on our listener, with our files.
    const repoConf = privateMosquittoConf(port, dir, { log_type: 'all' }).replace(
      'allow_anonymous true',
      ['allow_anonymous false', `password_file ${join(out, 'passwd')}`, `acl_file ${join(out, 'acl')}`].join(
        '\n',
      ),
    );
    writeFileSync(conf, repoConf);
    if (userInfo().uid === 0) {
      // Mosquitto started as root drops to its own user before reading the password file: give it the files.
      const uid = Number(execFileSync('id', ['-u', 'mosquitto']).toString().trim());
      for (const d of [dir, out]) chownSync(d, uid, -1);
      for (const f of readdirSync(out)) chownSync(join(out, f), uid, -1);
    }
    broker = spawn(BIN!, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    broker.stderr?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-200_000)));
    await pollUntil(() => portOpen(port), { timeoutMs: 10_000, what: `private mosquitto on ${port}` }).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n${log}`);
      },
    );
    // hazwatch's own subscriptions, with the server's credentials, plus the commands it must never see from a site.
    server = await open({ clientId: 'hzw-sp-server', ...serverCreds });
    server.on('message', (topic) => atServer.push(topic));
    await server.subscribeAsync([...SPARKPLUG_SUBSCRIPTIONS, 'spBv1.0/+/NCMD/+', 'spBv1.0/+/DCMD/+/+'], {
      qos: 1,
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    broker?.kill('SIGTERM');
  });

  it('should deliver an edge node its own births, data and deaths (the NDEATH will included) to hazwatch', async () => {
    const will = { topic: `spBv1.0/${G}/NDEATH/${N}`, payload: data(0), qos: 1 as const, retain: false };
    const edge = await open({ clientId: 'hzw-sp-edge', ...edgeCreds, will });
    const own = [
      `spBv1.0/${G}/NBIRTH/${N}`,
      `spBv1.0/${G}/DBIRTH/${N}/GD-1`,
      `spBv1.0/${G}/DDATA/${N}/GD-1`,
      `spBv1.0/${G}/NDATA/${N}`,
      `spBv1.0/${G}/DDEATH/${N}/GD-1`,
    ];
    for (const [i, t] of own.entries()) await edge.publishAsync(t, data(i), { qos: 1 });
    await pollUntil(() => own.every((t) => atServer.includes(t)), { what: 'own topics at hazwatch' });
    edge.stream.destroy(); // no DISCONNECT: the broker publishes the will
    await pollUntil(() => atServer.includes(`spBv1.0/${G}/NDEATH/${N}`), { what: 'NDEATH will at hazwatch' });
  });

  /**
   * Publishes each topic at QoS 1 on a connection of its own and waits for the PUBACK. Mosquitto 2.0.11 with
   * docker/mosquitto.conf (`max_queued_messages 0`) closes a client's connection right after it PUBACKs a publish the
   * ACL denied (with a count limit it keeps it open), so one connection per refused publish.
   */
  const publishEach = async (
    creds: { username: string; password: string },
    idPrefix: string,
    topics: string[],
  ) => {
    for (const [i, t] of topics.entries()) {
      const c = await open({ clientId: `${idPrefix}-${i}`, ...creds });
      await c.publishAsync(t, data(9), { qos: 1 });
    }
  };
  const deniedFor = (idPrefix: string): string[] =>
    log.split('\n').filter((l) => l.includes(`Denied PUBLISH from ${idPrefix}-`));

  it("should drop an edge node's publishes to other nodes, other groups, STATE and commands", async () => {
    const forbidden = [
      `spBv1.0/${G}/NDATA/other-gw`,
      `spBv1.0/${G}/DDATA/other-gw/GD-1`,
      `spBv1.0/other-group/NDATA/${N}`,
      `spBv1.0/${G}/NCMD/${N}`,
      `spBv1.0/${G}/DCMD/${N}/GD-1`,
      'spBv1.0/STATE/hazwatch',
      `spBv1.0/${G}/NBIRTH/${N}/extra`,
    ];
    atServer.length = 0;
    await publishEach(edgeCreds, 'hzw-sp-forge', forbidden);
    await sync(await open({ clientId: 'hzw-sp-edge2', ...edgeCreds }), 10);
    expect(atServer).toEqual([`spBv1.0/${G}/NDATA/${N}`]);
    // One "Denied PUBLISH" line per refused publish, naming the topic.
    await pollUntil(() => deniedFor('hzw-sp-forge').length >= forbidden.length, {
      what: 'every refused publish in the broker log',
    });
    expect(deniedFor('hzw-sp-forge')).toHaveLength(forbidden.length);
    for (const t of forbidden) expect(deniedFor('hzw-sp-forge').some((l) => l.includes(`'${t}'`))).toBe(true);
  });

  it("should not let another site's credentials act as this edge node", async () => {
    atServer.length = 0;
    await publishEach(otherCreds, 'hzw-sp-other', [`spBv1.0/${G}/NDATA/${N}`, `spBv1.0/${G}/NBIRTH/${N}`]);
    const edge = await open({ clientId: 'hzw-sp-edge3', ...edgeCreds });
    await edge.publishAsync(`spBv1.0/${G}/DDATA/${N}/GD-2`, data(2), { qos: 1 });
    await pollUntil(() => atServer.includes(`spBv1.0/${G}/DDATA/${N}/GD-2`), { what: 'marker at hazwatch' });
    expect(atServer).toEqual([`spBv1.0/${G}/DDATA/${N}/GD-2`]);
    expect(deniedFor('hzw-sp-other')).toHaveLength(2);
  });

  it("should let an edge node read hazwatch's STATE and its own commands, not another node's", async () => {
    const edge = await open({ clientId: 'hzw-sp-edge4', ...edgeCreds });
    const got: string[] = [];
    edge.on('message', (t) => got.push(t));
    const states = watchState(edge);
    // Mosquitto 2.0 grants a subscription and then delivers only what the ACL lets it read.
    await edge.subscribeAsync(
      ['spBv1.0/STATE/+', `spBv1.0/${G}/NCMD/${N}`, `spBv1.0/${G}/NCMD/other-gw`, `spBv1.0/${G}/NDATA/+`],
      { qos: 1 },
    );
    const clock = new ManualClock(Date.now());
    const state = new SparkplugHostState({
      hostId: 'hazwatch',
      clientId: 'hzw-sp-server-state',
      credentials: serverCreds,
      keepaliveS: 30,
      connect: (opts) => connect(url, opts),
      now: () => clock.now(),
      scheduler: new ManualScheduler(clock),
    });
    try {
      state.dataPath(true);
      await pollUntil(() => state.online, { what: 'STATE online acknowledged by Mosquitto' });
      await pollUntil(() => states.some((s) => s.online && s.topic === 'spBv1.0/STATE/hazwatch'), {
        what: 'STATE online at the edge node',
      });
      await server.publishAsync(`spBv1.0/${G}/NCMD/other-gw`, data(0), { qos: 0 });
      await server.publishAsync(`spBv1.0/${G}/NCMD/${N}`, data(0), { qos: 0 });
      await pollUntil(() => got.includes(`spBv1.0/${G}/NCMD/${N}`), { what: 'own NCMD at the edge node' });
      const other = await open({ clientId: 'hzw-sp-edge5', ...edgeCreds });
      await other.publishAsync(`spBv1.0/${G}/NDATA/${N}`, data(3), { qos: 1 });
      await pollUntil(() => atServer.includes(`spBv1.0/${G}/NDATA/${N}`), { what: 'data at hazwatch' });
      expect(got.filter((t) => t.includes('other-gw') || t.includes('/NDATA/'))).toEqual([]);
    } finally {
      await state.stop();
    }
    await pollUntil(() => states[states.length - 1]?.online === false, { what: 'STATE offline at stop' });
    expect(states[states.length - 1]!.timestamp).toBe(states.find((s) => s.online)!.timestamp);
  });
});

run('SparkplugHostState on the local Mosquitto (TEST_MQTT_URL)', () => {
  const url = process.env.TEST_MQTT_URL!;
  const hostId = `hzw-int-${process.pid}-${Date.now()}`;
  const topic = `spBv1.0/STATE/${hostId}`;
  let edge: MqttClient;
  let states: ReturnType<typeof watchState>;
  const opened: MqttClient[] = [];
  const clock = new ManualClock(Date.now());
  const scheduler = new ManualScheduler(clock);
  let state: SparkplugHostState;

  beforeAll(async () => {
    edge = await connectAsync(url, { clientId: `${hostId}-edge`, clean: true, log: () => undefined });
    states = watchState(edge);
    await edge.subscribeAsync(topic, { qos: 1 });
    state = new SparkplugHostState({
      hostId,
      clientId: `${hostId}-state`,
      keepaliveS: 30,
      connect: (opts) => {
        const c = connect(url, opts);
        opened.push(c);
        return c;
      },
      now: () => clock.now(),
      scheduler,
    });
  });
  afterAll(async () => {
    await state.stop();
    await edge.publishAsync(topic, '', { qos: 1, retain: true }); // clear the retained STATE on the shared broker
    await edge.endAsync(true);
    await Promise.all(opened.map((c) => c.endAsync(true)));
  });

  it('should hold online retained while up, publish the will when the connection is lost, and come back', async () => {
    state.dataPath(true);
    await pollUntil(() => states.some((s) => s.online), { what: 'online' });
    const t1 = states[states.length - 1]!.timestamp;
    expect(t1).toBe(clock.now());
    const late = await connectAsync(url, { clientId: `${hostId}-late`, clean: true, log: () => undefined });
    opened.push(late);
    const retained = new Promise<{ s: HostStatePayload | undefined; retain: boolean }>((resolve) =>
      late.once('message', (_t, p, packet) => resolve({ s: decodeHostState(p), retain: packet.retain })),
    );
    await late.subscribeAsync(topic, { qos: 1 });
    expect(await retained).toEqual({ s: { online: true, timestamp: t1 }, retain: true });

    opened[0]!.stream.destroy();
    await pollUntil(() => states[states.length - 1]?.online === false, { what: 'will at the edge node' });
    expect(states[states.length - 1]).toMatchObject({ online: false, timestamp: t1 });
    await scheduler.advance(5000);
    await pollUntil(() => states[states.length - 1]?.online === true, { what: 'online again' });
    expect(states[states.length - 1]!.timestamp).toBeGreaterThan(t1);
  });
});
