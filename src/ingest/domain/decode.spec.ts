import { deviceChannels } from '../../config/device-channels';
import {
  decodeState,
  decodeTelemetry,
  MAX_PAYLOAD_BYTES,
  parseTimestamp,
  REJECT_REASONS,
  type DecodeContext,
} from './decode';
import { DeviceTracker } from './device-tracker';
import { parseTopic } from './telemetry-contract';

const NOW = Date.parse('2026-11-24T10:00:00.000Z');
const gas: DecodeContext = {
  siteId: 'bohai-chem',
  deviceId: 'cl-gd-1',
  channels: deviceChannels({ kind: 'gas_detector', ranges: { conc: [0, 20] } }),
  receivedAt: NOW,
  maxSkewMs: 300_000,
};
const valve: DecodeContext = {
  ...gas,
  deviceId: 'cl-xv-1',
  channels: deviceChannels({ kind: 'shutoff_valve' }),
};

const decode = (body: unknown, ctx = gas) =>
  decodeTelemetry(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), ctx);

describe('decodeTelemetry: re-timed readings keep the device time (docs/adr/0027-retimed-readings-key.md)', () => {
  it('should set sourceTs to the sent ts only when the tracker re-times the message to its arrival', () => {
    const tracker = new DeviceTracker('bohai-chem', 'cl-gd-1');
    const ahead = decode({ ts: NOW + 60_000, seq: 1, values: { conc: 1 } }, { ...gas, tracker });
    expect(ahead.readings.map((r) => [r.ts, r.sourceTs])).toEqual([[NOW, NOW + 60_000]]);
    // a redelivery a second later: another ts, the same sourceTs
    const again = decode(
      { ts: NOW + 60_000, seq: 1, values: { conc: 1 } },
      { ...gas, receivedAt: NOW + 1000, tracker },
    );
    expect(again.readings.map((r) => [r.ts, r.sourceTs])).toEqual([[NOW + 1000, NOW + 60_000]]);
    const right = decode({ ts: NOW - 10, seq: 2, values: { conc: 1 } }, { ...gas, tracker });
    expect(right.readings.map((r) => [r.ts, r.sourceTs])).toEqual([[NOW - 10, undefined]]);
  });
});

describe('parseTopic', () => {
  it('should parse telemetry and state topics', () => {
    expect(parseTopic('hazwatch/v1/bohai-chem/cl-gd-1/telemetry')).toEqual({
      kind: 'telemetry',
      siteId: 'bohai-chem',
      deviceId: 'cl-gd-1',
    });
    expect(parseTopic('hazwatch/v1/s_1/D-2/state')).toEqual({
      kind: 'state',
      siteId: 's_1',
      deviceId: 'D-2',
    });
  });

  it.each([
    'hazwatch/v2/s/d/telemetry',
    'hazwatch/v1/s/d/other',
    'hazwatch/v1/s/d/telemetry/extra',
    'hazwatch/v1/s/telemetry',
    'hazwatch/v1/s p/d/telemetry',
    `hazwatch/v1/${'x'.repeat(65)}/d/telemetry`,
  ])('should refuse %s', (topic) => {
    expect(parseTopic(topic)).toBeNull();
  });
});

describe('decodeTelemetry', () => {
  it('should accept a gas detector message with epoch ms and two values', () => {
    const r = decode({ ts: NOW - 1000, seq: 42, values: { conc: 0.4, fault: false }, quality: 'good' });
    expect(r.rejects).toEqual([]);
    expect(r.seq).toBe(42);
    expect(r.readings).toEqual([
      {
        siteId: 'bohai-chem',
        deviceId: 'cl-gd-1',
        channel: 'conc',
        ts: NOW - 1000,
        value: 0.4,
        quality: 'good',
        receivedAt: NOW,
        seq: 42,
      },
      {
        siteId: 'bohai-chem',
        deviceId: 'cl-gd-1',
        channel: 'fault',
        ts: NOW - 1000,
        value: false,
        quality: 'good',
        receivedAt: NOW,
        seq: 42,
      },
    ]);
  });

  it('should accept an ISO timestamp with zone and default quality to good', () => {
    const r = decode({ ts: '2026-11-24T18:00:00.123+08:00', values: { conc: 1 } });
    expect(r.readings[0]).toMatchObject({ ts: NOW + 123, quality: 'good' });
  });

  it('should keep bad-quality readings (rules decide what bad quality means)', () => {
    expect(decode({ ts: NOW, values: { conc: 1 }, quality: 'bad' }).readings[0]?.quality).toBe('bad');
  });

  it('should accept a value beyond the instrument span but inside physical limits (over-range is for the rules)', () => {
    expect(decode({ ts: NOW, values: { conc: 21.5 } }).readings).toHaveLength(1);
  });

  it('should accept valve enums', () => {
    expect(
      decode({ ts: NOW, values: { position: 'moving', demand: 'closed' } }, valve).readings.map(
        (x) => x.value,
      ),
    ).toEqual(['moving', 'closed']);
  });

  // One test per reject reason.
  it('should reject payload_too_large when the payload exceeds the limit', () => {
    const r = decode(JSON.stringify({ ts: NOW, values: { conc: 1 }, pad: 'x'.repeat(MAX_PAYLOAD_BYTES) }));
    expect(r.rejects).toEqual([{ reason: 'payload_too_large', detail: expect.any(String) }]);
    expect(r.readings).toEqual([]);
  });

  it.each(['{"ts": 1', 'not json', '', '\u0000\u0001'])('should reject invalid_json for %j', (body) => {
    expect(decode(body).rejects[0]?.reason).toBe('invalid_json');
  });

  it.each([
    ['an array', [1, 2]],
    ['a number', 7],
    ['null', null],
    ['missing values', { ts: NOW }],
    ['values as array', { ts: NOW, values: [1] }],
    ['empty values', { ts: NOW, values: {} }],
    ['bad quality', { ts: NOW, values: { conc: 1 }, quality: 'excellent' }],
    ['negative seq', { ts: NOW, seq: -1, values: { conc: 1 } }],
    ['fractional seq', { ts: NOW, seq: 1.5, values: { conc: 1 } }],
    ['missing ts', { values: { conc: 1 } }],
  ])('should reject invalid_schema for %s', (_name, body) => {
    const r = decode(body);
    expect(r.rejects.map((x) => x.reason)).toEqual(['invalid_schema']);
    expect(r.readings).toEqual([]);
  });

  it.each([
    ['a word', 'yesterday'],
    ['a date without zone', '2026-11-24T10:00:00'],
    ['seconds since 1970', 1732400000],
    ['NaN-ish', 'NaN'],
    ['a boolean', true],
  ])('should reject bad_timestamp for %s', (_name, ts) => {
    expect(decode({ ts, values: { conc: 1 } }).rejects[0]?.reason).toBe('bad_timestamp');
  });

  it('should reject future_timestamp beyond the allowed skew, and accept within it', () => {
    expect(decode({ ts: NOW + 301_000, values: { conc: 1 } }).rejects[0]?.reason).toBe('future_timestamp');
    expect(decode({ ts: NOW + 299_000, values: { conc: 1 } }).rejects).toEqual([]);
  });

  it('should reject unknown_channel but keep the good channels of the same message', () => {
    const r = decode({ ts: NOW, values: { conc: 2, level_pct: 50 } });
    expect(r.rejects.map((x) => x.reason)).toEqual(['unknown_channel']);
    expect(r.readings.map((x) => x.channel)).toEqual(['conc']);
  });

  it.each([
    ['a string for a number', { conc: '2' }],
    ['a number for a boolean', { fault: 1 }],
    ['Infinity-like', { conc: null }],
  ])('should reject wrong_type for %s', (_name, values) => {
    expect(decode({ ts: NOW, values }).rejects[0]?.reason).toBe('wrong_type');
  });

  it('should reject wrong_type for an unknown enum value and keep the valid one', () => {
    const r = decode({ ts: NOW, values: { position: 'ajar', demand: 'open' } }, valve);
    expect(r.rejects.map((x) => x.reason)).toEqual(['wrong_type']);
    expect(r.readings.map((x) => x.channel)).toEqual(['demand']);
  });

  it('should reject out_of_range beyond physical limits (span ± 25 %)', () => {
    expect(decode({ ts: NOW, values: { conc: 25.1 } }).rejects[0]?.reason).toBe('out_of_range');
    expect(decode({ ts: NOW, values: { conc: -5.1 } }).rejects[0]?.reason).toBe('out_of_range');
    expect(decode({ ts: NOW, values: { conc: 25 } }).rejects).toEqual([]);
  });
});

describe('decodeState', () => {
  it('should accept bare and JSON-quoted states', () => {
    expect(decodeState(Buffer.from('online'))).toBe('online');
    expect(decodeState(Buffer.from('"offline"'))).toBe('offline');
  });
  it('should refuse anything else (bad_state)', () => {
    expect(decodeState(Buffer.from('up'))).toBeNull();
  });
});

describe('parseTimestamp', () => {
  it('should refuse timestamps before 2000 (unset device clock)', () => {
    expect(parseTimestamp(0)).toBeNull();
    expect(parseTimestamp('1999-12-31T23:59:59Z')).toBeNull();
  });
});

it('should list every reject reason once', () => {
  expect(new Set(REJECT_REASONS).size).toBe(REJECT_REASONS.length);
});
