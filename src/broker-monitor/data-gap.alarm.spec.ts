import { ManualClock } from '../common/clock';
import type { ConditionChange } from '../alarms/domain/condition-change';
import { ManualScheduler } from '../common/testing/manual.scheduler';
import { DeviceTracker } from '../ingest/domain/device-tracker';
import { DATA_GAP_CHECK_MS, DATA_GAP_CLEAR_MS, DATA_GAP_RULE_ID, DataGapAlarm } from './data-gap.alarm';

describe('DataGapAlarm', () => {
  function setup(initiallyActive: string[] = [], silentGapMs = Number.POSITIVE_INFINITY) {
    const clock = new ManualClock(1_000_000);
    const scheduler = new ManualScheduler(clock);
    const emitted: ConditionChange[] = [];
    const active = new Set(initiallyActive);
    const devices = ['s1/gd-1', 's1/gd-2', 's2/gd-1'].map((k) => {
      const [siteId = '', deviceId = ''] = k.split('/');
      return {
        siteId,
        deviceId,
        tracker: new DeviceTracker(siteId, deviceId, undefined, undefined, silentGapMs),
      };
    });
    const send = (i: number, seq: number) => devices[i]!.tracker.observe(clock.now(), seq, clock.now());
    const alarm = new DataGapAlarm({
      emit: (c) => {
        emitted.push(c);
        if (c.active) active.add(c.siteId);
        else active.delete(c.siteId);
      },
      activeSites: () => active,
      devices: () => devices,
      sourceOf: (siteId) => `hs-${siteId}`,
      clock,
      scheduler,
    });
    return { clock, scheduler, emitted, active, alarm, send };
  }

  it('should raise a high ext:data-gap alarm for the site whose device skipped sequence numbers, naming it', async () => {
    const { emitted, scheduler, alarm, send } = setup();
    alarm.start();
    for (const seq of [1, 2, 3]) send(0, seq);
    send(2, 1);
    send(2, 2);
    await scheduler.advance(DATA_GAP_CHECK_MS);
    expect(emitted).toHaveLength(0);

    send(0, 10); // 4..9 missing
    await scheduler.advance(DATA_GAP_CHECK_MS);
    expect(emitted).toEqual([
      expect.objectContaining({
        ruleId: DATA_GAP_RULE_ID,
        siteId: 's1',
        sourceId: 'hs-s1',
        condition: 'data_gap',
        active: true,
        priority: 'high',
        value: 6,
      }),
    ]);
    expect(emitted[0]!.message).toContain('数据缺失');
    expect(emitted[0]!.message).toContain('gd-1 缺 6');
  });

  it('should not raise for a gap after the device was silent for its stale window (annunciated as stale/offline)', async () => {
    const { emitted, scheduler, clock, alarm, send } = setup([], 15_000);
    alarm.start();
    send(0, 1);
    clock.advance(60_000); // the device is silent for a minute (comms loss): stale/offline alarms cover it
    send(0, 13); // it kept sampling meanwhile: 2..12 never arrived
    await scheduler.advance(DATA_GAP_CHECK_MS);
    expect(emitted).toHaveLength(0);
    send(0, 15); // a gap while it talks: alarmed
    await scheduler.advance(DATA_GAP_CHECK_MS);
    expect(emitted.map((c) => [c.siteId, c.active, c.value])).toEqual([['s1', true, 1]]);
  });

  it('should not count duplicates, redeliveries or device restarts as gaps', async () => {
    const { emitted, scheduler, alarm, send } = setup();
    alarm.start();
    for (const seq of [1, 2, 3, 3, 2, 4, 5]) send(1, seq); // a redelivery, not a gap
    send(1, 5_000_000); // a re-seeded counter: a restart
    send(1, 1);
    await scheduler.advance(DATA_GAP_CHECK_MS * 3);
    expect(emitted).toHaveLength(0);
  });

  it('should hold the alarm while gaps keep appearing and clear it after the quiet period', async () => {
    const { emitted, scheduler, alarm, send } = setup();
    alarm.start();
    send(2, 1);
    send(2, 3);
    await scheduler.advance(DATA_GAP_CHECK_MS);
    expect(emitted.map((c) => [c.siteId, c.active])).toEqual([['s2', true]]);

    await scheduler.advance(DATA_GAP_CLEAR_MS - 2 * DATA_GAP_CHECK_MS);
    send(2, 5); // a new gap restarts the quiet period, without a second raise
    await scheduler.advance(DATA_GAP_CHECK_MS);
    expect(emitted).toHaveLength(1);
    await scheduler.advance(DATA_GAP_CLEAR_MS - DATA_GAP_CHECK_MS);
    expect(emitted).toHaveLength(1);
    await scheduler.advance(DATA_GAP_CHECK_MS);
    expect(emitted.map((c) => [c.siteId, c.active])).toEqual([
      ['s2', true],
      ['s2', false],
    ]);
  });

  it('should raise again for a gap after the alarm returned to normal', async () => {
    const { emitted, scheduler, alarm, send } = setup();
    alarm.start();
    send(0, 1);
    send(0, 3);
    await scheduler.advance(DATA_GAP_CHECK_MS + DATA_GAP_CLEAR_MS);
    send(0, 7);
    await scheduler.advance(DATA_GAP_CHECK_MS);
    expect(emitted.map((c) => [c.active, c.value])).toEqual([
      [true, 1],
      [false, 0],
      [true, 3],
    ]);
  });

  it('should clear an alarm left active by a previous run after the quiet period, and stop checking when stopped', async () => {
    const { emitted, scheduler, alarm, send } = setup(['s1']);
    alarm.start();
    await scheduler.advance(DATA_GAP_CLEAR_MS);
    expect(emitted).toEqual([expect.objectContaining({ siteId: 's1', active: false })]);
    alarm.stop();
    send(2, 1);
    send(2, 9);
    await scheduler.advance(DATA_GAP_CHECK_MS * 2);
    expect(emitted).toHaveLength(1);
    expect(scheduler.pending).toBe(0);
  });
});
