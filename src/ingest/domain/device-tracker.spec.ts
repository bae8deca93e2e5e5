import { deviceChannels } from '../../config/device-channels';
import { decodeTelemetry, type DecodeContext } from './decode';
import { DeviceRegistry } from './device-registry';
import {
  DeviceTracker,
  linkView,
  newLinkTotals,
  SEQ_MAX_GAP,
  type ClockChange,
  type ClockSettings,
} from './device-tracker';

const NOW = Date.parse('2026-11-24T10:00:00.000Z');
const SETTINGS: ClockSettings = { futureToleranceMs: 5000, behindMs: 60_000, windowMs: 120_000 };

/** Feeds messages (claimed ts, seq, arrival) and records the times used and the clock changes. */
function feed(
  t: DeviceTracker,
  msgs: Array<[ts: number, seq: number, at: number]>,
): { used: number[]; changes: ClockChange[] } {
  const used: number[] = [];
  const changes: ClockChange[] = [];
  for (const [ts, seq, at] of msgs) {
    used.push(t.observe(ts, seq, at));
    if (t.changed) changes.push(t.change());
  }
  return { used, changes };
}

describe('DeviceTracker: clock', () => {
  it('should use a ts within the tolerance as sent and call the clock ok', () => {
    const t = new DeviceTracker('s', 'd', SETTINGS);
    const { used, changes } = feed(t, [
      [NOW - 300, 1, NOW],
      [NOW + 2000 + 4000, 2, NOW + 2000], // 4 s ahead: within 5 s
    ]);
    expect(used).toEqual([NOW - 300, NOW + 6000]);
    expect(changes.map((c) => c.state)).toEqual(['ok']);
    expect(t.clock).toBe('ok');
  });

  it('should time a message 280 s ahead at its arrival, raise ahead at once and clear after three good messages', () => {
    const totals = newLinkTotals();
    const t = new DeviceTracker('s', 'd', SETTINGS, totals);
    const { used, changes } = feed(t, [
      [NOW, 1, NOW],
      [NOW + 2000 + 280_000, 2, NOW + 2000],
      [NOW + 4000, 3, NOW + 4000],
      [NOW + 6000, 4, NOW + 6000],
      [NOW + 8000, 5, NOW + 8000],
    ]);
    expect(used).toEqual([NOW, NOW + 2000, NOW + 4000, NOW + 6000, NOW + 8000]);
    expect(changes).toEqual([
      { siteId: 's', deviceId: 'd', state: 'ok', offsetMs: 0, limitMs: 5000, ts: NOW },
      { siteId: 's', deviceId: 'd', state: 'ahead', offsetMs: 280_000, limitMs: 5000, ts: NOW + 2000 },
      { siteId: 's', deviceId: 'd', state: 'ok', offsetMs: 0, limitMs: 5000, ts: NOW + 8000 },
    ]);
    expect(totals).toMatchObject({ clockRetimed: 1, clockFaulty: 0 });
  });

  it('should keep a clock that stays ahead faulted and time every such message at arrival', () => {
    const totals = newLinkTotals();
    const t = new DeviceTracker('s', 'd', SETTINGS, totals);
    const msgs: Array<[number, number, number]> = [];
    for (let i = 0; i < 10; i++) msgs.push([NOW + i * 2000 + 120_000, i, NOW + i * 2000]);
    const { used, changes } = feed(t, msgs);
    expect(used).toEqual(msgs.map((m) => m[2]));
    expect(changes.map((c) => c.state)).toEqual(['ahead']);
    expect(totals).toMatchObject({ clockRetimed: 10, clockFaulty: 1 });
  });

  it('should find a clock consistently behind only after the window, then time its messages at arrival until it is right', () => {
    const t = new DeviceTracker('s', 'd', SETTINGS);
    const msgs: Array<[number, number, number]> = [];
    for (let i = 0; i <= 80; i++) msgs.push([NOW + i * 2000 - 600_000, -1, NOW + i * 2000]); // 10 min slow, no seq
    for (let i = 81; i <= 84; i++) msgs.push([NOW + i * 2000, -1, NOW + i * 2000]); // fixed (NTP)
    const { used, changes } = feed(t, msgs);
    // device time until the window (120 s = 60 messages) has passed, then arrival time
    expect(used.slice(0, 60)).toEqual(msgs.slice(0, 60).map((m) => m[0]));
    expect(used.slice(60, 81)).toEqual(msgs.slice(60, 81).map((m) => m[2]));
    expect(used.slice(81)).toEqual(msgs.slice(81).map((m) => m[0]));
    expect(changes.map((c) => [c.state, c.ts, c.offsetMs])).toEqual([
      ['behind', NOW + 60 * 2000, -600_000],
      ['ok', NOW + 83 * 2000, 0],
    ]);
  });

  it('should not call a burst of buffered old messages followed by live ones a clock fault', () => {
    const t = new DeviceTracker('s', 'd', SETTINGS);
    const msgs: Array<[number, number, number]> = [];
    // back after a 10 min outage: 300 buffered messages replayed within 3 s, then live ones
    for (let i = 0; i < 300; i++) msgs.push([NOW - 600_000 + i * 2000, i, NOW + i * 10]);
    for (let i = 0; i < 5; i++) msgs.push([NOW + 3000 + i * 2000, 300 + i, NOW + 3000 + i * 2000]);
    const { used, changes } = feed(t, msgs);
    expect(used).toEqual(msgs.map((m) => m[0])); // history keeps the device's times
    expect(changes.map((c) => c.state)).toEqual(['ok']);
  });

  it('should not call a broker backlog draining after a server restart a clock fault', () => {
    const t = new DeviceTracker('s', 'd', SETTINGS);
    const msgs: Array<[number, number, number]> = [];
    // 10 min of messages (one per 2 s) queued by the broker, delivered 4 times faster than they were sent
    for (let i = 0; i < 300; i++) msgs.push([NOW + i * 2000, i, NOW + 600_000 + i * 500]);
    const { used, changes } = feed(t, msgs);
    expect(used).toEqual(msgs.map((m) => m[0]));
    expect(changes).toEqual([]);
  });

  it('should see a clock stepping back between consecutive seqs at once', () => {
    const t = new DeviceTracker('s', 'd', SETTINGS);
    const { used, changes } = feed(t, [
      [NOW, 7, NOW],
      [NOW + 2000, 8, NOW + 2000],
      [NOW + 4000 - 3_600_000, 9, NOW + 4000], // RTC lost an hour; the device says this is the very next message
    ]);
    expect(used).toEqual([NOW, NOW + 2000, NOW + 4000]);
    expect(changes.map((c) => c.state)).toEqual(['ok', 'behind']);
  });
});

describe('DeviceTracker: sequence', () => {
  const seqs = (list: number[]): DeviceTracker => {
    const t = new DeviceTracker('s', 'd', SETTINGS);
    list.forEach((s, i) => t.observe(NOW + i * 1000, s, NOW + i * 1000));
    return t;
  };

  it('should count a forward jump as a gap with its missing messages', () => {
    const t = seqs([1, 2, 3, 7, 8, 10]);
    expect([t.seqGaps, t.seqMissing, t.lastSeq, t.seqRestarts]).toEqual([2, 4, 10, 0]);
  });

  it('should not count duplicates or redeliveries (equal or slightly lower) as gaps', () => {
    const t = seqs([1, 2, 3, 3, 2, 4, 5]);
    expect([t.seqGaps, t.seqMissing, t.lastSeq, t.seqDuplicates]).toEqual([0, 0, 5, 2]);
  });

  it('should read a big step back as a restart, not a gap, and count from there', () => {
    const t = seqs([5000, 5001, 0, 1, 2, 4]);
    expect([t.seqGaps, t.seqMissing, t.seqRestarts, t.lastSeq]).toEqual([1, 1, 1, 4]);
  });

  it('should read an absurd forward jump as a re-seeded counter, not as lost messages', () => {
    const t = seqs([1, 2 + SEQ_MAX_GAP + 1, 3 + SEQ_MAX_GAP + 1]);
    expect([t.seqGaps, t.seqMissing, t.seqRestarts]).toEqual([0, 0, 1]);
  });

  it('should ignore messages without seq', () => {
    const t = seqs([-1, -1, -1]);
    expect([t.seqGaps, t.lastSeq]).toEqual([0, -1]);
    expect(linkView(t)).toMatchObject({ lastSeq: null, seqGaps: 0, seqMissing: 0, clock: 'ok' });
  });

  it('should add every device into the fleet totals', () => {
    const reg = new DeviceRegistry(['s/a', 's/b'], SETTINGS);
    for (const [key, list] of [
      ['s/a', [1, 3]],
      ['s/b', [10, 20, 21]],
    ] as const)
      list.forEach((s, i) => reg.get(key)!.tracker.observe(NOW + i, s, NOW + i));
    expect(reg.totals).toMatchObject({ seqGaps: 2, seqMissing: 10 });
  });
});

describe('decodeTelemetry with a device tracker', () => {
  const tracker = new DeviceTracker('bohai-chem', 'cl-gd-1', SETTINGS);
  const ctx: DecodeContext = {
    siteId: 'bohai-chem',
    deviceId: 'cl-gd-1',
    channels: deviceChannels({ kind: 'gas_detector', ranges: { conc: [0, 20] } }),
    receivedAt: NOW,
    maxSkewMs: 300_000,
    tracker,
  };
  const decode = (body: unknown) => decodeTelemetry(Buffer.from(JSON.stringify(body)), ctx);

  it('should time the readings of a message 280 s ahead at arrival and report the offset', () => {
    const r = decode({ ts: NOW + 280_000, seq: 1, values: { conc: 0.4, fault: false } });
    expect(r.rejects).toEqual([]);
    expect(r.readings.map((x) => [x.channel, x.ts, x.receivedAt])).toEqual([
      ['conc', NOW, NOW],
      ['fault', NOW, NOW],
    ]);
    expect(tracker.clock).toBe('ahead');
    expect(linkView(tracker)).toMatchObject({
      clock: 'ahead',
      clockOffsetS: 280,
      lastSeq: 1,
      clockRetimed: 1,
    });
  });

  it('should still reject a ts beyond INGEST_MAX_SKEW_S (future_timestamp) without touching the tracker', () => {
    const r = decode({ ts: NOW + 301_000, seq: 2, values: { conc: 0.4 } });
    expect(r.readings).toEqual([]);
    expect(r.rejects.map((x) => x.reason)).toEqual(['future_timestamp']);
    expect(tracker.lastSeq).toBe(1);
  });
});
