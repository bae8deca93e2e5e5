import type { PoolClient } from 'pg';
import { ManualScheduler } from '../common/testing/manual.scheduler';
import { ManualClock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { CopyRowEncoder } from './copy-row.encoder';
import { LateDataSink, RollupRefresher, formatCopyTime, lateRange } from './rollup-refresh';
import type { TelemetrySink } from './telemetry.sink';

const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);
const H = 3_600_000;

/** A connection lender that records the refresh calls (or fails them). */
function lender(fail: () => boolean = () => false) {
  const calls: Array<[Date, Date]> = [];
  let released = 0;
  const db = {
    timescale: true,
    acquire: (): Promise<PoolClient> =>
      Promise.resolve({
        query: (text: string, params: [Date, Date]) => {
          if (!text.includes('refresh_continuous_aggregate'))
            return Promise.reject(new Error(`unexpected ${text}`));
          if (fail()) return Promise.reject(new Error('could not refresh'));
          calls.push(params);
          return Promise.resolve({ rows: [] });
        },
        release: () => void released++,
      } as unknown as PoolClient),
  };
  return { db, calls, released: () => released };
}

function copyLines(times: number[]): string {
  const enc = new CopyRowEncoder();
  return times
    .map((ts, i) => {
      const line = enc.encode({
        siteId: 's',
        deviceId: 'd',
        channel: 'c',
        ts,
        value: i,
        quality: 'good',
        receivedAt: NOW,
        seq: i,
      });
      if (typeof line !== 'string') throw new Error(line.error);
      return line;
    })
    .join('');
}

describe('late telemetry and telemetry_1m', () => {
  beforeAll(() => JsonLogger.setLevel('error'));

  it('should find the range of lines older than the limit in encoder output, as text and as bytes', () => {
    const text = copyLines([NOW - 10 * 60_000, NOW - 5 * H, NOW - 3 * H - 1, NOW - 26 * H + 7]);
    expect(lateRange(text, NOW - 2 * H)).toEqual({ min: NOW - 26 * H + 7, max: NOW - 3 * H - 1 });
    expect(lateRange(Buffer.from(text, 'utf8'), NOW - 2 * H)).toEqual({
      min: NOW - 26 * H + 7,
      max: NOW - 3 * H - 1,
    });
    expect(lateRange(copyLines([NOW, NOW - 60_000]), NOW - 2 * H)).toBeUndefined();
    expect(formatCopyTime(Date.UTC(2026, 0, 2, 3, 4, 5, 6))).toBe('2026-01-02 03:04:05.006+00');
  });

  it('should refresh once, debounced, over whole minutes covering every late row noted meanwhile', async () => {
    const clock = new ManualClock(NOW);
    const scheduler = new ManualScheduler(clock);
    const { db, calls, released } = lender();
    const metrics = new HazwatchMetrics(false);
    const r = new RollupRefresher({ db, clock, scheduler, debounceMs: 30_000, metrics });
    r.note(NOW - 5 * H + 30_500, NOW - 5 * H + 40_000);
    await scheduler.advance(10_000);
    r.note(NOW - 9 * H + 1, NOW - 4 * H - 59_999);
    expect(calls).toHaveLength(0);
    await scheduler.advance(20_000);
    expect(calls).toEqual([[new Date(NOW - 9 * H), new Date(NOW - 4 * H)]]);
    expect(released()).toBe(1);
    expect(r.pendingRange()).toBeUndefined();
    expect(
      (await metrics.registry.getSingleMetric('hazwatch_storage_rollup_refreshes_total')!.get()).values,
    ).toEqual([expect.objectContaining({ labels: { result: 'ok' }, value: 1 })]);
    await scheduler.advance(60_000);
    expect(calls).toHaveLength(1);
  });

  it('should keep the range of a failed refresh and retry it after the next wait', async () => {
    const clock = new ManualClock(NOW);
    const scheduler = new ManualScheduler(clock);
    let failing = true;
    const { db, calls } = lender(() => failing);
    const r = new RollupRefresher({ db, clock, scheduler, debounceMs: 30_000 });
    r.note(NOW - 6 * H, NOW - 6 * H);
    await scheduler.advance(30_000);
    expect(calls).toHaveLength(0);
    expect(r.pendingRange()).toEqual({ min: NOW - 6 * H, max: NOW - 6 * H });
    failing = false;
    await scheduler.advance(30_000);
    expect(calls).toEqual([[new Date(NOW - 6 * H), new Date(NOW - 6 * H + 60_000)]]);
  });

  it('should report late rows only after their COPY committed, and look at no line on the plain path', async () => {
    const clock = new ManualClock(NOW);
    const scheduler = new ManualScheduler(clock);
    const { db, calls } = lender();
    const r = new RollupRefresher({ db, clock, scheduler, debounceMs: 1000 });
    let failCopy = true;
    const inner: TelemetrySink = {
      copy: () => (failCopy ? Promise.reject(new Error('database gone')) : Promise.resolve()),
    };
    const sink = new LateDataSink(inner, r);
    const late = copyLines([NOW - 3 * H, NOW]);
    await expect(sink.copy(late, 2)).rejects.toThrow('database gone');
    expect(r.pendingRange()).toBeUndefined();
    failCopy = false;
    await sink.copy(late, 2);
    expect(r.pendingRange()).toEqual({ min: NOW - 3 * H, max: NOW - 3 * H });
    // rows within the policy window (minus its margin) are the policy's business
    await sink.copy(copyLines([NOW - 2 * H + 11 * 60_000]), 1);
    expect(r.pendingRange()).toEqual({ min: NOW - 3 * H, max: NOW - 3 * H });
    await sink.close();
    expect(calls).toEqual([[new Date(NOW - 3 * H), new Date(NOW - 3 * H + 60_000)]]);

    const plain = { ...db, timescale: false };
    const r2 = new RollupRefresher({ db: plain, clock, scheduler, debounceMs: 1000 });
    await new LateDataSink(inner, r2).copy(late, 2);
    expect(r2.pendingRange()).toBeUndefined();
    expect(scheduler.pending).toBe(0);
  });
});
