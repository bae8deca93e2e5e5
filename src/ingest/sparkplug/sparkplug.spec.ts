import { ConfigError } from '../../common/errors';
import type { DeviceInfo } from '../../config/config.loader';
import { deviceChannels } from '../../config/device-channels';
import { DeviceTracker } from '../domain/device-tracker';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { loadPlant } from '../../config/config.loader';
import {
  loadSparkplugConfig,
  parseSparkplugConfig,
  type SparkplugConfig,
} from '../../config/sparkplug-config';
import { DataType, decodePayload, encodePayload, u64, type MetricInput } from './sparkplug-payload';
import { metricValue, opcQuality, SparkplugProcessor } from './sparkplug-processor';
import { parseSparkplugTopic, type SparkplugTopic } from './domain/sparkplug-topic';

const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);

function plant() {
  const dev = (id: string, kind: DeviceInfo['kind'], ranges?: Record<string, [number, number]>): DeviceInfo =>
    ({ id, kind, siteId: 's1', ranges, channels: deviceChannels({ kind, ranges }) }) as unknown as DeviceInfo;
  const devices = [
    dev('gd-1', 'gas_detector', { conc: [0, 20] }),
    dev('gd-2', 'gas_detector', { conc: [0, 20] }),
    dev('xv-1', 'shutoff_valve'),
  ];
  return {
    siteById: new Map([['s1', { id: 's1' }]]) as never,
    deviceByKey: new Map(devices.map((d) => [`s1/${d.id}`, d])),
  };
}

const RAW = {
  rebirthIntervalS: 5,
  nodes: [
    {
      group: 'Plant1',
      node: 'gw-1',
      site: 's1',
      devices: [
        { device: 'PLC1', as: 'gd-1', metrics: { 'Gas/Conc': 'conc', 'Gas/Fault': 'fault' } },
        { device: 'PLC2', as: 'gd-2', metrics: { 'Gas/Conc': 'conc' } },
        { as: 'xv-1', metrics: { 'Valve/Position': 'position' } },
      ],
    },
  ],
};

const cfg = (): SparkplugConfig => parseSparkplugConfig(structuredClone(RAW), plant(), '/cfg/sparkplug.yaml');

function topic(t: string): Extract<SparkplugTopic, { kind: 'node' | 'device' }> {
  const p = parseSparkplugTopic(t);
  if (!p || p.kind === 'state') throw new Error(`bad topic ${t}`);
  return p;
}

const nbirth = (seq = 0, bdSeq = 7, extra: MetricInput[] = []) =>
  encodePayload({
    timestamp: T0,
    seq,
    metrics: [
      { name: 'bdSeq', datatype: DataType.Int64, value: bdSeq },
      { name: 'Node Control/Rebirth', datatype: DataType.Boolean, value: false },
      { name: 'Valve/Position', alias: 50, datatype: DataType.String, value: 'open' },
      ...extra,
    ],
  });
const dbirth1 = (seq: number) =>
  encodePayload({
    timestamp: T0,
    seq,
    metrics: [
      { name: 'Gas/Conc', alias: 1, datatype: DataType.Float, value: 0.5 },
      { name: 'Gas/Fault', alias: 2, datatype: DataType.Boolean, value: false },
      { name: 'Diag/Uptime', alias: 3, datatype: DataType.Int64, value: 12 },
    ],
  });
const ddata = (seq: number, metrics: MetricInput[], ts = T0 + 1000) =>
  encodePayload({ timestamp: ts, seq, metrics });

describe('Sparkplug B', () => {
  describe('topics', () => {
    it('parses node, device and STATE topics and refuses anything else', () => {
      expect(parseSparkplugTopic('spBv1.0/G/NDATA/n1')).toEqual({
        kind: 'node',
        type: 'NDATA',
        group: 'G',
        node: 'n1',
        device: '',
      });
      expect(parseSparkplugTopic('spBv1.0/G/DDATA/n1/d1')).toEqual({
        kind: 'device',
        type: 'DDATA',
        group: 'G',
        node: 'n1',
        device: 'd1',
      });
      expect(parseSparkplugTopic('spBv1.0/STATE/host-a')).toEqual({ kind: 'state', hostId: 'host-a' });
      expect(parseSparkplugTopic('spBv1.0/G/DDATA/n1')).toBeNull();
      expect(parseSparkplugTopic('spBv1.0/G/NDATA/n1/d1')).toBeNull();
      expect(parseSparkplugTopic('spBv1.0/G/XDATA/n1')).toBeNull();
      expect(parseSparkplugTopic('spBv1.0/G//n1')).toBeNull();
    });
  });

  describe('payload codec', () => {
    it('round-trips values, with signed integers carried two’s complement', () => {
      const b = encodePayload({
        timestamp: T0,
        seq: 3,
        metrics: [
          { alias: 1, datatype: DataType.Int8, value: -3 },
          { alias: 2, datatype: DataType.Int16, value: -300 },
          { alias: 3, datatype: DataType.Int64, value: -5 },
          { alias: 4, datatype: DataType.UInt32, value: 4_000_000_000 },
          { alias: 5, datatype: DataType.Double, value: 1.25 },
        ],
      });
      const p = decodePayload(b);
      expect(u64(p.timestamp)).toBe(T0);
      expect(u64(p.seq)).toBe(3);
      const values = p.metrics!.map((m) => {
        const v = metricValue(m, m.datatype!, 'x');
        return v.ok ? v.value : v.reject.reason;
      });
      expect(values).toEqual([-3, -300, -5, 4_000_000_000, 1.25]);
    });

    it('maps the OPC quality word', () => {
      expect([opcQuality(192), opcQuality(216), opcQuality(64), opcQuality(0), opcQuality(24)]).toEqual([
        'good',
        'good',
        'uncertain',
        'bad',
        'bad',
      ]);
    });
  });

  describe('mapping config', () => {
    it('accepts a valid mapping', () => {
      const c = cfg();
      expect(c.rebirthIntervalMs).toBe(5000);
      const n = c.nodes.get('Plant1/gw-1')!;
      expect(n.devices.get('PLC1')!.metrics.get('Gas/Conc')!.channel).toBe('conc');
      expect(n.devices.get('')!.key).toBe('s1/xv-1');
    });

    it('loads the bundled config/sparkplug.yaml against the demo plant; a missing file turns Sparkplug off', () => {
      const dir = join(__dirname, '..', '..', '..', 'config');
      const c = loadSparkplugConfig(dir, loadPlant(dir))!;
      expect(c.nodes.get('bohai-chem/cl-plc-gateway')!.devices.get('GD-1')!.key).toBe('bohai-chem/cl-gd-1');
      expect(
        loadSparkplugConfig(mkdtempSync(join(tmpdir(), 'hzw-sp-none-')), loadPlant(dir)),
      ).toBeUndefined();
    });

    it('stops on a YAML syntax error with file and line', () => {
      const dir = mkdtempSync(join(tmpdir(), 'hzw-sp-bad-'));
      writeFileSync(join(dir, 'sparkplug.yaml'), 'nodes:\n  - group: [oops\n');
      expect(() => loadSparkplugConfig(dir, plant())).toThrow(/sparkplug\.yaml[\s\S]*line/);
    });

    it('names file, path and reason of every problem', () => {
      const bad = structuredClone(RAW) as { nodes: Record<string, unknown>[]; extra?: number };
      bad.extra = 1;
      bad.nodes.push({ group: 'P/1', node: 'gw-2', site: 'nowhere', devices: [] });
      (bad.nodes[0]!.devices as Record<string, unknown>[])[0]!.metrics = { 'Gas/Conc': 'level_pct' };
      (bad.nodes[0]!.devices as Record<string, unknown>[])[1]!.as = 'gd-9';
      (bad.nodes[0]!.devices as Record<string, unknown>[]).push({
        device: 'PLC3',
        as: 'gd-1',
        metrics: { a: 'conc' },
      });
      let err: ConfigError | undefined;
      try {
        parseSparkplugConfig(bad, plant(), '/cfg/sparkplug.yaml');
      } catch (e) {
        err = e as ConfigError;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect(err!.file).toBe('/cfg/sparkplug.yaml');
      const paths = err!.problems.map((p) => p.path);
      expect(paths).toEqual(
        expect.arrayContaining([
          'extra',
          'nodes[0].devices[0].metrics.Gas/Conc',
          'nodes[0].devices[1].as',
          'nodes[0].devices[3].as',
          'nodes[1].group',
          'nodes[1].site',
          'nodes[1].devices',
        ]),
      );
      expect(err!.message).toMatch(/must be a channel of gas_detector gd-1/);
      expect(err!.message).toMatch(/already mapped/);
    });
  });

  describe('host session', () => {
    let trackers: Map<string, DeviceTracker>;
    let sp: SparkplugProcessor;
    beforeEach(() => {
      trackers = new Map(
        ['s1/gd-1', 's1/gd-2', 's1/xv-1'].map((k) => [k, new DeviceTracker('s1', k.split('/')[1]!)]),
      );
      sp = new SparkplugProcessor(cfg(), { maxSkewMs: 300_000, futureToleranceMs: 5000 }, (k) =>
        trackers.get(k),
      );
    });
    const born = () => {
      sp.handle(topic('spBv1.0/Plant1/NBIRTH/gw-1'), nbirth(0), T0);
      return sp.handle(topic('spBv1.0/Plant1/DBIRTH/gw-1/PLC1'), dbirth1(1), T0);
    };

    it('NBIRTH/DBIRTH bring devices online with their values; DDATA by alias resolves to channels', () => {
      const n = sp.handle(topic('spBv1.0/Plant1/NBIRTH/gw-1'), nbirth(0), T0 + 10);
      expect(n.states).toEqual([{ key: 's1/xv-1', state: 'online' }]);
      expect(n.readings.map((r) => [r.deviceId, r.channel, r.value])).toEqual([['xv-1', 'position', 'open']]);
      expect(sp.session('Plant1', 'gw-1')!.bdSeq).toBe(7);
      const d = sp.handle(topic('spBv1.0/Plant1/DBIRTH/gw-1/PLC1'), dbirth1(1), T0 + 10);
      expect(d.states).toEqual([{ key: 's1/gd-1', state: 'online' }]);
      expect(d.readings.map((r) => [r.channel, r.value])).toEqual([
        ['conc', 0.5],
        ['fault', false],
      ]);
      expect(d.unmapped).toBe(1);
      expect(n.unmapped).toBe(0); // bdSeq and Node Control/* are session metrics, not unmapped data
      const x = sp.handle(
        topic('spBv1.0/Plant1/DDATA/gw-1/PLC1'),
        ddata(2, [
          { alias: 1, datatype: DataType.Float, value: 3.5, quality: 64 },
          { alias: 3, datatype: DataType.Int64, value: 13 },
        ]),
        T0 + 1010,
      );
      expect(x.rejects).toEqual([]);
      expect(x.rebirth).toBeUndefined();
      expect(x.readings).toEqual([
        {
          siteId: 's1',
          deviceId: 'gd-1',
          channel: 'conc',
          ts: T0 + 1000,
          value: 3.5,
          quality: 'uncertain',
          receivedAt: T0 + 1010,
        },
      ]);
    });

    it('an alias never announced is a dead letter and asks for a rebirth; good metrics of the message survive', () => {
      born();
      const x = sp.handle(
        topic('spBv1.0/Plant1/DDATA/gw-1/PLC1'),
        ddata(2, [
          { alias: 99, datatype: DataType.Float, value: 1 },
          { alias: 2, datatype: DataType.Boolean, value: true },
        ]),
        T0 + 1000,
      );
      expect(x.rejects).toEqual([
        { reason: 'sparkplug_unknown_alias', detail: expect.stringContaining('alias 99') },
      ]);
      expect(x.readings.map((r) => [r.channel, r.value])).toEqual([['fault', true]]);
      expect(x.rebirth).toEqual({ group: 'Plant1', node: 'gw-1', reason: 'unknown alias 99' });
    });

    it('an alias of another device of the node is not this device’s', () => {
      born();
      const x = sp.handle(
        topic('spBv1.0/Plant1/DDATA/gw-1/PLC2'),
        ddata(2, [{ alias: 1, datatype: DataType.Float, value: 1 }]),
        T0 + 1000,
      );
      expect(x.rejects.map((r) => r.reason)).toEqual(['sparkplug_unknown_alias']);
      expect(x.refused).toBe(true);
    });

    it('seq wraps 255 → 0 without a gap; a gap asks for a rebirth at most once per rebirthIntervalS', () => {
      born();
      let seq = 1;
      for (let i = 0; i < 300; i++) {
        seq = (seq + 1) & 0xff;
        const x = sp.handle(
          topic('spBv1.0/Plant1/DDATA/gw-1/PLC1'),
          ddata(seq, [{ alias: 1, datatype: DataType.Float, value: 1 }], T0 + i),
          T0 + i,
        );
        expect(x.rebirth).toBeUndefined();
      }
      const gap = sp.handle(
        topic('spBv1.0/Plant1/DDATA/gw-1/PLC1'),
        ddata((seq + 3) & 0xff, [{ alias: 1, datatype: DataType.Float, value: 2 }]),
        T0 + 1000,
      );
      expect(gap.seqGap).toBe(true);
      expect(gap.rebirth?.reason).toMatch(/^seq \d+ where \d+ was due$/);
      expect(gap.readings).toHaveLength(1); // the data of a message after a gap is still good
      const again = sp.handle(
        topic('spBv1.0/Plant1/DDATA/gw-1/PLC1'),
        ddata((seq + 9) & 0xff, [{ alias: 1, datatype: DataType.Float, value: 2 }]),
        T0 + 2000,
      );
      expect(again.seqGap).toBe(true);
      expect(again.rebirth).toBeUndefined();
      const later = sp.handle(
        topic('spBv1.0/Plant1/DDATA/gw-1/PLC1'),
        ddata((seq + 20) & 0xff, [{ alias: 1, datatype: DataType.Float, value: 2 }]),
        T0 + 1000 + 5000,
      );
      expect(later.rebirth).toBeDefined();
      expect(sp.session('Plant1', 'gw-1')!.seqGaps).toBe(3);
    });

    it('a redelivered message (same seq) is not a gap', () => {
      born();
      sp.handle(
        topic('spBv1.0/Plant1/DDATA/gw-1/PLC1'),
        ddata(2, [{ alias: 1, datatype: DataType.Float, value: 1 }]),
        T0,
      );
      const dup = sp.handle(
        topic('spBv1.0/Plant1/DDATA/gw-1/PLC1'),
        ddata(2, [{ alias: 1, datatype: DataType.Float, value: 1 }]),
        T0,
      );
      expect(dup.seqGap).toBe(false);
    });

    it('data before any birth (server restarted mid-session) asks for a rebirth; named metrics are still used', () => {
      const x = sp.handle(
        topic('spBv1.0/Plant1/DDATA/gw-1/PLC1'),
        ddata(40, [
          { name: 'Gas/Conc', datatype: DataType.Float, value: 1.5 },
          { alias: 1, datatype: DataType.Float, value: 1 },
        ]),
        T0 + 1000,
      );
      expect(x.rebirth?.reason).toBe('DDATA before any NBIRTH of this session');
      expect(x.readings.map((r) => r.value)).toEqual([1.5]);
      expect(x.rejects.map((r) => r.reason)).toEqual(['sparkplug_unknown_alias']);
    });

    it('DDEATH takes the device offline; NDEATH of the session takes all its devices offline; a stale NDEATH is ignored', () => {
      born();
      expect(
        sp.handle(
          topic('spBv1.0/Plant1/DDEATH/gw-1/PLC1'),
          encodePayload({ timestamp: T0, seq: 2, metrics: [] }),
          T0,
        ).states,
      ).toEqual([{ key: 's1/gd-1', state: 'offline' }]);
      const stale = sp.handle(
        topic('spBv1.0/Plant1/NDEATH/gw-1'),
        encodePayload({ metrics: [{ name: 'bdSeq', datatype: DataType.Int64, value: 6 }] }),
        T0,
      );
      expect(stale.states).toEqual([]);
      expect(sp.session('Plant1', 'gw-1')!.born).toBe(true);
      const death = sp.handle(
        topic('spBv1.0/Plant1/NDEATH/gw-1'),
        encodePayload({ metrics: [{ name: 'bdSeq', datatype: DataType.Int64, value: 7 }] }),
        T0,
      );
      expect(death.states.map((s) => s.key).sort()).toEqual(['s1/gd-1', 's1/gd-2', 's1/xv-1']);
      expect(death.states.every((s) => s.state === 'offline')).toBe(true);
      const s = sp.session('Plant1', 'gw-1')!;
      expect([s.born, s.aliases.size]).toEqual([false, 0]);
    });

    it('rejects garbage, unsupported types, nulls, wrong types and out-of-range values with their reasons', () => {
      born();
      const garbage = sp.handle(topic('spBv1.0/Plant1/DDATA/gw-1/PLC1'), Buffer.from([0x0a, 0xff, 0xff]), T0);
      expect([garbage.refused, garbage.rejects[0]!.reason]).toEqual([true, 'sparkplug_decode']);
      const x = sp.handle(
        topic('spBv1.0/Plant1/DDATA/gw-1/PLC1'),
        ddata(2, [
          { alias: 1, datatype: DataType.DataSet, raw: { dataset_value: new Uint8Array([8, 1]) } },
          { alias: 1, datatype: DataType.Float, value: null },
          { alias: 2, datatype: DataType.Float, value: 1 },
          { alias: 1, datatype: DataType.Float, value: 500 },
          { alias: 1, datatype: DataType.Float, value: 2 },
        ]),
        T0 + 1000,
      );
      expect(x.rejects.map((r) => r.reason)).toEqual([
        'sparkplug_unsupported',
        'sparkplug_null',
        'wrong_type',
        'out_of_range',
      ]);
      expect(x.readings.map((r) => r.value)).toEqual([2]);
    });

    it('unmapped nodes and devices are unknown devices', () => {
      expect(sp.handle(topic('spBv1.0/Plant1/NBIRTH/gw-9'), nbirth(0), T0).rejects[0]!.reason).toBe(
        'unknown_device',
      );
      born();
      const x = sp.handle(topic('spBv1.0/Plant1/DBIRTH/gw-1/PLC7'), dbirth1(2), T0);
      expect([x.refused, x.rejects[0]!.reason]).toEqual([true, 'unknown_device']);
    });

    it('metric times go through the device clock tracker: a clock far ahead is timed at arrival and flagged', () => {
      born();
      const arrival = T0 + 1000;
      const x = sp.handle(
        topic('spBv1.0/Plant1/DDATA/gw-1/PLC1'),
        ddata(
          2,
          [{ alias: 1, datatype: DataType.Float, value: 1, timestamp: arrival + 60_000 }],
          arrival + 60_000,
        ),
        arrival,
      );
      expect(x.readings[0]!.ts).toBe(arrival);
      // the metric's own time is its storage key across redeliveries (docs/adr/0027-retimed-readings-key.md)
      expect(x.readings[0]!.sourceTs).toBe(arrival + 60_000);
      expect(trackers.get('s1/gd-1')!.clock).toBe('ahead');
      const far = sp.handle(
        topic('spBv1.0/Plant1/DDATA/gw-1/PLC1'),
        ddata(3, [{ alias: 1, datatype: DataType.Float, value: 1 }], arrival + 3_600_000),
        arrival,
      );
      expect(far.rejects.map((r) => r.reason)).toEqual(['future_timestamp']);
      // historical metric with its own older time keeps it
      const hist = sp.handle(
        topic('spBv1.0/Plant1/DDATA/gw-1/PLC1'),
        ddata(
          4,
          [{ alias: 1, datatype: DataType.Float, value: 1, timestamp: arrival - 30_000, isHistorical: true }],
          arrival,
        ),
        arrival,
      );
      expect(hist.readings[0]!.ts).toBe(arrival - 30_000);
      expect(hist.readings[0]!.sourceTs).toBeUndefined();
    });
  });
});
