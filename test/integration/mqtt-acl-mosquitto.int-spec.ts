/**
 * The password and ACL files `npm run mqtt-acl` writes, on a real Mosquitto: a PRIVATE broker on an ephemeral port
 * (`mosquitto -c <conf>`), never the system one on 1883. Needs TEST_MQTT_URL (a Mosquitto installation; the binary is
 * MOSQUITTO_BIN or `mosquitto`).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { runMqttAclCli } from '../../src/ingest/mqtt-auth/mqtt-acl.cli';
import { mqttAuthPaths, MqttUserStore } from '../../src/ingest/mqtt-auth/mqtt-user.store';
import { freePort } from '../setup/server-process';
import { pollUntil } from '../setup/poll-until';

const run = process.env.TEST_MQTT_URL ? describe : describe.skip;
if (!process.env.TEST_MQTT_URL)
  console.warn('mqtt-acl-mosquitto.int-spec: skipped — needs TEST_MQTT_URL (a local Mosquitto installation)');
const BIN = process.env.MOSQUITTO_BIN ?? 'mosquitto';

const PW = { a: 'site-a-password-123', b: 'site-b-password-456', server: 'server-password-789' };

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

run('mqtt-acl files on a private Mosquitto', () => {
  let broker: ChildProcess;
  let url: string;
  let log = '';
  let observer: MqttClient;
  const seen: string[] = [];
  const clients: MqttClient[] = [];
  const open = async (opts: IClientOptions): Promise<MqttClient> => {
    const c = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, clean: true, ...opts });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hzw-mosq-acl-'));
    const store = new MqttUserStore(mqttAuthPaths(dataDir).users);
    await store.add({ username: 'site-a', role: 'site', sites: ['site-a'], password: PW.a });
    await store.add({ username: 'site-b', role: 'site', sites: ['site-b'], password: PW.b });
    await store.add({ username: 'hazwatch-server', role: 'server', sites: [], password: PW.server });
    const out = join(dataDir, 'mosquitto');
    const quiet = { out: () => undefined, err: (s: string) => process.stderr.write(s) };
    expect(await runMqttAclCli(['--out', out], { DATA_DIR: dataDir }, quiet)).toBe(0);
    const port = await freePort();
    url = `mqtt://127.0.0.1:${port}`;
    const conf = join(dataDir, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous false',
        `password_file ${join(out, 'passwd')}`,
        `acl_file ${join(out, 'acl')}`,
        'persistence false',
        'max_packet_size 262144',
        'log_dest stderr',
        'log_type all',
        '',
      ].join('\n'),
    );
    // Run as root, Mosquitto drops to its own user before reading the password file: give it the files.
    if (userInfo().uid === 0) {
      const uid = Number(execFileSync('id', ['-u', 'mosquitto']).toString().trim());
      for (const d of [dataDir, out]) chownSync(d, uid, -1);
      for (const f of readdirSync(out)) chownSync(join(out, f), uid, -1);
    }
    broker = spawn(BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    broker.stderr?.on('data', (c: Buffer) => (log += c.toString()));
    await pollUntil(() => portOpen(port), { timeoutMs: 10_000, what: `private mosquitto on ${port}` }).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n${log}`);
      },
    );
    observer = await open({ clientId: 'hzw-acl-observer', username: 'hazwatch-server', password: PW.server });
    observer.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
    await observer.subscribeAsync(['hazwatch/v1/#', 'hazwatch/server/#'], { qos: 1 });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    broker?.kill('SIGTERM');
  });

  it('should refuse anonymous clients and wrong passwords', async () => {
    await expect(open({ clientId: 'anon' })).rejects.toThrow(/Not authorized/i);
    await expect(open({ clientId: 'bad', username: 'site-a', password: 'wrong-password' })).rejects.toThrow(
      /Not authorized|Bad username/i,
    );
  });

  it("should let a site publish its own topics and never deliver what it publishes to another site's", async () => {
    const a = await open({ clientId: 'hzw-acl-a', username: 'site-a', password: PW.a });
    await a.publishAsync('hazwatch/v1/site-b/gd-1/telemetry', 'forged', { qos: 1 }); // Mosquitto acks and drops it
    await a.publishAsync('hazwatch/server/hazwatch-server/status', 'offline', { qos: 1 });
    await a.publishAsync('hazwatch/v1/site-a/gd-1/telemetry', 'own', { qos: 1 });
    await pollUntil(() => seen.includes('hazwatch/v1/site-a/gd-1/telemetry own'), {
      what: 'own reading at the server',
    });
    expect(seen.filter((s) => s.includes('forged') || s.startsWith('hazwatch/server/'))).toEqual([]);
    expect(log).toMatch(/Denied PUBLISH from hzw-acl-a .*hazwatch\/v1\/site-b\/gd-1\/telemetry/);
  });

  it('should refuse a site subscriptions to every site', async () => {
    const b = await open({ clientId: 'hzw-acl-b', username: 'site-b', password: PW.b });
    const got: string[] = [];
    b.on('message', (t) => got.push(t));
    // Mosquitto 2.0 grants the SUBSCRIBE but delivers nothing the ACL does not allow to read.
    await b.subscribeAsync('#', { qos: 1 }).catch(() => undefined);
    const a = await open({ clientId: 'hzw-acl-a2', username: 'site-a', password: PW.a });
    await a.publishAsync('hazwatch/v1/site-a/gd-1/telemetry', 'secret-of-a', { qos: 1 });
    await pollUntil(() => seen.includes('hazwatch/v1/site-a/gd-1/telemetry secret-of-a'), {
      what: 'reading at the server',
    });
    await b.publishAsync('hazwatch/v1/site-b/gd-1/telemetry', 'marker-b', { qos: 1 });
    await pollUntil(() => seen.includes('hazwatch/v1/site-b/gd-1/telemetry marker-b'), {
      what: 'marker at the server',
    });
    expect(got.filter((t) => t.startsWith('hazwatch/v1/site-a/'))).toEqual([]);
  });
});
