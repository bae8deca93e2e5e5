/**
 * The simulators over a real MQTT broker (the in-process Aedes broker the server embeds, on an ephemeral port):
 * online/offline announcements, last wills, telemetry the ingest decoder accepts, shared mode, start-up failure.
 */
import { connect, type MqttClient } from 'mqtt';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/common/logger';
import { loadPlant, type PlantModel } from '../../src/config/config.loader';
import { decodeTelemetry } from '../../src/ingest/domain/decode';
import { parseTopic } from '../../src/ingest/domain/telemetry-contract';
import { EmbeddedBroker, type EmbeddedBrokerSecurity } from '../../src/ingest/embedded-broker';
import { MqttBrokerAuth } from '../../src/ingest/mqtt-auth/mqtt-broker-auth';
import {
  ensureDemoSiteCredentials,
  type MqttCredentials,
} from '../../src/ingest/mqtt-auth/mqtt-provisioning';
import { mqttAuthPaths } from '../../src/ingest/mqtt-auth/mqtt-user.store';
import { provisionTestMqttUsers, type TestMqttUsers } from '../setup/mqtt-auth';
import {
  BrokerUnreachableError,
  startSimulators,
  type RunningSimulators,
  type SimLogger,
} from '../../simulators/plant.simulator';
import { pollUntil } from '../setup/poll-until';

const quiet: SimLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const DEVICES = [
  'bohai-chem/cl-gd-1',
  'bohai-chem/cl-gd-2',
  'bohai-chem/cl-tk-1',
  'bohai-chem/cl-xv-1',
  'bohai-chem/cl-sys-lightning',
];

type Seen = { topic: string; payload: string; retain: boolean; at: number };

describe('simulators over MQTT', () => {
  let plant: PlantModel;
  let broker: EmbeddedBroker;
  let observer: MqttClient;
  let seen: Seen[];
  let sims: RunningSimulators | null;
  // The embedded broker refuses anonymous clients: per-site credentials for the simulators, a gateway, an observer.
  let users: TestMqttUsers;
  let siteCredentials: Map<string, MqttCredentials>;
  let security: EmbeddedBrokerSecurity;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    plant = loadPlant(join(__dirname, '..', '..', 'config'));
    const dataDir = mkdtempSync(join(tmpdir(), 'hzw-sim-e2e-'));
    users = await provisionTestMqttUsers(dataDir);
    siteCredentials = (
      await ensureDemoSiteCredentials(
        users.store,
        mqttAuthPaths(dataDir),
        plant.sites.map((s) => s.id),
      )
    ).bySite;
    security = { auth: new MqttBrokerAuth(users.store, () => new Set()), maxPacketBytes: 262144 };
  });

  beforeEach(async () => {
    broker = await EmbeddedBroker.start({ port: 0, security });
    seen = [];
    sims = null;
    observer = connect(broker.url, { ...users.observer, clientId: `observer-${process.pid}` });
    observer.on('message', (topic, payload, packet) =>
      seen.push({ topic, payload: payload.toString(), retain: packet.retain, at: Date.now() }),
    );
    await observer.subscribeAsync('hazwatch/v1/+/+/#', { qos: 1 });
  });

  afterEach(async () => {
    await sims?.stop();
    await observer.endAsync(true);
    await broker.stop();
  });

  const states = (key: string): string[] =>
    seen.filter((m) => m.topic === `hazwatch/v1/${key}/state`).map((m) => m.payload);
  const telemetry = (key: string): Seen[] => seen.filter((m) => m.topic === `hazwatch/v1/${key}/telemetry`);

  it('should announce online, publish decodable telemetry with rising seq, and announce offline on stop when run per device', async () => {
    sims = await startSimulators({
      url: broker.url,
      plant,
      devices: DEVICES,
      rate: 20,
      seed: 3,
      clientIdPrefix: 'e2e',
      siteCredentials,
      logger: quiet,
    });
    await pollUntil(() => DEVICES.every((k) => states(k).includes('online') && telemetry(k).length >= 5), {
      timeoutMs: 20_000,
      what: 'online + 5 messages per device',
    });

    for (const key of DEVICES) {
      const device = plant.deviceByKey.get(key)!;
      const msgs = telemetry(key);
      const seqs: number[] = [];
      for (const m of msgs) {
        const topic = parseTopic(m.topic)!;
        const decoded = decodeTelemetry(Buffer.from(m.payload), {
          siteId: topic.siteId,
          deviceId: topic.deviceId,
          channels: device.channels,
          receivedAt: m.at,
          maxSkewMs: 300_000,
        });
        expect(decoded.rejects).toEqual([]);
        expect(decoded.readings).toHaveLength(device.channels.size);
        seqs.push(decoded.seq!);
      }
      expect(seqs).toEqual(seqs.map((_, i) => i));
    }
    expect(sims.stats()).toMatchObject({ devices: 5, connections: 5, publishErrors: 0 });

    await sims.stop();
    sims = null;
    await pollUntil(() => DEVICES.every((k) => states(k).at(-1) === 'offline'), {
      timeoutMs: 10_000,
      what: 'offline announced for every device',
    });
  });

  it('should let the broker publish the last will offline when a device drops off the network (comms-loss)', async () => {
    sims = await startSimulators({
      url: broker.url,
      plant,
      devices: DEVICES,
      rate: 20,
      seed: 3,
      scenario: 'comms-loss',
      scenarioStartMs: 1000,
      clientIdPrefix: 'e2e',
      siteCredentials,
      logger: quiet,
    });
    // comms-loss drops the first gas detector's connection: nobody but the broker (its will) says offline.
    await pollUntil(() => states('bohai-chem/cl-gd-1').at(-1) === 'offline', {
      timeoutMs: 15_000,
      what: 'last will of cl-gd-1',
    });
    const countAtDrop = telemetry('bohai-chem/cl-gd-1').length;
    const tankAtDrop = telemetry('bohai-chem/cl-tk-1').length;
    // Other devices keep publishing while it is away; the dropped detector does not, and neither does the silent tank.
    const other = telemetry('bohai-chem/cl-gd-2').length;
    await pollUntil(() => telemetry('bohai-chem/cl-gd-2').length >= other + 10, {
      timeoutMs: 10_000,
      what: 'cl-gd-2 still publishing',
    });
    expect(telemetry('bohai-chem/cl-gd-1').length).toBe(countAtDrop);
    expect(telemetry('bohai-chem/cl-tk-1').length).toBe(tankAtDrop);
    expect(states('bohai-chem/cl-gd-2')).not.toContain('offline');
    expect(sims.stats().offline).toBe(1);
  });

  it('should announce online again after the broker drops the connection', async () => {
    sims = await startSimulators({
      url: broker.url,
      plant,
      devices: ['bohai-chem/cl-gd-1'],
      rate: 20,
      seed: 3,
      clientIdPrefix: 'e2e',
      siteCredentials,
      logger: quiet,
    });
    await pollUntil(() => states('bohai-chem/cl-gd-1').includes('online'), {
      timeoutMs: 10_000,
      what: 'first online',
    });
    const aedes = (broker as unknown as { aedes: { clients: Record<string, { close(): void }> } }).aedes;
    aedes.clients['e2e-bohai-chem-cl-gd-1']!.close();
    // The broker fires the will (offline); the device reconnects and says online again.
    await pollUntil(() => states('bohai-chem/cl-gd-1').join(',').includes('online,offline,online'), {
      timeoutMs: 15_000,
      what: 'online after reconnect',
    });
  });

  it('should carry every device over one connection when run in shared mode', async () => {
    sims = await startSimulators({
      url: broker.url,
      plant,
      devices: 20,
      rate: 10,
      connection: 'shared',
      seed: 3,
      clientIdPrefix: 'e2e',
      ...users.publisher,
      logger: quiet,
    });
    const keys = [...plant.deviceByKey.keys()].slice(0, 20);
    await pollUntil(() => keys.every((k) => states(k).includes('online') && telemetry(k).length >= 2), {
      timeoutMs: 20_000,
      what: 'shared mode traffic',
    });
    expect(sims.stats()).toMatchObject({ devices: 20, connections: 1 });
    await sims.stop();
    sims = null;
    await pollUntil(() => keys.every((k) => states(k).at(-1) === 'offline'), {
      timeoutMs: 10_000,
      what: 'offline for all shared devices',
    });
  });

  it('should fail start-up with the broker URL in the message when no broker answers', async () => {
    const closed = await EmbeddedBroker.start({ port: 0, security });
    const url = closed.url;
    await closed.stop();
    await expect(
      startSimulators({ url, plant, devices: 2, connectTimeoutMs: 1500, logger: quiet }),
    ).rejects.toThrow(BrokerUnreachableError);
    await expect(
      startSimulators({ url, plant, devices: 2, connectTimeoutMs: 1500, logger: quiet }),
    ).rejects.toThrow(`cannot connect to the MQTT broker at ${url} within 1500 ms (0/2 connections up)`);
  });
});
