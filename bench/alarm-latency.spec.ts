import {
  alarmVerdictOk,
  formatAlarmTable,
  matchReceipts,
  percentile,
  probeKey,
  publishKey,
  stats,
  type ProbePublish,
  type Receipt,
} from './alarm-latency';

const target = { siteId: 'bench-r-probe', deviceId: 'probe-gd', condition: 'gas_l2' };
const T = Date.UTC(2026, 0, 1, 8, 0, 0);

describe('percentile', () => {
  it('should take the nearest rank, so p99 of 100 values is the 99th and of 10 values the largest', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 0.5)).toBe(50);
    expect(percentile(hundred, 0.99)).toBe(99);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99)).toBe(10);
    expect(percentile([7], 0.5)).toBe(7);
  });

  it('should give null for no values', () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(stats([])).toEqual({ count: 0, p50Ms: null, p99Ms: null, maxMs: null, minMs: null, meanMs: null });
  });

  it('should sort before ranking when stats get unsorted values', () => {
    expect(stats([30, 10, 20])).toMatchObject({ count: 3, p50Ms: 20, maxMs: 30, minMs: 10, meanMs: 20 });
  });
});

describe('probeKey', () => {
  const frame = (over: Record<string, unknown>) => ({
    ...target,
    event: 'raised',
    raisedAt: new Date(T).toISOString(),
    seq: 7,
    ...over,
  });

  it('should key a raised event by its raisedAt and a cleared one by its clearedAt, as the publish is keyed', () => {
    expect(probeKey(frame({}), target)).toBe(publishKey({ kind: 'raised', ts: T }));
    expect(probeKey(frame({ event: 'cleared', clearedAt: new Date(T + 500).toISOString() }), target)).toBe(
      publishKey({ kind: 'cleared', ts: T + 500 }),
    );
  });

  it('should ignore other devices, sites, conditions and event types', () => {
    expect(probeKey(frame({ deviceId: 'gd-1' }), target)).toBeNull();
    expect(probeKey(frame({ siteId: 'bench-r-s0' }), target)).toBeNull();
    expect(probeKey(frame({ condition: 'gas_l1' }), target)).toBeNull();
    expect(probeKey(frame({ event: 'acknowledged' }), target)).toBeNull();
    expect(probeKey(frame({ event: 'cleared' }), target)).toBeNull(); // no clearedAt
  });
});

describe('matchReceipts', () => {
  const pubs: ProbePublish[] = [
    { kind: 'raised', ts: T, publishedAtMs: 1000 },
    { kind: 'cleared', ts: T + 500, publishedAtMs: 1500 },
  ];
  const r = (client: number, p: ProbePublish, after: number): Receipt => ({
    client,
    key: publishKey(p),
    receivedAtMs: p.publishedAtMs + after,
  });

  it('should compute one latency per (event, client) and the first/last client per event', () => {
    const res = matchReceipts(
      pubs,
      [r(0, pubs[0]!, 3), r(1, pubs[0]!, 9), r(0, pubs[1]!, 2), r(1, pubs[1]!, 4)],
      2,
    );
    expect(res).toMatchObject({
      events: 2,
      clients: 2,
      expectedPairs: 4,
      receivedPairs: 4,
      missingPairs: 0,
      duplicatePairs: 0,
      unmatchedFrames: 0,
    });
    expect(res.all).toMatchObject({ count: 4, p50Ms: 3, p99Ms: 9, maxMs: 9, minMs: 2 });
    expect(res.raised).toMatchObject({ count: 2, maxMs: 9 });
    expect(res.cleared).toMatchObject({ count: 2, maxMs: 4 });
    expect(res.firstClient).toMatchObject({ count: 2, minMs: 2, maxMs: 3 });
    expect(res.lastClient).toMatchObject({ count: 2, minMs: 4, maxMs: 9 });
    expect(alarmVerdictOk(res)).toBe(true);
  });

  it('should count missing pairs, ignore a duplicate receipt and count frames of no publish as unmatched', () => {
    const res = matchReceipts(
      pubs,
      [
        r(0, pubs[0]!, 3),
        r(0, pubs[0]!, 50),
        r(1, pubs[0]!, 4),
        { client: 0, key: `raised|${T - 1000}`, receivedAtMs: 1 },
      ],
      2,
    );
    expect(res).toMatchObject({ receivedPairs: 2, missingPairs: 2, duplicatePairs: 1, unmatchedFrames: 1 });
    expect(res.all.maxMs).toBe(4);
    expect(alarmVerdictOk(res)).toBe(false);
    expect(formatAlarmTable(res, { targetRate: 10_000, achievedRate: 9_990 })).toContain('MISSING: 2 of 4');
  });

  it('should fail the verdict when p99 reaches the 50 ms target', () => {
    const slow = matchReceipts(pubs.slice(0, 1), [r(0, pubs[0]!, 50)], 1);
    expect(alarmVerdictOk(slow)).toBe(false);
    expect(formatAlarmTable(slow, { targetRate: 10_000, achievedRate: 10_000 })).toContain(
      'over target: p99 50.0 ms',
    );
  });
});
