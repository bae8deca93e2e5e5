import { ManualClock } from '../common/clock';
import type { ConditionChange } from '../alarms/domain/condition-change';
import { ManualScheduler } from '../common/testing/manual.scheduler';
import { BROKER_LOSS_CLEAR_MS, BROKER_LOSS_RULE_ID, BrokerLossAlarm } from './broker-loss.alarm';

describe('BrokerLossAlarm', () => {
  const sites = [
    { siteId: 's1', sourceId: 'hs1' },
    { siteId: 's2', sourceId: 'hs2' },
  ];

  function setup(initiallyActive: string[] = []) {
    const clock = new ManualClock(1_000_000);
    const scheduler = new ManualScheduler(clock);
    const emitted: ConditionChange[] = [];
    const active = new Set(initiallyActive);
    const alarm = new BrokerLossAlarm({
      emit: (c) => {
        emitted.push(c);
        if (c.active) active.add(c.siteId);
        else active.delete(c.siteId);
      },
      activeSites: () => active,
      sites,
      clock,
      scheduler,
    });
    return { clock, scheduler, emitted, active, alarm };
  }

  it('should raise a critical ext:broker-loss alarm for every site when the broker drops messages', () => {
    const { emitted, alarm } = setup();
    alarm.dropped(512, 512, 'queue limit of a subscriber reached');
    expect(emitted).toHaveLength(2);
    for (const c of emitted) {
      expect(c).toMatchObject({
        ruleId: BROKER_LOSS_RULE_ID,
        active: true,
        priority: 'critical',
        value: 512,
        condition: 'broker_data_loss',
      });
      expect(c.message).toContain('数据丢失');
      expect(c.message).toContain('512');
    }
    expect(emitted.map((c) => [c.siteId, c.sourceId])).toEqual([
      ['s1', 'hs1'],
      ['s2', 'hs2'],
    ]);
  });

  it('should not raise for no new drops, nor again while the alarm is active', () => {
    const { emitted, alarm } = setup();
    alarm.dropped(0, 10, 'x');
    expect(emitted).toHaveLength(0);
    alarm.dropped(5, 15, 'x');
    alarm.dropped(5, 20, 'x');
    expect(emitted).toHaveLength(2);
  });

  it('should clear only after the quiet period with no new drop, each drop restarting it', async () => {
    const { emitted, scheduler, alarm } = setup();
    alarm.dropped(5, 5, 'x');
    await scheduler.advance(BROKER_LOSS_CLEAR_MS - 1);
    alarm.dropped(1, 6, 'x');
    await scheduler.advance(BROKER_LOSS_CLEAR_MS - 1);
    expect(emitted.filter((c) => !c.active)).toHaveLength(0);
    await scheduler.advance(1);
    expect(emitted.filter((c) => !c.active).map((c) => c.siteId)).toEqual(['s1', 's2']);
  });

  it('should clear an alarm left active by a previous run after the quiet period', async () => {
    const { emitted, scheduler, alarm } = setup(['s2']);
    alarm.start();
    await scheduler.advance(BROKER_LOSS_CLEAR_MS);
    expect(emitted).toEqual([expect.objectContaining({ siteId: 's2', active: false })]);
  });
});
