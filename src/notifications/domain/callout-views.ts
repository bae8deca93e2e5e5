/** What the API shows of call-outs, their attempts and duty checks (pure types; re-exported by callout.store.ts). */
import type { Priority } from '../../common/types';
import type { CallOutcome, CalleeRole } from './callout.types';
import type { DutyCheckResult, DutyCheckState } from './duty-check.machine';
import type { CalloutState } from './escalation.machine';

/** One attempt as the API shows it (times ISO-8601). */
export type AttemptView = {
  id: string;
  calleeRole: CalleeRole;
  calleeName: string;
  number: string;
  loop?: number;
  step?: number;
  attemptNo: number;
  placedAt: string;
  answeredAt?: string;
  endedAt?: string;
  provider: string;
  providerCallId?: string;
  sipCode?: number;
  sipStatus?: string;
  digits: string;
  outcome?: CallOutcome;
  promptVersion?: string;
  detail?: string;
  events: Array<{ at: string; kind: string; sipCode?: number; detail?: string }>;
};

export type CalloutView = {
  id: string;
  alarmId: string;
  siteId: string;
  sourceId: string;
  ruleId: string;
  priority: Priority;
  status: CalloutState['status'];
  stopReason?: string;
  startedAt: string;
  endedAt?: string;
  ackedBy?: string;
  /** Current loop and ladder step (1-based). */
  loop: number;
  step: number;
  skipped: Array<{ loop: number; step: number; role: CalleeRole; reason: string; at: string }>;
  attempts: AttemptView[];
};

export type DutyCheckView = {
  id: string;
  siteId: string;
  trigger: DutyCheckState['trigger'];
  scheduledAt: string;
  status: DutyCheckState['status'];
  result?: DutyCheckResult;
  completedAt?: string;
  alarmRaised: boolean;
  attempts: AttemptView[];
};
