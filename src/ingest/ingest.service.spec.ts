import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BehaviorSubject } from 'rxjs';
import { ManualClock } from '../common/clock';
import type { Reading } from '../common/types';
import { loadAppConfig } from '../config/app-config';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import type { DeadLetterInput, DeadLetterRepository } from '../storage/dead-letter.repository';
import type { DeviceStateRepository } from '../storage/device-state.repository';
import type { TelemetryWriter } from '../storage/telemetry-writer.service';
import { makePlantConfigDir, gasMessage } from '../../test/factories/plant.factory';
import { installRxSafetyNet } from '../common/rx-safety';
import { pollUntil } from '../../test/setup/poll-until';
import { IngestService, type DeviceStateEvent } from './ingest.service';
import type { MqttSecurity } from './mqtt-auth/mqtt-security.service';
import { DataType, decodePayload, encodePayload } from './sparkplug/sparkplug-payload';

const NOW = Date.parse('2026-11-24T10:00:00Z');

function setup() {
  const config = loadAppConfig({ CONFIG_DIR: makePlantConfigDir('s1'), DATA_DIR: '/tmp/unused' });
  const written: Reading[] = [];
  const dead: DeadLetterInput[] = [];
  const writer = {
    enqueue: (r: readonly Reading[]) => written.push(...r),
    pressure$: new BehaviorSubject(false),
    onDurable: () => undefined,
    ackMark: () => 0,
  } as unknown as TelemetryWriter;
  const deadLetters = { record: (d: DeadLetterInput) => dead.push(d) } as unknown as DeadLetterRepository;
  const deviceStateRepo = {
    loadAll: async () => [],
    upsertMany: async () => undefined,
  } as unknown as DeviceStateRepository;
  const metrics = new HazwatchMetrics(false);
  const svc = new IngestService(
    config,
    new ManualClock(NOW),
    metrics,
    writer,
    deadLetters,
    deviceStateRepo,
    {} as MqttSecurity,
  );
  const telemetry: Reading[] = [];
  const states: DeviceStateEvent[] = [];
  svc.telemetry$.subscribe((r) => telemetry.push(r));
  svc.deviceState$.subscribe((s) => states.push(s));
  const counter = async (name: string, labels: Record<string, string>) =>
    (await metrics.registry.getSingleMetric(name)?.get())?.values.find((v) =>
      Object.entries(labels).every(([k, x]) => v.labels[k] === x),
    )?.value ?? 0;
  return { svc, written, dead, telemetry, states, counter };
}

const T = 'hazwatch/v1/s1/gd-1/telemetry';

describe('IngestService.handleMessage', () => {
  it('should hand valid readings to the writer, telemetry$ and the latest-value registry', async () => {
    const { svc, written, telemetry, counter } = setup();
    svc.handleMessage(T, Buffer.from(gasMessage(NOW - 500, 1, 0.3)), NOW);
    expect(written.map((r) => [r.channel, r.value])).toEqual([
      ['conc', 0.3],
      ['fault', false],
    ]);
    expect(telemetry).toEqual(written);
    expect(svc.registry.get('s1/gd-1')?.values.get('conc')).toEqual({
      value: 0.3,
      ts: NOW - 500,
      quality: 'good',
    });
    expect(await counter('hazwatch_ingest_messages_total', { result: 'accepted' })).toBe(1);
  });

  it('should dead-letter bad_topic and unknown_device with topic, reason and payload', async () => {
    const { svc, dead, written, counter } = setup();
    svc.handleMessage('hazwatch/v1/s1/gd-1/nonsense', Buffer.from('{}'), NOW);
    svc.handleMessage('hazwatch/v1/s1/ghost/telemetry', Buffer.from(gasMessage(NOW, 1)), NOW);
    svc.handleMessage('hazwatch/v1/other-site/gd-1/telemetry', Buffer.from(gasMessage(NOW, 1)), NOW);
    expect(dead.map((d) => [d.topic, d.reason])).toEqual([
      ['hazwatch/v1/s1/gd-1/nonsense', 'bad_topic'],
      ['hazwatch/v1/s1/ghost/telemetry', 'unknown_device'],
      ['hazwatch/v1/other-site/gd-1/telemetry', 'unknown_device'],
    ]);
    expect(dead[1]?.payload.toString()).toBe(gasMessage(NOW, 1));
    expect(written).toEqual([]);
    expect(await counter('hazwatch_ingest_rejected_total', { reason: 'unknown_device' })).toBe(2);
    expect(await counter('hazwatch_ingest_messages_total', { result: 'rejected' })).toBe(3);
  });

  it('should keep the good value of a partly bad message and dead-letter the bad one', () => {
    const { svc, dead, written } = setup();
    svc.handleMessage(T, Buffer.from(JSON.stringify({ ts: NOW, values: { conc: 0.5, fault: 'no' } })), NOW);
    expect(written.map((r) => r.channel)).toEqual(['conc']);
    expect(dead.map((d) => d.reason)).toEqual(['wrong_type']);
  });

  it('should track online/offline from state topics and emit only changes', () => {
    const { svc, states, dead } = setup();
    svc.handleMessage('hazwatch/v1/s1/gd-2/state', Buffer.from('online'), NOW);
    svc.handleMessage('hazwatch/v1/s1/gd-2/state', Buffer.from('online'), NOW + 1);
    svc.handleMessage('hazwatch/v1/s1/gd-2/state', Buffer.from('offline'), NOW + 2);
    svc.handleMessage('hazwatch/v1/s1/gd-2/state', Buffer.from('sleeping'), NOW + 3);
    expect(states).toEqual([
      { siteId: 's1', deviceId: 'gd-2', state: 'online', ts: NOW },
      { siteId: 's1', deviceId: 'gd-2', state: 'offline', ts: NOW + 2 },
    ]);
    expect(svc.registry.get('s1/gd-2')).toMatchObject({ state: 'offline', lastSeen: NOW + 3 - 1 });
    expect(dead.map((d) => d.reason)).toEqual(['bad_state']);
  });

  it('should mark a device online when it sends telemetry without a retained state', () => {
    const { svc, states } = setup();
    svc.handleMessage(T, Buffer.from(gasMessage(NOW, 1)), NOW);
    expect(states).toEqual([{ siteId: 's1', deviceId: 'gd-1', state: 'online', ts: NOW }]);
  });

  it('should not lose one good message in a flood of 10k malformed ones', () => {
    const { svc, written, dead } = setup();
    const garbage = [
      Buffer.from('{"ts":'),
      Buffer.from('[]'),
      Buffer.from(JSON.stringify({ ts: 'soon', values: { conc: 1 } })),
      Buffer.from(JSON.stringify({ ts: NOW, values: { conc: 1e9 } })),
    ];
    let good = 0;
    for (let i = 0; i < 10_000; i++) {
      svc.handleMessage(T, garbage[i % garbage.length] as Buffer, NOW);
      if (i % 100 === 0) svc.handleMessage(T, Buffer.from(gasMessage(NOW, ++good)), NOW);
    }
    expect(dead).toHaveLength(10_000);
    expect(written).toHaveLength(good * 2);
  });

  it('should survive a subscriber that throws and keep ingesting', async () => {
    const isolated: unknown[] = [];
    installRxSafetyNet((err) => isolated.push(err));
    const { svc, written, dead } = setup();
    let calls = 0;
    svc.telemetry$.subscribe(() => {
      if (calls++ === 0) throw new Error('bug in a consumer');
    });
    svc.handleMessage(T, Buffer.from(gasMessage(NOW, 1)), NOW);
    svc.handleMessage(T, Buffer.from(gasMessage(NOW + 1, 2)), NOW);
    expect(written).toHaveLength(4);
    expect(dead).toEqual([]);
    await pollUntil(() => isolated.length === 1, { what: 'the consumer error to reach the safety net' });
    expect((isolated[0] as Error).message).toBe('bug in a consumer');
  });
});

describe('IngestService Sparkplug B (docs/sparkplug.md)', () => {
  function spSetup() {
    const dir = makePlantConfigDir('s1');
    writeFileSync(
      join(dir, 'sparkplug.yaml'),
      'nodes:\n  - group: G\n    node: gw\n    site: s1\n    devices:\n      - device: D1\n        as: gd-1\n        metrics: { Conc: conc, Fault: fault }\n',
    );
    const config = loadAppConfig({ CONFIG_DIR: dir, DATA_DIR: '/tmp/unused' });
    const written: Reading[] = [];
    const dead: DeadLetterInput[] = [];
    const writer = {
      enqueue: (r: readonly Reading[]) => written.push(...r),
      pressure$: new BehaviorSubject(false),
      onDurable: () => undefined,
      ackMark: () => 0,
    } as unknown as TelemetryWriter;
    const deadLetters = { record: (d: DeadLetterInput) => dead.push(d) } as unknown as DeadLetterRepository;
    const deviceStateRepo = {
      loadAll: async () => [],
      upsertMany: async () => undefined,
    } as unknown as DeviceStateRepository;
    const svc = new IngestService(
      config,
      new ManualClock(NOW),
      new HazwatchMetrics(false),
      writer,
      deadLetters,
      deviceStateRepo,
      {} as MqttSecurity,
    );
    const published: Array<{ topic: string; payload: Buffer }> = [];
    (svc as unknown as { client: unknown }).client = {
      publish: (topic: string, payload: Buffer) => published.push({ topic, payload }),
    };
    const messages: Array<readonly Reading[]> = [];
    const states: DeviceStateEvent[] = [];
    svc.messages$.subscribe((m) => messages.push(m));
    svc.deviceState$.subscribe((s) => states.push(s));
    return { svc, written, dead, published, messages, states };
  }
  const birth = () =>
    [
      [
        'spBv1.0/G/NBIRTH/gw',
        encodePayload({
          timestamp: NOW,
          seq: 0,
          metrics: [{ name: 'bdSeq', datatype: DataType.Int64, value: 1 }],
        }),
      ],
      [
        'spBv1.0/G/DBIRTH/gw/D1',
        encodePayload({
          timestamp: NOW,
          seq: 1,
          metrics: [
            { name: 'Conc', alias: 1, datatype: DataType.Float, value: 0.25 },
            { name: 'Fault', alias: 2, datatype: DataType.Boolean, value: false },
          ],
        }),
      ],
    ] as const;

  it('should write readings, bring the device online and group messages$ by event time', () => {
    const { svc, written, dead, messages, states } = spSetup();
    for (const [t, p] of birth()) svc.handleMessage(t, p, NOW);
    expect(states.map((s) => [s.deviceId, s.state])).toEqual([['gd-1', 'online']]);
    // store and forward: one DDATA with three times of conc
    const ts = [NOW - 3000, NOW - 1000, NOW - 2000];
    svc.handleMessage(
      'spBv1.0/G/DDATA/gw/D1',
      encodePayload({
        timestamp: NOW - 1000,
        seq: 2,
        metrics: ts.map((t, i) => ({ alias: 1, datatype: DataType.Float, value: i + 1, timestamp: t })),
      }),
      NOW,
    );
    expect(dead).toEqual([]);
    expect(written.slice(2).map((r) => [r.ts, r.value])).toEqual(ts.map((t, i) => [t, i + 1]));
    expect(messages.slice(1).map((m) => m.map((r) => r.ts))).toEqual([
      [NOW - 3000],
      [NOW - 2000],
      [NOW - 1000],
    ]);
    // the birth's value (at NOW) is newer than the forwarded ones: late data does not overwrite it
    expect(svc.registry.get('s1/gd-1')?.values.get('conc')?.value).toBe(0.25);
  });

  it('should publish a rebirth NCMD on a seq gap and dead-letter an unknown alias with the whole payload', () => {
    const { svc, dead, published } = spSetup();
    for (const [t, p] of birth()) svc.handleMessage(t, p, NOW);
    const payload = encodePayload({
      timestamp: NOW,
      seq: 9,
      metrics: [{ alias: 7, datatype: DataType.Float, value: 1 }],
    });
    svc.handleMessage('spBv1.0/G/DDATA/gw/D1', payload, NOW);
    expect(dead.map((d) => [d.topic, d.reason])).toEqual([
      ['spBv1.0/G/DDATA/gw/D1', 'sparkplug_unknown_alias'],
    ]);
    expect(dead[0]!.payload.equals(payload)).toBe(true);
    expect(published.map((p) => p.topic)).toEqual(['spBv1.0/G/NCMD/gw']);
    const cmd = decodePayload(published[0]!.payload).metrics![0]!;
    expect([cmd.name, cmd.boolean_value]).toEqual(['Node Control/Rebirth', true]);
  });

  it('should leave JSON topics on the JSON path', () => {
    const { svc, written } = spSetup();
    svc.handleMessage(T, Buffer.from(gasMessage(NOW - 500, 1, 0.3)), NOW);
    expect(written.map((r) => r.channel)).toEqual(['conc', 'fault']);
  });
});
