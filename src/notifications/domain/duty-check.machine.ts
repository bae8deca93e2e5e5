/**
 * One duty check (值班值守抽查, docs/domain.md §6): call the control room, the operator presses the confirm key within the
 * key timeout. A failure is retried once after 5 minutes; a second failure raises an alarm (to the district duty desk
 * and the 主要负责人 through the call-out ladder for duty-check alarms). Pure and persisted like the escalation machine.
 */
import type { CallOutcome, DutyCheckPolicy } from './callout.types';
import type { ResolvedCallee } from './roster';

export const DUTY_CHECK_RESULTS = ['on_duty', 'no_answer', 'wrong_key', 'failed'] as const;
export type DutyCheckResult = (typeof DUTY_CHECK_RESULTS)[number];
export type DutyCheckTrigger = 'schedule' | 'manual' | 'video';

export type DutyAttempt = {
  readonly id: string;
  readonly attemptNo: number;
  readonly callee: ResolvedCallee;
  readonly dueAt: number;
  status: 'scheduled' | 'placing' | 'done';
  placedAt?: number;
  endedAt?: number;
  outcome?: CallOutcome;
  interrupted?: boolean;
};

export type DutyCheckState = {
  readonly id: string;
  readonly siteId: string;
  readonly trigger: DutyCheckTrigger;
  readonly scheduledAt: number;
  status: 'running' | 'done';
  result?: DutyCheckResult;
  completedAt?: number;
  attempts: DutyAttempt[];
};

export type DutyCheckEffect =
  | { readonly kind: 'place'; readonly attempt: DutyAttempt }
  | { readonly kind: 'finished'; readonly result: DutyCheckResult; readonly missed: boolean };

/** How an unanswered check is recorded: answered without key counts as not on duty (a voicemail answers too). */
export function dutyResultOf(outcome: CallOutcome): DutyCheckResult {
  switch (outcome) {
    case 'ACKED':
      return 'on_duty';
    case 'WRONG_KEY':
      return 'wrong_key';
    case 'ANSWERED_NO_ACK':
    case 'NO_ANSWER':
    case 'BUSY':
      return 'no_answer';
    case 'REJECTED':
    case 'UNREACHABLE':
    case 'FAILED':
    case 'CANCELED':
      return 'failed';
  }
}

export const dutyCheckId = (siteId: string, scheduledAt: number, trigger: DutyCheckTrigger): string =>
  `dc-${siteId}-${scheduledAt.toString(36)}${trigger === 'manual' ? '-m' : trigger === 'video' ? '-v' : ''}`;

export class DutyCheckMachine {
  private constructor(
    readonly state: DutyCheckState,
    private readonly policy: DutyCheckPolicy,
  ) {}

  static start(
    input: { siteId: string; scheduledAt: number; trigger: DutyCheckTrigger; callee: ResolvedCallee },
    policy: DutyCheckPolicy,
  ): DutyCheckMachine {
    const id = dutyCheckId(input.siteId, input.scheduledAt, input.trigger);
    return new DutyCheckMachine(
      {
        id,
        siteId: input.siteId,
        trigger: input.trigger,
        scheduledAt: input.scheduledAt,
        status: 'running',
        attempts: [
          {
            id: `${id}.1`,
            attemptNo: 1,
            callee: input.callee,
            dueAt: input.scheduledAt,
            status: 'scheduled',
          },
        ],
      },
      policy,
    );
  }

  /** After a restart: a call in flight is closed as FAILED (interrupted) and handled like any failure (one retry). */
  static restore(
    persisted: DutyCheckState,
    policy: DutyCheckPolicy,
    now: number,
  ): { machine: DutyCheckMachine; effects: DutyCheckEffect[]; interrupted: DutyAttempt[] } {
    const m = new DutyCheckMachine(structuredClone(persisted), policy);
    const placing = m.state.attempts.filter((a) => a.status === 'placing');
    const effects: DutyCheckEffect[] = [];
    for (const a of placing) {
      effects.push(...m.callEnded(a.id, 'FAILED', now));
      a.interrupted = true;
    }
    return { machine: m, effects, interrupted: placing };
  }

  get id(): string {
    return this.state.id;
  }

  get running(): boolean {
    return this.state.status === 'running';
  }

  attempt(id: string): DutyAttempt | undefined {
    return this.state.attempts.find((a) => a.id === id);
  }

  nextWakeAt(): number | undefined {
    if (!this.running) return undefined;
    const due = this.state.attempts.filter((a) => a.status === 'scheduled').map((a) => a.dueAt);
    return due.length > 0 ? Math.min(...due) : undefined;
  }

  tick(now: number): DutyCheckEffect[] {
    if (!this.running) return [];
    const effects: DutyCheckEffect[] = [];
    for (const a of this.state.attempts) {
      if (a.status === 'scheduled' && a.dueAt <= now) {
        a.status = 'placing';
        a.placedAt = now;
        effects.push({ kind: 'place', attempt: a });
      }
    }
    return effects;
  }

  /** Idempotent per attempt. */
  callEnded(attemptId: string, outcome: CallOutcome, now: number): DutyCheckEffect[] {
    const a = this.attempt(attemptId);
    if (!a || a.status === 'done' || !this.running) return [];
    a.status = 'done';
    a.outcome = outcome;
    a.endedAt = now;
    const result = dutyResultOf(outcome);
    if (result !== 'on_duty' && a.attemptNo <= this.policy.retries) {
      this.state.attempts.push({
        id: `${this.state.id}.${a.attemptNo + 1}`,
        attemptNo: a.attemptNo + 1,
        callee: a.callee,
        dueAt: now + this.policy.retryAfterMs,
        status: 'scheduled',
      });
      return this.tick(now);
    }
    this.state.status = 'done';
    this.state.result = result;
    this.state.completedAt = now;
    return [{ kind: 'finished', result, missed: result !== 'on_duty' }];
  }
}
