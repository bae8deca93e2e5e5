import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { readingAt } from '../../../test/factories/reading.factory';
import { makeLimitRule, makeLimitSpec } from '../../../test/factories/rule.factory';
import type { ConditionChange } from './condition';
import { createLimitMachine } from './limit.rule';
import { runMachine } from './rule-machine';

const short = (c: ConditionChange): string => `${c.condition}${c.active ? '+' : '-'}@${c.ts}`;

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('limit rule', () => {
  it('should raise at the limit and clear only past the deadband when the value hovers around the limit', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const rule = makeLimitRule([makeLimitSpec({ value: 90, deadband: 5 })]);
      // 80 → 90 (raise) → 88, 86 (inside the deadband: stay) → 85 (clear)
      const src = hot('a 9ms b 9ms c 9ms d 9ms e', {
        a: readingAt(0, 80),
        b: readingAt(10, 90),
        c: readingAt(20, 88),
        d: readingAt(30, 86),
        e: readingAt(40, 85),
      });
      const out = src.pipe(
        runMachine(() => createLimitMachine(rule), { scheduler: ts }),
        map(short),
      );
      expectObservable(out).toBe('10ms x 29ms y', { x: 'HH+@10', y: 'HH-@40' });
    });
  });

  it('should not chatter when a noisy value crosses the limit repeatedly inside the deadband', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const rule = makeLimitRule([makeLimitSpec({ value: 90, deadband: 5 })]);
      const values = [89, 91, 89, 90.5, 87, 92, 86];
      const marbles = values.map((_, i) => String.fromCharCode(97 + i)).join(' 9ms ');
      const data = Object.fromEntries(
        values.map((v, i) => [String.fromCharCode(97 + i), readingAt(i * 10, v)]),
      );
      const out = hot(marbles, data).pipe(
        runMachine(() => createLimitMachine(rule), { scheduler: ts }),
        map(short),
      );
      expectObservable(out).toBe('10ms x', { x: 'HH+@10' });
    });
  });

  it('should raise only after the on-delay when the value stays above the limit, from a timer when no reading comes', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const rule = makeLimitRule([
        makeLimitSpec({ condition: 'gas_l2', value: 2, deadband: 0.2, onDelayMs: 3000 }),
      ]);
      const out = hot('a', { a: readingAt(0, 3) }).pipe(
        runMachine(() => createLimitMachine(rule), { scheduler: ts }),
        map(short),
      );
      expectObservable(out).toBe('3s x', { x: 'gas_l2+@3000' });
    });
  });

  it('should not raise when a spike is shorter than the on-delay (chattering input)', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const rule = makeLimitRule([
        makeLimitSpec({ condition: 'gas_l2', value: 2, deadband: 0.2, onDelayMs: 3000 }),
      ]);
      // above, below, above, below … every second: never above for 3 s
      const src = hot('a 999ms b 999ms c 999ms d 999ms e 999ms f', {
        a: readingAt(0, 3),
        b: readingAt(1000, 1),
        c: readingAt(2000, 3),
        d: readingAt(3000, 1),
        e: readingAt(4000, 3),
        f: readingAt(5000, 1),
      });
      const out = src.pipe(
        runMachine(() => createLimitMachine(rule), { scheduler: ts }),
        map(short),
      );
      expectObservable(out).toBe('', {});
    });
  });

  it('should hold the alarm for the off-delay and cancel the clear when the value returns', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const rule = makeLimitRule([makeLimitSpec({ value: 90, deadband: 5, offDelayMs: 2000 })]);
      const src = hot('a 999ms b 999ms c 999ms d', {
        a: readingAt(0, 95),
        b: readingAt(1000, 80),
        c: readingAt(2000, 95),
        d: readingAt(3000, 80),
      });
      const out = src.pipe(
        runMachine(() => createLimitMachine(rule), { scheduler: ts }),
        map(short),
      );
      // raise at 0; clear pending at 1000 cancelled at 2000; clear pending at 3000 completes at 5000
      expectObservable(out).toBe('x 4999ms y', { x: 'HH+@0', y: 'HH-@5000' });
    });
  });

  it('should evaluate each limit with its own priority when H and HH are configured', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const rule = makeLimitRule([
        makeLimitSpec({ condition: 'H', value: 85, priority: 'medium' }),
        makeLimitSpec({ condition: 'HH', value: 90, priority: 'high' }),
      ]);
      const src = hot('a 9ms b 9ms c', { a: readingAt(0, 86), b: readingAt(10, 91), c: readingAt(20, 70) });
      const out = src.pipe(
        runMachine(() => createLimitMachine(rule), { scheduler: ts }),
        map((c) => `${short(c)}/${c.priority}`),
      );
      expectObservable(out).toBe('a 9ms b 9ms (cd)', {
        a: 'H+@0/medium',
        b: 'HH+@10/high',
        c: 'H-@20/medium',
        d: 'HH-@20/high',
      });
    });
  });

  it('should raise a low limit when the value falls to it', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const rule = makeLimitRule([
        makeLimitSpec({ condition: 'LL', direction: 'low', value: 5, deadband: 2 }),
      ]);
      const src = hot('a 9ms b 9ms c 9ms d', {
        a: readingAt(0, 10),
        b: readingAt(10, 5),
        c: readingAt(20, 6.5),
        d: readingAt(30, 7),
      });
      expectObservable(
        src.pipe(
          runMachine(() => createLimitMachine(rule), { scheduler: ts }),
          map(short),
        ),
      ).toBe('10ms x 19ms y', { x: 'LL+@10', y: 'LL-@30' });
    });
  });

  it('should ignore a late reading for the state when a newer reading was already evaluated', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const rule = makeLimitRule([makeLimitSpec({ value: 90, deadband: 5 })]);
      // the reading of t=5 (95) arrives after the one of t=10 (50): the newest reading wins, no raise
      const src = hot('a 9ms b 4ms c', { a: readingAt(0, 50), b: readingAt(10, 50), c: readingAt(5, 95) });
      expectObservable(
        src.pipe(
          runMachine(() => createLimitMachine(rule), { scheduler: ts }),
          map(short),
        ),
      ).toBe('', {});
    });
  });

  it('should skip bad-quality and non-numeric readings when checking limits', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const rule = makeLimitRule([makeLimitSpec({ value: 90, deadband: 5 })]);
      const src = hot('a 9ms b', { a: readingAt(0, 99, { quality: 'bad' }), b: readingAt(10, 'open') });
      expectObservable(
        src.pipe(
          runMachine(() => createLimitMachine(rule), { scheduler: ts }),
          map(short),
        ),
      ).toBe('', {});
    });
  });

  it('should start active and clear normally when seeded with an active condition', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const rule = makeLimitRule([makeLimitSpec({ value: 90, deadband: 5 })]);
      const seeded = {
        ruleId: rule.ruleId,
        sourceId: rule.sourceId,
        siteId: rule.siteId,
        deviceId: rule.deviceId,
        condition: 'HH',
        active: true,
        priority: 'high' as const,
        value: 95,
        limit: 90,
        ts: 0,
        message: '',
      };
      const src = hot('a 9ms b', { a: readingAt(0, 92), b: readingAt(10, 50) });
      const out = src.pipe(
        runMachine(() => createLimitMachine(rule, () => seeded), { scheduler: ts }),
        map(short),
      );
      expectObservable(out).toBe('10ms y', { y: 'HH-@10' });
    });
  });

  it('should keep the stream alive and count the error when the machine throws', () => {
    const ts = scheduler();
    const errors: unknown[] = [];
    ts.run(({ hot, expectObservable }) => {
      let calls = 0;
      const rule = makeLimitRule([makeLimitSpec({ value: 90, deadband: 5 })]);
      const create = () => {
        const m = createLimitMachine(rule);
        return {
          ...m,
          input: (...args: Parameters<typeof m.input>) => {
            if (calls++ === 0) throw new Error('boom');
            m.input(...args);
          },
        };
      };
      const src = hot('a 9ms b', { a: readingAt(0, 95), b: readingAt(10, 96) });
      expectObservable(
        src.pipe(runMachine(create, { scheduler: ts, onError: (e) => errors.push(e) }), map(short)),
      ).toBe('10ms x', { x: 'HH+@10' });
    });
    expect(errors).toHaveLength(1);
  });
});
