import { ManualClock } from './clock';
import { DeadlineWatch } from './deadline-watch';
import { JsonLogger } from './logger';
import { ManualScheduler } from './testing/manual.scheduler';

type Item = { id: string; dueAt: number };

/** The shared overdue watch (src/common/deadline-watch.ts) in virtual time. */
describe('DeadlineWatch', () => {
  const setup = () => {
    const clock = new ManualClock(0);
    const scheduler = new ManualScheduler(clock);
    const items: Item[] = [
      { id: 'a', dueAt: 10_000 },
      { id: 'b', dueAt: 25_000 },
    ];
    const claimed = new Set<string>();
    const emitted: Array<[string, boolean, number]> = [];
    let failClaim = false;
    let failDue = false;
    const watch = new DeadlineWatch<Item>({
      scheduler,
      clock,
      log: new JsonLogger('test'),
      everyMs: 5_000,
      what: 'thing',
      due: async (now) => {
        if (failDue) throw new Error('db down');
        return items.filter((i) => i.dueAt <= now && !claimed.has(i.id));
      },
      claim: async (i) => {
        if (failClaim) throw new Error('db down');
        if (claimed.has(i.id)) return false;
        claimed.add(i.id);
        return true;
      },
      emit: (i, active, now) => emitted.push([i.id, active, now]),
      describe: (i) => ({ id: i.id }),
    });
    return {
      clock,
      scheduler,
      watch,
      emitted,
      setFailClaim: (v: boolean) => (failClaim = v),
      setFailDue: (v: boolean) => (failDue = v),
    };
  };
  beforeAll(() => JsonLogger.setLevel('error'));

  it('should escalate each item once, at the first pass after its deadline, and re-arm', async () => {
    const { scheduler, watch, emitted } = setup();
    watch.start();
    await scheduler.advance(9_999);
    expect(emitted).toEqual([]);
    await scheduler.advance(1);
    expect(emitted).toEqual([['a', true, 10_000]]);
    await scheduler.advance(20_000);
    expect(emitted).toEqual([
      ['a', true, 10_000],
      ['b', true, 25_000],
    ]);
    watch.stop();
    expect(scheduler.pending).toBe(0);
  });

  it('should retry at the next pass when the store fails, never losing the escalation', async () => {
    const { scheduler, watch, emitted, setFailClaim, setFailDue } = setup();
    watch.start();
    setFailDue(true);
    await scheduler.advance(10_000);
    expect(emitted).toEqual([]);
    setFailDue(false);
    setFailClaim(true);
    await scheduler.advance(5_000);
    expect(emitted).toEqual([]);
    setFailClaim(false);
    await scheduler.advance(5_000);
    expect(emitted).toEqual([['a', true, 20_000]]);
    watch.stop();
  });

  it('should hold alarms of items still overdue and clear stale ones at start', () => {
    const { watch, emitted } = setup();
    const cleared: string[] = [];
    watch.reconcile({
      overdue: [{ id: 'a', dueAt: 0 }],
      keyOf: (i) => i.id,
      rulePrefix: 'ext:x:',
      alarms: [
        { active: true, ruleId: 'ext:x:a', siteId: 's', sourceId: 'h' },
        { active: true, ruleId: 'ext:x:gone', siteId: 's', sourceId: 'h' },
        { active: false, ruleId: 'ext:x:old', siteId: 's', sourceId: 'h' },
        { active: true, ruleId: 'ext:y:other', siteId: 's', sourceId: 'h' },
      ],
      clearStale: (key) => cleared.push(key),
    });
    expect(emitted).toEqual([['a', true, 0]]);
    expect(cleared).toEqual(['gone']);
  });
});
