import { TestScheduler } from 'rxjs/testing';
import { beyondLimit, deadband } from './deadband';
import { dropLate } from './late-readings.operator';
import { onOffDelay } from './on-off-delay';

const scheduler = (): TestScheduler => new TestScheduler((a, e) => expect(a).toEqual(e));

describe('deadband', () => {
  it('should return to normal only past limit − band when a high limit is active', () => {
    expect(beyondLimit(false, 89.9, 90, 5, 'high')).toBe(false);
    expect(beyondLimit(false, 90, 90, 5, 'high')).toBe(true);
    expect(beyondLimit(true, 85.1, 90, 5, 'high')).toBe(true);
    expect(beyondLimit(true, 85, 90, 5, 'high')).toBe(false);
  });

  it('should return to normal only past limit + band when a low limit is active', () => {
    expect(beyondLimit(false, 10, 10, 2, 'low')).toBe(true);
    expect(beyondLimit(true, 11.9, 10, 2, 'low')).toBe(true);
    expect(beyondLimit(true, 12, 10, 2, 'low')).toBe(false);
  });

  it('should emit one change per real crossing when the input chatters around the limit', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('abcdefg', { a: 80, b: 90, c: 88, d: 91, e: 86, f: 85, g: 90 });
      expectObservable(src.pipe(deadband(90, 5, 'high'))).toBe('ab---fg', {
        a: false,
        b: true,
        f: false,
        g: true,
      });
    });
  });
});

describe('onOffDelay', () => {
  it('should raise after the on-delay and clear after the off-delay when the signal holds', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const src = hot('a 4999ms b', { a: { active: true, ts: 0 }, b: { active: false, ts: 5000 } });
      expectObservable(src.pipe(onOffDelay(2000, 1000, ts))).toBe('2s x 3999ms y', {
        x: { active: true, ts: 2000 },
        y: { active: false, ts: 6000 },
      });
    });
  });

  it('should suppress a chattering signal that never holds for the on-delay', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const t = (active: boolean, at: number) => ({ active, ts: at });
      const src = hot('a 499ms b 499ms c 499ms d', {
        a: t(true, 0),
        b: t(false, 500),
        c: t(true, 1000),
        d: t(false, 1500),
      });
      expectObservable(src.pipe(onOffDelay(1000, 0, ts))).toBe('', {});
    });
  });

  it('should raise at once when the on-delay is zero', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      expectObservable(hot('a', { a: { active: true, ts: 0 } }).pipe(onOffDelay(0, 0, ts))).toBe('x', {
        x: { active: true, ts: 0 },
      });
    });
  });
});

describe('dropLate', () => {
  it('should pass in-order and tolerably late readings and report the ones beyond the tolerance', () => {
    const late: Array<[number, number]> = [];
    scheduler().run(({ cold, expectObservable }) => {
      const r = (ts: number) => ({ ts });
      const src = cold('abcde', { a: r(1000), b: r(2000), c: r(1500), d: r(900), e: r(2500) });
      expectObservable(src.pipe(dropLate(500, (x, lag) => late.push([x.ts, lag])))).toBe('abc-e', {
        a: r(1000),
        b: r(2000),
        c: r(1500),
        e: r(2500),
      });
    });
    expect(late).toEqual([[900, 1100]]);
  });

  it('should pass a message batch whole when all are admitted, only its admitted readings otherwise, and nothing when none is', () => {
    const late: number[] = [];
    const activity = { seen: false };
    const r = (ts: number) => ({ ts });
    const whole = [r(1000), r(1000)];
    scheduler().run(({ cold, expectObservable }) => {
      const src = cold('abc', { a: whole, b: [r(3000), r(1000), r(2900)], c: [r(100), r(200)] });
      expectObservable(src.pipe(dropLate(500, (x) => late.push(x.ts), activity))).toBe('ab-', {
        a: whole,
        b: [r(3000), r(2900)],
      });
    });
    expect(late).toEqual([1000, 100, 200]);
    expect(activity.seen).toBe(true);
  });
});
