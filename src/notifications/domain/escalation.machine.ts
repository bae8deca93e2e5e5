/**
 * The escalation of one alarm call-out as a persisted state machine (docs/domain.md §6). Pure: time is passed into every
 * call, the roster is a pure function, and the machine returns effects (place a call, cancel one, acknowledge the
 * alarm) for the service to carry out. Its whole state is plain JSON, persisted after every change, so a restarted
 * server rebuilds it and never places a call twice for one attempt or step.
 *
 * Steps run in ladder order: step n+1 is due `ladder[n+1].afterMs` after step n started, and starts only when every
 * call of step n has ended (retries included). After the last step the ladder loops from step 1 (`loops` times in
 * all, `loopDelayMs` after the last step started). It stops on a key acknowledgement (the only acknowledgement a call
 * can give), on a console acknowledgement, on a clear, or when the loops are exhausted.
 */
import type { Priority } from '../../common/types';
import type { CallOutcome, Callee, CalleeRole, EscalationPolicy, LadderStep } from './callout.types';
import type { ResolvedCallee } from './roster';

export type AttemptStatus = 'scheduled' | 'placing' | 'done';

export type CallAttempt = {
  readonly id: string;
  readonly loop: number;
  readonly step: number;
  /** 1 for the first call to this callee in this step, 2 for its retry, ... */
  readonly attemptNo: number;
  readonly callee: ResolvedCallee;
  readonly dueAt: number;
  status: AttemptStatus;
  placedAt?: number;
  endedAt?: number;
  outcome?: CallOutcome;
  /** Set when the server stopped while this call was in flight: its real outcome is unknown. */
  interrupted?: boolean;
};

export type CalloutStatus = 'active' | 'acked' | 'stopped' | 'exhausted';
export type StopReason = 'key_ack' | 'console_ack' | 'cleared' | 'hidden' | 'exhausted';

export type CalloutSubject = {
  readonly alarmId: string;
  readonly siteId: string;
  readonly sourceId: string;
  readonly ruleId: string;
  readonly priority: Priority;
  readonly message: string;
  /** Activation time of the alarm (epoch ms); the first step is due `startDelayMs[priority]` after it. */
  readonly raisedAt: number;
};

export type SkippedCall = {
  readonly loop: number;
  readonly step: number;
  readonly role: CalleeRole;
  readonly reason: 'quiet' | 'no_contact' | 'not_graded';
  readonly at: number;
};

export type CalloutState = CalloutSubject & {
  readonly id: string;
  status: CalloutStatus;
  stopReason?: StopReason;
  endedAt?: number;
  loop: number;
  /** Index of the current ladder step; -1 before the first. */
  step: number;
  stepStartedAt?: number;
  /** When the next step (or loop, or the end) is due, once the current step has settled. */
  nextStepAt: number;
  attempts: CallAttempt[];
  skipped: SkippedCall[];
  ackedBy?: { readonly attemptId: string; readonly callee: Callee; readonly at: number };
};

export type CalloutEffect =
  | { readonly kind: 'place'; readonly attempt: CallAttempt }
  | { readonly kind: 'cancel'; readonly attemptId: string }
  | { readonly kind: 'ack_alarm'; readonly attempt: CallAttempt }
  | { readonly kind: 'skipped'; readonly skipped: SkippedCall }
  | {
      readonly kind: 'finished';
      readonly status: Exclude<CalloutStatus, 'active'>;
      readonly reason: StopReason;
    };

/** Who to call for a role at a time (on-call calendar, quiet rules); undefined = nobody configured. */
export type CalleeResolver = (
  role: CalleeRole,
  at: number,
) => { callee?: ResolvedCallee; quiet?: boolean; notGraded?: boolean };

const MAX_STEPS_PER_TICK = 64;

/** Deterministic id of the call-out started by one alarm event (its journal seq), so that event starts it once. */
export const calloutId = (alarmId: string, eventKey: number): string =>
  `co-${alarmId.replace(/^al-/, '')}-${eventKey.toString(36)}`;

export class EscalationMachine {
  private constructor(
    readonly state: CalloutState,
    private readonly policy: EscalationPolicy,
    private readonly ladder: readonly LadderStep[],
    private readonly resolve: CalleeResolver,
  ) {}

  /** A new call-out for an alarm that just qualified. */
  static start(
    subject: CalloutSubject,
    policy: EscalationPolicy,
    resolve: CalleeResolver,
    id = calloutId(subject.alarmId, subject.raisedAt),
  ): EscalationMachine {
    const state: CalloutState = {
      ...subject,
      id,
      status: 'active',
      loop: 0,
      step: -1,
      nextStepAt: subject.raisedAt + policy.startDelayMs[subject.priority],
      attempts: [],
      skipped: [],
    };
    return new EscalationMachine(state, policy, ladderFor(policy, subject.ruleId), resolve);
  }

  /**
   * Rebuilds from persisted state after a restart. Calls that were in flight when the server stopped are closed as
   * FAILED (interrupted) and never retried, so no step calls anyone twice; the ladder then continues on its schedule.
   */
  static restore(
    persisted: CalloutState,
    policy: EscalationPolicy,
    resolve: CalleeResolver,
    now: number,
  ): { machine: EscalationMachine; interrupted: CallAttempt[] } {
    const state: CalloutState = structuredClone(persisted);
    const m = new EscalationMachine(state, policy, ladderFor(policy, state.ruleId), resolve);
    const interrupted: CallAttempt[] = [];
    for (const a of state.attempts) {
      if (a.status !== 'placing') continue;
      a.status = 'done';
      a.outcome = 'FAILED';
      a.endedAt = now;
      a.interrupted = true;
      interrupted.push(a);
    }
    return { machine: m, interrupted };
  }

  get id(): string {
    return this.state.id;
  }

  get active(): boolean {
    return this.state.status === 'active';
  }

  attempt(id: string): CallAttempt | undefined {
    return this.state.attempts.find((a) => a.id === id);
  }

  /** Calls placed and not yet ended. */
  inFlight(): CallAttempt[] {
    return this.state.attempts.filter((a) => a.status === 'placing');
  }

  /** The next time `tick` has something to do, or undefined when nothing is scheduled. */
  nextWakeAt(): number | undefined {
    if (!this.active) return undefined;
    const current = this.currentAttempts();
    if (current.some((a) => a.status === 'placing')) {
      const due = current.filter((a) => a.status === 'scheduled').map((a) => a.dueAt);
      return due.length > 0 ? Math.min(...due) : undefined;
    }
    const due = current.filter((a) => a.status === 'scheduled').map((a) => a.dueAt);
    return due.length > 0 ? Math.min(...due) : this.state.nextStepAt;
  }

  /** Places due calls and starts due steps. */
  tick(now: number): CalloutEffect[] {
    const effects: CalloutEffect[] = [];
    for (let guard = 0; guard < MAX_STEPS_PER_TICK && this.active; guard++) {
      for (const a of this.currentAttempts()) {
        if (a.status === 'scheduled' && a.dueAt <= now) {
          a.status = 'placing';
          a.placedAt = now;
          effects.push({ kind: 'place', attempt: a });
        }
      }
      if (!this.settled() || now < this.state.nextStepAt) break;
      effects.push(...this.advance(now));
    }
    return effects;
  }

  /** The provider reported the end of a call. Idempotent: a second report for the same attempt changes nothing. */
  callEnded(attemptId: string, outcome: CallOutcome, now: number): CalloutEffect[] {
    const a = this.attempt(attemptId);
    if (!a || a.status === 'done') return [];
    a.status = 'done';
    a.outcome = outcome;
    a.endedAt = now;
    if (!this.active) return [];
    if (outcome === 'ACKED') {
      this.state.status = 'acked';
      this.state.stopReason = 'key_ack';
      this.state.endedAt = now;
      this.state.ackedBy = {
        attemptId: a.id,
        callee: { role: a.callee.role, name: a.callee.name, number: a.callee.number },
        at: now,
      };
      const effects: CalloutEffect[] = [{ kind: 'ack_alarm', attempt: a }];
      effects.push(...this.closeOthers());
      effects.push({ kind: 'finished', status: 'acked', reason: 'key_ack' });
      return effects;
    }
    if (this.policy.retryOn.includes(outcome) && a.attemptNo <= this.policy.retries) {
      this.state.attempts.push({
        id: attemptIdOf(this.state.id, a.loop, a.step, a.callee.role, a.attemptNo + 1),
        loop: a.loop,
        step: a.step,
        attemptNo: a.attemptNo + 1,
        callee: a.callee,
        dueAt: now + this.policy.retryDelayMs,
        status: 'scheduled',
      });
    }
    return this.tick(now);
  }

  /** Console acknowledgement, clear, or the alarm hidden (shelved, suppressed, out of service): stop calling. */
  stop(reason: Exclude<StopReason, 'key_ack' | 'exhausted'>, now: number): CalloutEffect[] {
    if (!this.active) return [];
    this.state.status = 'stopped';
    this.state.stopReason = reason;
    this.state.endedAt = now;
    return [...this.closeOthers(), { kind: 'finished', status: 'stopped', reason }];
  }

  // ------------------------------------------------------------------------------------------------------------------

  private currentAttempts(): CallAttempt[] {
    const { loop, step } = this.state;
    return this.state.attempts.filter((a) => a.loop === loop && a.step === step);
  }

  private settled(): boolean {
    return this.currentAttempts().every((a) => a.status === 'done');
  }

  /** Cancels calls in flight and drops scheduled ones (they were never placed). */
  private closeOthers(): CalloutEffect[] {
    const effects: CalloutEffect[] = [];
    this.state.attempts = this.state.attempts.filter((a) => a.status !== 'scheduled');
    for (const a of this.state.attempts) {
      if (a.status === 'placing') effects.push({ kind: 'cancel', attemptId: a.id });
    }
    return effects;
  }

  private advance(now: number): CalloutEffect[] {
    const s = this.state;
    let loop = s.loop;
    let step = s.step + 1;
    if (step >= this.ladder.length) {
      loop += 1;
      step = 0;
    }
    if (loop >= this.policy.loops || this.ladder.length === 0) {
      s.status = 'exhausted';
      s.stopReason = 'exhausted';
      s.endedAt = now;
      return [{ kind: 'finished', status: 'exhausted', reason: 'exhausted' }];
    }
    s.loop = loop;
    s.step = step;
    s.stepStartedAt = now;
    const after = this.ladder[step + 1]?.afterMs;
    s.nextStepAt = now + (after ?? this.policy.loopDelayMs);
    const effects: CalloutEffect[] = [];
    const numbers = new Set<string>();
    const ladderStep = this.ladder[step];
    for (const role of ladderStep?.targets ?? []) {
      const r = this.resolve(role, now);
      if (r.quiet || r.notGraded || !r.callee) {
        const reason = r.quiet ? 'quiet' : r.notGraded ? 'not_graded' : 'no_contact';
        const skipped: SkippedCall = { loop, step, role, reason, at: now };
        s.skipped.push(skipped);
        effects.push({ kind: 'skipped', skipped });
        continue;
      }
      if (numbers.has(r.callee.number)) continue;
      numbers.add(r.callee.number);
      s.attempts.push({
        id: attemptIdOf(s.id, loop, step, role, 1),
        loop,
        step,
        attemptNo: 1,
        callee: r.callee,
        dueAt: now,
        status: 'scheduled',
      });
    }
    return effects;
  }
}

export const attemptIdOf = (
  calloutId: string,
  loop: number,
  step: number,
  role: CalleeRole,
  attemptNo: number,
): string => `${calloutId}.${loop + 1}.${step + 1}.${role}.${attemptNo}`;

export function ladderFor(policy: EscalationPolicy, ruleId: string): readonly LadderStep[] {
  return policy.ruleLadders.find((l) => ruleId.startsWith(l.ruleIdPrefix))?.ladder ?? policy.ladder;
}
