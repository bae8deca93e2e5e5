import { decodeTelemetry } from '../ingest/domain/decode';
import { deviceChannels } from './device-channels';

const NOW = Date.parse('2026-11-24T10:00:00.000Z');

const ctx = (kind: Parameters<typeof deviceChannels>[0]) => ({
  siteId: 's',
  deviceId: 'd',
  channels: deviceChannels(kind),
  receivedAt: NOW,
  maxSkewMs: 300_000,
});
const decode = (body: unknown, c: ReturnType<typeof ctx>) => decodeTelemetry(JSON.stringify(body), c);

describe('channel contract of the new device kinds', () => {
  it('should accept analog, discrete and weather readings and reject wrong types', () => {
    const analog = ctx({ kind: 'analog', ranges: { value: [0, 30] } });
    expect(decode({ ts: NOW, values: { value: 12.5 } }, analog).readings).toHaveLength(1);
    expect(decode({ ts: NOW, values: { value: 'high' } }, analog).rejects).toHaveLength(1);
    const discrete = ctx({ kind: 'discrete' });
    expect(decode({ ts: NOW, values: { state: false } }, discrete).readings).toHaveLength(1);
    expect(decode({ ts: NOW, values: { state: 1 } }, discrete).rejects).toHaveLength(1);
    const weather = ctx({ kind: 'weather' });
    expect(
      decode({ ts: NOW, values: { wind_speed_ms: 4.2, wind_dir_deg: 135 } }, weather).readings,
    ).toHaveLength(2);
  });

  it('should give a tank the boolean level_switch_hh channel only when it has an HH level switch', () => {
    expect(deviceChannels({ kind: 'tank' }).has('level_switch_hh')).toBe(false);
    const tank = ctx({ kind: 'tank', levelSwitchHHPct: 90 });
    expect(tank.channels.get('level_switch_hh')).toEqual({ type: 'boolean' });
    expect(
      decode({ ts: NOW, values: { level_pct: 50, level_switch_hh: false } }, tank).readings,
    ).toHaveLength(2);
  });
});
