/**
 * Findings (隐患): origin, grade, deadline, the 五落实 plan (measures, funds, time, responsible person, contingency
 * plan), states and who may move them (docs/findings.md). The state machine is the hidden-danger one: the enterprise
 * rectifies and verifies, only a regulator signs off (销号). Pure.
 */
import type { Capability } from '../../auth/domain/capability.policy';
import {
  checkHiddenDangerMove,
  type HiddenDangerMove,
  type HiddenDangerState,
} from '../../regulator/domain/hidden-danger.machine';

export const FINDING_ORIGINS = ['alarm', 'inspection', 'self_check', 'public_report'] as const;
export type FindingOrigin = (typeof FINDING_ORIGINS)[number];
export const FINDING_GRADES = ['major', 'general'] as const;
export type FindingGrade = (typeof FINDING_GRADES)[number];
export type FindingStatus = HiddenDangerState;
export const FINDING_STATUSES: readonly FindingStatus[] = ['open', 'rectifying', 'verified', 'closed'];
export const GRADE_ZH: Readonly<Record<FindingGrade, string>> = {
  major: '重大事故隐患',
  general: '一般事故隐患',
};

/** 五落实: 措施、资金、时限、责任人、预案. */
export type FindingPlan = {
  readonly measures?: string;
  readonly fundsCny?: number;
  readonly due?: number;
  readonly responsible?: string;
  readonly contingency?: string;
};

export type Finding = {
  readonly id: string;
  readonly siteId: string;
  readonly sourceId?: string;
  readonly alarmId?: string;
  readonly origin: FindingOrigin;
  readonly grade: FindingGrade;
  readonly title: string;
  readonly description: string;
  readonly status: FindingStatus;
  readonly deadline: number;
  readonly plan: FindingPlan;
  readonly reportedBy: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly escalatedAt?: number;
  readonly closedAt?: number;
  readonly closedBy?: string;
  /** The hidden-danger item of the disposal loop this finding was converted from. */
  readonly hiddenDangerId?: string;
};

const PLAN_FIELDS_ZH: ReadonlyArray<[keyof FindingPlan, string]> = [
  ['measures', '整改措施'],
  ['fundsCny', '整改资金'],
  ['due', '整改时限'],
  ['responsible', '整改责任人'],
  ['contingency', '应急预案'],
];

/** The 五落实 fields still missing (a major finding needs all five before rectification starts; a general one measures and responsible). */
export function missingPlan(f: Pick<Finding, 'grade' | 'plan'>): string[] {
  const needed =
    f.grade === 'major'
      ? PLAN_FIELDS_ZH
      : PLAN_FIELDS_ZH.filter(([k]) => k === 'measures' || k === 'responsible');
  return needed.filter(([k]) => f.plan[k] === undefined || f.plan[k] === '').map(([, zh]) => zh);
}

export function checkFindingMove(
  f: Pick<Finding, 'status' | 'grade' | 'plan'>,
  to: FindingStatus,
  holds: (c: Capability) => boolean,
): HiddenDangerMove {
  const move = checkHiddenDangerMove(f.status, to, holds);
  if (!move.ok) return move;
  if (to === 'rectifying') {
    const missing = missingPlan(f);
    if (missing.length > 0)
      return {
        ok: false,
        status: 409,
        reason: `${GRADE_ZH[f.grade]}整改前须落实：${missing.join('、')} (五落实 incomplete)`,
      };
  }
  return { ok: true };
}

/** Overdue: not yet rectified and verified by the deadline. */
export const isOverdue = (f: Pick<Finding, 'status' | 'deadline'>, now: number): boolean =>
  (f.status === 'open' || f.status === 'rectifying') && now >= f.deadline;

/** Rule id of a finding's overdue condition (an external condition alarm). */
export const FINDING_OVERDUE_RULE = 'ext:finding-overdue:';
