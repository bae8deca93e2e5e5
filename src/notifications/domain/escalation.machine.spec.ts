import { ManualClock } from '../../common/clock';
import type { CallOutcome, CalleeRole, EscalationPolicy } from './callout.types';
import {
  EscalationMachine,
  type CalloutEffect,
  type CalleeResolver,
  type CalloutSubject,
} from './escalation.machine';

const T0 = Date.UTC(2026, 10, 24, 2, 0, 0); // 10:00 in Tianjin
const MIN = 60_000;

const POLICY: EscalationPolicy = {
  triggerPriorities: ['critical', 'high'],
  startDelayMs: { critical: 0, high: 2 * MIN, medium: 0, low: 0 },
  ringTimeoutMs: 40_000,
  keyTimeoutMs: 15_000,
  retries: 1,
  retryDelayMs: MIN,
  retryOn: ['BUSY', 'NO_ANSWER'],
  promptRepeats: 3,
  confirmKey: '1',
  loops: 2,
  loopDelayMs: 5 * MIN,
  ladder: [
    { targets: ['control_room'], afterMs: 0 },
    { targets: ['operations'], afterMs: 3 * MIN },
    { targets: ['technical'], afterMs: 5 * MIN },
    { targets: ['main', 'duty_desk'], afterMs: 5 * MIN },
  ],
  quiet: [],
  ruleLadders: [{ ruleIdPrefix: 'ext:duty-check', ladder: [{ targets: ['duty_desk', 'main'], afterMs: 0 }] }],
  timeZone: 'Asia/Shanghai',
};

const NUMBERS: Record<CalleeRole, string> = {
  control_room: 'sip:8001@pbx',
  operations: '+8613800000003',
  technical: '+8613800000002',
  main: '+8613800000001',
  duty_desk: '+862225201234',
};
const resolver: CalleeResolver = (role) => ({
  callee: { role, name: `${role}-person`, number: NUMBERS[role] },
});

const subject = (over: Partial<CalloutSubject> = {}): CalloutSubject => ({
  alarmId: 'al-0123456789abcdef0123',
  siteId: 'bohai-chem',
  sourceId: 'bhc-cl2',
  ruleId: 'limit:cl-gd-1:conc',
  priority: 'critical',
  message: 'chlorine level 2',
  raisedAt: T0,
  ...over,
});

/** Drives a machine in virtual time the way the service does: wake at nextWakeAt, tick, collect effects. */
class Harness {
  readonly clock = new ManualClock(T0);
  readonly effects: CalloutEffect[] = [];
  readonly placed: string[] = [];
  constructor(public m: EscalationMachine) {}
  /** Keeps the effects and when each call was placed (seconds after T0). */
  record(...es: CalloutEffect[]): void {
    for (const e of es)
      if (e.kind === 'place')
        this.placed.push(`${e.attempt.callee.role}#${e.attempt.attemptNo}@${(this.clock.now() - T0) / 1000}`);
    this.effects.push(...es);
  }
  /** Runs every wake-up up to `t` (ms after T0). */
  runUntil(t: number): void {
    for (;;) {
      const wake = this.m.nextWakeAt();
      if (wake === undefined || wake > T0 + t) break;
      this.clock.set(Math.max(this.clock.now(), wake));
      this.record(...this.m.tick(this.clock.now()));
    }
    this.clock.set(T0 + t);
  }
  /** Ends the (single) call in flight with an outcome, `afterMs` after it was placed. */
  end(outcome: CallOutcome, role?: CalleeRole): void {
    const a = this.m.inFlight().find((x) => role === undefined || x.callee.role === role);
    if (!a) throw new Error(`no call in flight${role ? ` to ${role}` : ''}`);
    this.record(...this.m.callEnded(a.id, outcome, this.clock.now()));
  }
  kinds(): string[] {
    return this.effects.map((e) => e.kind);
  }
}

const start = (over: Partial<CalloutSubject> = {}, policy = POLICY): Harness =>
  new Harness(EscalationMachine.start(subject(over), policy, resolver));

describe('EscalationMachine', () => {
  it('should call the control room at once when the alarm is critical', () => {
    const h = start();
    h.runUntil(0);
    expect(h.m.inFlight().map((a) => a.callee.number)).toEqual(['sip:8001@pbx']);
    expect(h.effects).toEqual([expect.objectContaining({ kind: 'place' })]);
  });

  it('should wait two minutes before calling when the alarm is high', () => {
    const h = start({ priority: 'high' });
    h.runUntil(2 * MIN - 1);
    expect(h.m.inFlight()).toHaveLength(0);
    h.runUntil(2 * MIN);
    expect(h.m.inFlight().map((a) => a.callee.role)).toEqual(['control_room']);
  });

  it('should acknowledge the alarm and stop when the callee presses the confirm key', () => {
    const h = start();
    h.runUntil(0);
    h.clock.advance(20_000);
    h.end('ACKED');
    expect(h.kinds()).toEqual(['place', 'ack_alarm', 'finished']);
    expect(h.m.state).toMatchObject({
      status: 'acked',
      stopReason: 'key_ack',
      ackedBy: { callee: { role: 'control_room', number: 'sip:8001@pbx' }, at: T0 + 20_000 },
    });
    h.runUntil(60 * MIN);
    expect(h.placed).toHaveLength(1);
    expect(h.m.nextWakeAt()).toBeUndefined();
  });

  it.each<CallOutcome>(['ANSWERED_NO_ACK', 'WRONG_KEY', 'REJECTED', 'UNREACHABLE', 'FAILED'])(
    'should not retry and should escalate to the 操作负责人 after 3 minutes when the outcome is %s',
    (outcome) => {
      const h = start();
      h.runUntil(0);
      h.clock.advance(30_000);
      h.end(outcome);
      h.runUntil(3 * MIN - 1);
      expect(h.placed).toEqual(['control_room#1@0']);
      h.runUntil(3 * MIN);
      expect(h.placed).toEqual(['control_room#1@0', 'operations#1@180']);
      expect(h.m.attempt(h.m.state.attempts[0]!.id)?.outcome).toBe(outcome);
      expect(h.kinds()).not.toContain('ack_alarm');
    },
  );

  it.each<CallOutcome>(['BUSY', 'NO_ANSWER'])(
    'should retry the same callee once after 60 s when the outcome is %s',
    (outcome) => {
      const h = start();
      h.runUntil(0);
      h.clock.advance(40_000);
      h.end(outcome);
      h.runUntil(100_000 - 1);
      expect(h.placed).toEqual(['control_room#1@0']);
      h.runUntil(100_000);
      expect(h.placed).toEqual(['control_room#1@0', 'control_room#2@100']);
      h.clock.advance(40_000);
      h.end(outcome);
      // the retry was the last one: no third call, the next step follows at +3 min
      h.runUntil(3 * MIN);
      expect(h.placed).toEqual(['control_room#1@0', 'control_room#2@100', 'operations#1@180']);
    },
  );

  it('should let the next step wait until the calls of the current step have ended', () => {
    const h = start();
    h.runUntil(0);
    h.runUntil(5 * MIN); // the control room call never reports an end
    expect(h.placed).toEqual(['control_room#1@0']);
    h.end('NO_ANSWER');
    h.runUntil(6 * MIN);
    expect(h.placed).toEqual(['control_room#1@0', 'control_room#2@360']);
  });

  it('should run the whole ladder, call 主要负责人 and the duty desk together, loop, then stop as exhausted', () => {
    const h = start();
    const answerAll = (): void => {
      for (const a of h.m.inFlight()) h.record(...h.m.callEnded(a.id, 'ANSWERED_NO_ACK', h.clock.now()));
    };
    let t = 0;
    for (let i = 0; i < 400 && h.m.active; i++) {
      h.runUntil(t);
      answerAll();
      t += 10_000;
    }
    expect(h.placed).toEqual([
      'control_room#1@0',
      'operations#1@180',
      'technical#1@480',
      'main#1@780',
      'duty_desk#1@780',
      'control_room#1@1080',
      'operations#1@1260',
      'technical#1@1560',
      'main#1@1860',
      'duty_desk#1@1860',
    ]);
    expect(h.m.state).toMatchObject({ status: 'exhausted', stopReason: 'exhausted' });
    expect(h.effects.at(-1)).toEqual({ kind: 'finished', status: 'exhausted', reason: 'exhausted' });
  });

  it('should cancel the call in flight and stop when an operator acknowledges on the console', () => {
    const h = start();
    h.runUntil(0);
    h.clock.advance(10_000);
    const inflight = h.m.inFlight()[0]!.id;
    const effects = h.m.stop('console_ack', h.clock.now());
    expect(effects).toEqual([
      { kind: 'cancel', attemptId: inflight },
      { kind: 'finished', status: 'stopped', reason: 'console_ack' },
    ]);
    // the provider then reports the cancelled call: recorded, nothing else happens
    expect(h.m.callEnded(inflight, 'CANCELED', h.clock.now())).toEqual([]);
    expect(h.m.attempt(inflight)?.outcome).toBe('CANCELED');
    h.runUntil(60 * MIN);
    expect(h.placed).toHaveLength(1);
  });

  it('should drop a scheduled retry that was never placed when the alarm clears', () => {
    const h = start();
    h.runUntil(0);
    h.end('BUSY');
    h.record(...h.m.stop('cleared', h.clock.now()));
    expect(h.m.state.attempts.map((a) => a.attemptNo)).toEqual([1]);
    h.runUntil(60 * MIN);
    expect(h.placed).toEqual(['control_room#1@0']);
  });

  it('should ignore a second report of the same call end (idempotent callbacks)', () => {
    const h = start();
    h.runUntil(0);
    const id = h.m.inFlight()[0]!.id;
    h.end('NO_ANSWER');
    const before = JSON.stringify(h.m.state);
    expect(h.m.callEnded(id, 'ACKED', h.clock.now())).toEqual([]);
    expect(JSON.stringify(h.m.state)).toBe(before);
  });

  it('should take an acknowledgement from any callee of a parallel step and cancel the other call', () => {
    const h = start({ ruleId: 'ext:duty-check:bohai-chem', priority: 'high' });
    h.runUntil(2 * MIN);
    expect(h.m.inFlight().map((a) => a.callee.role)).toEqual(['duty_desk', 'main']);
    const main = h.m.inFlight().find((a) => a.callee.role === 'main')!.id;
    const desk = h.m.inFlight().find((a) => a.callee.role === 'duty_desk')!.id;
    h.end('ACKED', 'main');
    expect(h.effects.filter((e) => e.kind !== 'place')).toEqual([
      { kind: 'ack_alarm', attempt: expect.objectContaining({ id: main }) },
      { kind: 'cancel', attemptId: desk },
      { kind: 'finished', status: 'acked', reason: 'key_ack' },
    ]);
  });

  it('should skip quiet and unconfigured targets, record why, and go on with the ladder', () => {
    const quietResolver: CalleeResolver = (role) =>
      role === 'operations'
        ? { quiet: true }
        : role === 'technical'
          ? {}
          : { callee: { role, name: role, number: NUMBERS[role] } };
    const h = new Harness(EscalationMachine.start(subject({ priority: 'high' }), POLICY, quietResolver));
    let t = 2 * MIN;
    for (let i = 0; i < 100 && h.m.state.loop === 0; i++) {
      h.runUntil(t);
      for (const a of h.m.inFlight()) h.record(...h.m.callEnded(a.id, 'ANSWERED_NO_ACK', h.clock.now()));
      t += 10_000;
    }
    expect(h.m.state.skipped.map((s) => `${s.role}:${s.reason}`)).toEqual([
      'operations:quiet',
      'technical:no_contact',
    ]);
    expect(h.placed.slice(0, 3)).toEqual(['control_room#1@120', 'main#1@900', 'duty_desk#1@900']);
  });

  describe('restart', () => {
    it('should resume from persisted state without calling anyone twice for a step', () => {
      const h = start();
      h.runUntil(0);
      h.clock.advance(5_000);
      // the server dies with the control-room call in flight; the persisted state is plain JSON
      const persisted = JSON.parse(JSON.stringify(h.m.state)) as typeof h.m.state;
      const { machine, interrupted } = EscalationMachine.restore(persisted, POLICY, resolver, T0 + 60_000);
      expect(interrupted.map((a) => [a.callee.role, a.outcome, a.interrupted])).toEqual([
        ['control_room', 'FAILED', true],
      ]);
      const r = new Harness(machine);
      r.clock.set(T0 + 60_000);
      r.runUntil(3 * MIN - 1);
      expect(r.placed).toEqual([]);
      r.runUntil(3 * MIN);
      expect(r.placed).toEqual(['operations#1@180']);
    });

    it('should not retry an interrupted call even when its outcome would be retried', () => {
      const policy = { ...POLICY, retryOn: ['BUSY', 'NO_ANSWER', 'FAILED'] as CallOutcome[] };
      const h = start({}, policy);
      h.runUntil(0);
      const { machine } = EscalationMachine.restore(
        JSON.parse(JSON.stringify(h.m.state)),
        policy,
        resolver,
        T0 + 1_000,
      );
      const r = new Harness(machine);
      r.runUntil(3 * MIN);
      expect(r.placed).toEqual(['operations#1@180']);
    });

    it('should place a retry that was scheduled but not yet placed before the restart', () => {
      const h = start();
      h.runUntil(0);
      h.end('BUSY');
      const { machine, interrupted } = EscalationMachine.restore(
        JSON.parse(JSON.stringify(h.m.state)),
        POLICY,
        resolver,
        T0 + 30_000,
      );
      expect(interrupted).toEqual([]);
      const r = new Harness(machine);
      r.runUntil(60_000);
      expect(r.placed).toEqual(['control_room#2@60']);
    });

    it('should stay finished after a restart when it had ended', () => {
      const h = start();
      h.runUntil(0);
      h.end('ACKED');
      const { machine } = EscalationMachine.restore(
        JSON.parse(JSON.stringify(h.m.state)),
        POLICY,
        resolver,
        T0 + 1_000,
      );
      expect(machine.nextWakeAt()).toBeUndefined();
      expect(machine.tick(T0 + 3_600_000)).toEqual([]);
    });
  });
});
