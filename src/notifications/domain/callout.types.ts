/** Call-out and duty-check model (docs/domain.md §6). Pure types: no framework, no I/O. */
import type { Priority } from '../../common/types';

/** Who a call goes to: the enterprise control room, the three responsible persons (包保责任人), the district duty desk. */
export const CALLEE_ROLES = ['control_room', 'operations', 'technical', 'main', 'duty_desk'] as const;
export type CalleeRole = (typeof CALLEE_ROLES)[number];
/** The responsible persons: 操作负责人, 技术负责人, 主要负责人. */
export const PERSON_ROLES = ['operations', 'technical', 'main'] as const;
export type PersonRole = (typeof PERSON_ROLES)[number];

export const ROLE_LABEL_ZH: Record<CalleeRole, string> = {
  control_room: '中控室',
  operations: '操作负责人',
  technical: '技术负责人',
  main: '主要负责人',
  duty_desk: '区值班室',
};

/** Outcome of one call attempt. Only ACKED (the confirm key pressed) acknowledges anything. */
export const CALL_OUTCOMES = [
  'ACKED',
  'ANSWERED_NO_ACK',
  'WRONG_KEY',
  'NO_ANSWER',
  'BUSY',
  'REJECTED',
  'UNREACHABLE',
  'FAILED',
  'CANCELED',
] as const;
export type CallOutcome = (typeof CALL_OUTCOMES)[number];
export const isCallOutcome = (s: string): s is CallOutcome =>
  (CALL_OUTCOMES as readonly string[]).includes(s);

/** A person or desk to call, resolved at the moment the step starts (on-call calendar). */
export type Callee = { readonly role: CalleeRole; readonly name: string; readonly number: string };

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** One on-call window in local time. `toMin` ≤ `fromMin` wraps midnight (the night belongs to the day it starts). */
export type OnCallWindow = {
  readonly days: readonly Weekday[];
  readonly fromMin: number;
  readonly toMin: number;
  /** Inclusive local dates YYYY-MM-DD bounding the window (holiday rosters). */
  readonly fromDate?: string;
  readonly toDate?: string;
};

/** A responsible person; an empty `onCall` means always on call. */
export type Person = {
  readonly name: string;
  readonly number: string;
  readonly onCall: readonly OnCallWindow[];
};

export type Roster = Readonly<Record<PersonRole, readonly Person[]>>;

export type SiteContacts = {
  readonly siteId: string;
  readonly controlRoom: { readonly name: string; readonly number: string };
  readonly responsible: Roster;
  /** Per hazard source: roles listed here replace the site's roster for alarms of that source. */
  readonly sources: ReadonlyMap<string, Partial<Roster>>;
  /** The district/park duty desk responsible for this site (by jurisdiction), if configured. */
  readonly dutyDesk?: { readonly name: string; readonly number: string };
};

export type LadderStep = { readonly targets: readonly CalleeRole[]; readonly afterMs: number };

/** During the window, non-critical calls to these targets are skipped (never for critical). */
export type QuietRule = {
  readonly fromMin: number;
  readonly toMin: number;
  readonly priorities: readonly Exclude<Priority, 'critical'>[];
  readonly targets: readonly CalleeRole[];
};

export type EscalationPolicy = {
  readonly triggerPriorities: readonly Priority[];
  /** Delay from the raise to the first step, per priority (DOMAIN §6: critical at once, high after 2 min). */
  readonly startDelayMs: Readonly<Record<Priority, number>>;
  readonly ringTimeoutMs: number;
  /** After answer: how long the callee has to press a key (the prompt repeats meanwhile). */
  readonly keyTimeoutMs: number;
  /** Extra attempts per callee and step for outcomes in `retryOn`. */
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly retryOn: readonly CallOutcome[];
  readonly promptRepeats: number;
  readonly confirmKey: string;
  /** How many times the whole ladder is run. */
  readonly loops: number;
  /** Wait before a new loop starts at step 1 again. */
  readonly loopDelayMs: number;
  readonly ladder: readonly LadderStep[];
  readonly quiet: readonly QuietRule[];
  /** Ladders for alarms whose rule id starts with a prefix (e.g. a missed duty check goes to the duty desk and 主要负责人). */
  readonly ruleLadders: ReadonlyArray<{
    readonly ruleIdPrefix: string;
    readonly ladder: readonly LadderStep[];
  }>;
  readonly timeZone: string;
};

export type DutyCheckPolicy = {
  readonly enabled: boolean;
  /** Cron expression (5 or 6 fields) in `timeZone`. */
  readonly cron: string;
  readonly timeZone: string;
  /** A random delay up to this after each cron time, so checks are not predictable. */
  readonly jitterMs: number;
  readonly ringTimeoutMs: number;
  readonly keyTimeoutMs: number;
  readonly retries: number;
  readonly retryAfterMs: number;
  readonly confirmKey: string;
  readonly promptRepeats: number;
  readonly missedPriority: Priority;
};
