import { TestScheduler } from 'rxjs/testing';
import type { TelemetryDto } from './client-events';
import { TelemetryCoalescer, type ReadingLike } from './telemetry.coalescer';

const r = (channel: string, value: number | string | boolean, ts: number, deviceId = 'd1'): ReadingLike => ({
  siteId: 's1',
  deviceId,
  channel,
  value,
  ts,
});

describe('TelemetryCoalescer', () => {
  let scheduler: TestScheduler;
  beforeEach(() => {
    scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
  });

  /** Runs `at` callbacks at virtual times and returns [virtual time, frame] pairs. */
  function drive(
    steps: Array<[number, (c: TelemetryCoalescer) => void]>,
    intervalMs = 250,
    until = 5_000,
  ): Array<[number, TelemetryDto]> {
    const frames: Array<[number, TelemetryDto]> = [];
    scheduler.run(() => {
      const c = new TelemetryCoalescer((f) => frames.push([scheduler.now(), f]), scheduler, intervalMs);
      for (const [t, fn] of steps) scheduler.schedule(() => fn(c), t);
      scheduler.schedule(() => undefined, until);
    });
    return frames;
  }

  it('should send all channels of one message in one frame when they arrive together', () => {
    const frames = drive([
      [
        0,
        (c) => {
          c.offer(r('level_pct', 40, 1000));
          c.offer(r('temp_c', 12, 1000));
          c.offer(r('pressure_kpa', 300, 1000));
        },
      ],
    ]);
    expect(frames).toEqual([
      [
        0,
        { siteId: 's1', deviceId: 'd1', ts: 1000, values: { level_pct: 40, temp_c: 12, pressure_kpa: 300 } },
      ],
    ]);
  });

  it('should send at most 4 frames per second per device with the latest value winning when readings arrive at 100 Hz', () => {
    const steps: Array<[number, (c: TelemetryCoalescer) => void]> = [];
    for (let t = 0; t < 1000; t += 10) steps.push([t, (c) => c.offer(r('conc', t, t))]);
    const frames = drive(steps);
    const inFirstSecond = frames.filter(([t]) => t < 1000);
    expect(inFirstSecond.map(([t]) => t)).toEqual([0, 250, 500, 750]);
    // each frame carries the newest value available when it was flushed (the reading at 250 lands before the flush at 250)
    expect(inFirstSecond.map(([, f]) => f.values.conc)).toEqual([0, 250, 500, 750]);
    // the trailing value is not lost
    expect(frames.at(-1)?.[1].values.conc).toBe(990);
  });

  it('should rate-limit each device independently when two devices are busy', () => {
    const frames = drive([
      [0, (c) => c.offer(r('conc', 1, 0, 'a'))],
      [10, (c) => c.offer(r('conc', 2, 10, 'b'))],
      [20, (c) => c.offer(r('conc', 3, 20, 'a'))],
    ]);
    expect(frames.map(([t, f]) => [t, f.deviceId, f.values.conc])).toEqual([
      [0, 'a', 1],
      [10, 'b', 2],
      [250, 'a', 3],
    ]);
  });

  it('should keep the newest event time as ts when readings arrive out of order', () => {
    const frames = drive([
      [
        0,
        (c) => {
          c.offer(r('conc', 1, 2000));
          c.offer(r('fault', false, 1500));
        },
      ],
    ]);
    expect(frames[0]?.[1].ts).toBe(2000);
  });

  it('should send immediately after a quiet period longer than the interval', () => {
    const frames = drive([
      [0, (c) => c.offer(r('conc', 1, 0))],
      [1000, (c) => c.offer(r('conc', 2, 1000))],
    ]);
    expect(frames.map(([t]) => t)).toEqual([0, 1000]);
  });

  it('should send nothing more when the device is forgotten with a frame pending', () => {
    const frames = drive([
      [0, (c) => c.offer(r('conc', 1, 0))],
      [10, (c) => c.offer(r('conc', 2, 10))],
      [20, (c) => c.forget('s1', 'd1')],
    ]);
    expect(frames.map(([t]) => t)).toEqual([0]);
  });

  it('should cancel every pending frame when disposed', () => {
    const frames = drive([
      [0, (c) => c.offer(r('conc', 1, 0))],
      [10, (c) => c.offer(r('conc', 2, 10))],
      [20, (c) => c.offer(r('conc', 3, 20, 'x'))],
      [30, (c) => c.offer(r('conc', 4, 30, 'x'))],
      [100, (c) => c.dispose()],
    ]);
    expect(frames.map(([t, f]) => [t, f.deviceId])).toEqual([
      [0, 'd1'],
      [20, 'x'],
    ]);
  });
});
