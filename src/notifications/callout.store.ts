/** Persistence port of call-outs, duty checks, attempts and provider events (SQL: callout.repository.ts). */
import type { CallOutcome, CalleeRole } from './domain/callout.types';
import type { DutyCheckResult, DutyCheckState } from './domain/duty-check.machine';
import type { CalloutState } from './domain/escalation.machine';
import type { SiteFenceToken } from '../common/site-ownership';

export const CALLOUT_STORE = Symbol('CALLOUT_STORE');

export type AttemptRow = {
  readonly id: string;
  readonly calloutId?: string;
  readonly dutyCheckId?: string;
  /** A notice to the 主要负责人 about a finding (docs/findings.md); exactly one of calloutId, dutyCheckId, findingId. */
  readonly findingId?: string;
  readonly alarmId?: string;
  readonly siteId: string;
  readonly calleeRole: CalleeRole;
  readonly calleeName: string;
  readonly number: string;
  readonly loop?: number;
  readonly step?: number;
  readonly attemptNo: number;
  readonly placedAt: number;
  readonly provider: string;
  readonly promptVersion?: string;
};

export type AttemptEnd = {
  readonly outcome: CallOutcome;
  readonly endedAt: number;
  readonly answeredAt?: number;
  readonly providerCallId?: string;
  readonly sipCode?: number;
  readonly sipStatus?: string;
  readonly digits: string;
  readonly detail?: string;
};

export type CallEventRow = {
  readonly attemptId: string;
  readonly key: string;
  readonly at: number;
  readonly kind: string;
  readonly sipCode?: number;
  readonly detail?: string;
};

import type { CalloutView, DutyCheckView } from './domain/callout-views';
export type { AttemptView, CalloutView, DutyCheckView } from './domain/callout-views';

export type CalloutFilter = {
  alarmId?: string;
  siteId?: string;
  siteIds?: readonly string[];
  outcome?: CallOutcome;
  from?: number;
  to?: number;
  /** With `from`: also call-outs started earlier that were still running at `from` (not ended, or ended after it). */
  overlapping?: boolean;
  limit: number;
};
export type DutyCheckFilter = {
  siteId?: string;
  siteIds?: readonly string[];
  result?: DutyCheckResult;
  from?: number;
  to?: number;
  limit: number;
};
export type DutySummaryRow = { siteId: string; result: DutyCheckResult | 'running'; count: number };

/**
 * The fencing token of a call-out step write in cluster mode (docs/adr/0026-cluster-callouts-feeds.md): with it, a
 * write is made only while this node holds the site's lease with this epoch, else it throws FencedError
 * (src/cluster/fence.ts) and nothing is written. Without it (single node, duty checks, notices) writes are plain.
 */
export type CalloutFence = SiteFenceToken;

export type CalloutStore = {
  saveCallout(s: CalloutState, fence?: CalloutFence): Promise<void>;
  saveDutyCheck(s: DutyCheckState, alarmRaised: boolean): Promise<void>;
  /** Idempotent on the attempt id. Written before the provider dials, so a restart knows the call was placed. */
  insertAttempt(a: AttemptRow, fence?: CalloutFence): Promise<void>;
  answerAttempt(id: string, at: number, fence?: CalloutFence): Promise<void>;
  /** The first end report wins; returns false when the attempt had already ended. */
  finishAttempt(id: string, end: AttemptEnd, fence?: CalloutFence): Promise<boolean>;
  /** Idempotent on (attempt, key). */
  addEvent(e: CallEventRow, fence?: CalloutFence): Promise<void>;
  /** Call-outs still running (of one site when given: what the site's new owner resumes). */
  activeCallouts(siteId?: string): Promise<CalloutState[]>;
  /** Whether any call-out of this alarm started at or after `since` (restart recovery). */
  hasCallout(alarmId: string, since: number): Promise<boolean>;
  runningDutyChecks(): Promise<DutyCheckState[]>;
  listCallouts(f: CalloutFilter): Promise<CalloutView[]>;
  listDutyChecks(f: DutyCheckFilter): Promise<DutyCheckView[]>;
  dutySummary(from: number, to: number, siteIds?: readonly string[]): Promise<DutySummaryRow[]>;
};
