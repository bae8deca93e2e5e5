import type { CallOutcome, DutyCheckPolicy } from './callout.types';
import { DutyCheckMachine, dutyResultOf, type DutyCheckEffect } from './duty-check.machine';

const T0 = Date.UTC(2026, 10, 24, 13, 0, 0); // 21:00 in Tianjin
const MIN = 60_000;
const POLICY: DutyCheckPolicy = {
  enabled: true,
  cron: '0 21 * * *',
  timeZone: 'Asia/Shanghai',
  jitterMs: 0,
  ringTimeoutMs: 40_000,
  keyTimeoutMs: 15_000,
  retries: 1,
  retryAfterMs: 5 * MIN,
  confirmKey: '1',
  promptRepeats: 3,
  missedPriority: 'high',
};
const room = { role: 'control_room' as const, name: '渤海化工中控室', number: 'sip:8001@pbx' };
const start = (): DutyCheckMachine =>
  DutyCheckMachine.start(
    { siteId: 'bohai-chem', scheduledAt: T0, trigger: 'schedule', callee: room },
    POLICY,
  );

describe('DutyCheckMachine', () => {
  it('should record on_duty without a retry when the operator presses the confirm key', () => {
    const m = start();
    const placed = m.tick(T0);
    expect(placed).toEqual([
      { kind: 'place', attempt: expect.objectContaining({ attemptNo: 1, callee: room }) },
    ]);
    const effects = m.callEnded(m.state.attempts[0]!.id, 'ACKED', T0 + 12_000);
    expect(effects).toEqual([{ kind: 'finished', result: 'on_duty', missed: false }]);
    expect(m.state).toMatchObject({ status: 'done', result: 'on_duty', completedAt: T0 + 12_000 });
    expect(m.nextWakeAt()).toBeUndefined();
  });

  it('should retry once after 5 minutes and then report a missed check when nobody answers', () => {
    const m = start();
    m.tick(T0);
    expect(m.callEnded(`${m.id}.1`, 'NO_ANSWER', T0 + 40_000)).toEqual([]);
    expect(m.nextWakeAt()).toBe(T0 + 40_000 + 5 * MIN);
    expect(m.tick(T0 + 40_000 + 5 * MIN - 1)).toEqual([]);
    expect(m.tick(T0 + 40_000 + 5 * MIN)).toEqual([
      { kind: 'place', attempt: expect.objectContaining({ attemptNo: 2 }) },
    ]);
    const effects: DutyCheckEffect[] = m.callEnded(`${m.id}.2`, 'NO_ANSWER', T0 + 6 * MIN);
    expect(effects).toEqual([{ kind: 'finished', result: 'no_answer', missed: true }]);
    expect(m.state.attempts.map((a) => a.outcome)).toEqual(['NO_ANSWER', 'NO_ANSWER']);
  });

  it('should pass when the retry is answered with the confirm key', () => {
    const m = start();
    m.tick(T0);
    m.callEnded(`${m.id}.1`, 'BUSY', T0 + 5_000);
    m.tick(T0 + 5_000 + 5 * MIN);
    expect(m.callEnded(`${m.id}.2`, 'ACKED', T0 + 6 * MIN)).toEqual([
      { kind: 'finished', result: 'on_duty', missed: false },
    ]);
  });

  it.each<[CallOutcome, string]>([
    ['ACKED', 'on_duty'],
    ['WRONG_KEY', 'wrong_key'],
    ['ANSWERED_NO_ACK', 'no_answer'],
    ['NO_ANSWER', 'no_answer'],
    ['BUSY', 'no_answer'],
    ['REJECTED', 'failed'],
    ['UNREACHABLE', 'failed'],
    ['FAILED', 'failed'],
    ['CANCELED', 'failed'],
  ])('should record %s as %s', (outcome, result) => {
    expect(dutyResultOf(outcome)).toBe(result);
  });

  it('should record a wrong key on the last attempt as wrong_key and missed', () => {
    const m = start();
    m.tick(T0);
    m.callEnded(`${m.id}.1`, 'WRONG_KEY', T0 + 20_000);
    m.tick(T0 + 20_000 + 5 * MIN);
    expect(m.callEnded(`${m.id}.2`, 'WRONG_KEY', T0 + 6 * MIN)).toEqual([
      { kind: 'finished', result: 'wrong_key', missed: true },
    ]);
  });

  it('should ignore a duplicate end report', () => {
    const m = start();
    m.tick(T0);
    m.callEnded(`${m.id}.1`, 'ACKED', T0 + 1_000);
    expect(m.callEnded(`${m.id}.1`, 'NO_ANSWER', T0 + 2_000)).toEqual([]);
    expect(m.state.result).toBe('on_duty');
  });

  it('should close a call interrupted by a restart as FAILED and schedule its one retry', () => {
    const m = start();
    m.tick(T0);
    const { machine, effects, interrupted } = DutyCheckMachine.restore(
      JSON.parse(JSON.stringify(m.state)),
      POLICY,
      T0 + 30_000,
    );
    expect(effects).toEqual([]);
    expect(interrupted.map((a) => [a.attemptNo, a.outcome, a.interrupted])).toEqual([[1, 'FAILED', true]]);
    expect(machine.nextWakeAt()).toBe(T0 + 30_000 + 5 * MIN);
    expect(machine.tick(T0 + 30_000 + 5 * MIN)).toHaveLength(1);
  });

  it('should report a miss when the retry itself was interrupted by a restart', () => {
    const m = start();
    m.tick(T0);
    m.callEnded(`${m.id}.1`, 'NO_ANSWER', T0 + 40_000);
    m.tick(T0 + 40_000 + 5 * MIN);
    const { effects } = DutyCheckMachine.restore(JSON.parse(JSON.stringify(m.state)), POLICY, T0 + 10 * MIN);
    expect(effects).toEqual([{ kind: 'finished', result: 'failed', missed: true }]);
  });
});
