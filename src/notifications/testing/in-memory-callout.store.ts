import type {
  AttemptEnd,
  AttemptRow,
  AttemptView,
  CallEventRow,
  CalloutFilter,
  CalloutStore,
  CalloutView,
  DutyCheckFilter,
  DutyCheckView,
  DutySummaryRow,
} from '../callout.store';
import type { DutyCheckState } from '../domain/duty-check.machine';
import type { CalloutState } from '../domain/escalation.machine';

type Attempt = AttemptRow & Partial<AttemptEnd> & { answeredAt?: number };

const iso = (t: number | undefined): string | undefined =>
  t === undefined ? undefined : new Date(t).toISOString();

/** The call-out store in memory, with the SQL repository's semantics (idempotent attempts and events, first end wins). */
export class InMemoryCalloutStore implements CalloutStore {
  readonly callouts = new Map<string, CalloutState>();
  readonly dutyChecks = new Map<string, { state: DutyCheckState; alarmRaised: boolean }>();
  readonly attempts = new Map<string, Attempt>();
  readonly events: CallEventRow[] = [];

  async saveCallout(s: CalloutState): Promise<void> {
    this.callouts.set(s.id, structuredClone(s));
  }
  async saveDutyCheck(s: DutyCheckState, alarmRaised: boolean): Promise<void> {
    const prev = this.dutyChecks.get(s.id);
    this.dutyChecks.set(s.id, {
      state: structuredClone(s),
      alarmRaised: alarmRaised || (prev?.alarmRaised ?? false),
    });
  }
  async insertAttempt(a: AttemptRow): Promise<void> {
    if (!this.attempts.has(a.id)) this.attempts.set(a.id, { ...a });
  }
  async answerAttempt(id: string, at: number): Promise<void> {
    const a = this.attempts.get(id);
    if (a && a.answeredAt === undefined) a.answeredAt = at;
  }
  async finishAttempt(id: string, end: AttemptEnd): Promise<boolean> {
    const a = this.attempts.get(id);
    if (!a || a.outcome !== undefined) return false;
    this.attempts.set(id, { ...a, ...end, answeredAt: a.answeredAt ?? end.answeredAt });
    return true;
  }
  async addEvent(e: CallEventRow): Promise<void> {
    if (!this.events.some((x) => x.attemptId === e.attemptId && x.key === e.key)) this.events.push(e);
  }
  async activeCallouts(siteId?: string): Promise<CalloutState[]> {
    return [...this.callouts.values()]
      .filter((c) => c.status === 'active' && (siteId === undefined || c.siteId === siteId))
      .map((c) => structuredClone(c));
  }
  async hasCallout(alarmId: string, since: number): Promise<boolean> {
    return [...this.callouts.values()].some((c) => c.alarmId === alarmId && c.raisedAt >= since);
  }
  async runningDutyChecks(): Promise<DutyCheckState[]> {
    return [...this.dutyChecks.values()]
      .filter((d) => d.state.status === 'running')
      .map((d) => structuredClone(d.state));
  }

  private view(a: Attempt): AttemptView {
    return {
      id: a.id,
      calleeRole: a.calleeRole,
      calleeName: a.calleeName,
      number: a.number,
      ...(a.loop !== undefined ? { loop: a.loop } : {}),
      ...(a.step !== undefined ? { step: a.step } : {}),
      attemptNo: a.attemptNo,
      placedAt: new Date(a.placedAt).toISOString(),
      ...(a.answeredAt !== undefined ? { answeredAt: iso(a.answeredAt) } : {}),
      ...(a.endedAt !== undefined ? { endedAt: iso(a.endedAt) } : {}),
      provider: a.provider,
      ...(a.providerCallId !== undefined ? { providerCallId: a.providerCallId } : {}),
      ...(a.sipCode !== undefined ? { sipCode: a.sipCode } : {}),
      ...(a.sipStatus !== undefined ? { sipStatus: a.sipStatus } : {}),
      digits: a.digits ?? '',
      ...(a.outcome !== undefined ? { outcome: a.outcome } : {}),
      ...(a.promptVersion !== undefined ? { promptVersion: a.promptVersion } : {}),
      ...(a.detail !== undefined ? { detail: a.detail } : {}),
      events: this.events
        .filter((e) => e.attemptId === a.id)
        .map((e) => ({
          at: new Date(e.at).toISOString(),
          kind: e.kind,
          ...(e.sipCode !== undefined ? { sipCode: e.sipCode } : {}),
          ...(e.detail !== undefined ? { detail: e.detail } : {}),
        })),
    };
  }

  async listCallouts(f: CalloutFilter): Promise<CalloutView[]> {
    return [...this.callouts.values()]
      .filter(
        (c) =>
          (f.alarmId === undefined || c.alarmId === f.alarmId) &&
          (f.siteId === undefined || c.siteId === f.siteId) &&
          (!f.siteIds || f.siteIds.includes(c.siteId)),
      )
      .filter(
        (c) =>
          f.outcome === undefined ||
          [...this.attempts.values()].some((a) => a.calloutId === c.id && a.outcome === f.outcome),
      )
      .sort((a, b) => b.raisedAt - a.raisedAt)
      .slice(0, f.limit)
      .map((s) => ({
        id: s.id,
        alarmId: s.alarmId,
        siteId: s.siteId,
        sourceId: s.sourceId,
        ruleId: s.ruleId,
        priority: s.priority,
        status: s.status,
        ...(s.stopReason ? { stopReason: s.stopReason } : {}),
        startedAt: new Date(s.raisedAt).toISOString(),
        ...(s.endedAt !== undefined ? { endedAt: iso(s.endedAt) } : {}),
        ...(s.ackedBy
          ? { ackedBy: `${s.ackedBy.callee.name} (${s.ackedBy.callee.role}) ${s.ackedBy.callee.number}` }
          : {}),
        loop: s.loop + 1,
        step: s.step + 1,
        skipped: s.skipped.map((k) => ({
          loop: k.loop + 1,
          step: k.step + 1,
          role: k.role,
          reason: k.reason,
          at: new Date(k.at).toISOString(),
        })),
        attempts: [...this.attempts.values()].filter((a) => a.calloutId === s.id).map((a) => this.view(a)),
      }));
  }

  async listDutyChecks(f: DutyCheckFilter): Promise<DutyCheckView[]> {
    return [...this.dutyChecks.values()]
      .filter(
        ({ state: s }) =>
          (f.siteId === undefined || s.siteId === f.siteId) &&
          (!f.siteIds || f.siteIds.includes(s.siteId)) &&
          (f.result === undefined || s.result === f.result),
      )
      .sort((a, b) => b.state.scheduledAt - a.state.scheduledAt)
      .slice(0, f.limit)
      .map(({ state: s, alarmRaised }) => ({
        id: s.id,
        siteId: s.siteId,
        trigger: s.trigger,
        scheduledAt: new Date(s.scheduledAt).toISOString(),
        status: s.status,
        ...(s.result ? { result: s.result } : {}),
        ...(s.completedAt !== undefined ? { completedAt: iso(s.completedAt) } : {}),
        alarmRaised,
        attempts: [...this.attempts.values()].filter((a) => a.dutyCheckId === s.id).map((a) => this.view(a)),
      }));
  }

  async dutySummary(from: number, to: number, siteIds?: readonly string[]): Promise<DutySummaryRow[]> {
    const counts = new Map<string, DutySummaryRow>();
    for (const { state: s } of this.dutyChecks.values()) {
      if (s.scheduledAt < from || s.scheduledAt >= to || (siteIds && !siteIds.includes(s.siteId))) continue;
      const result = s.result ?? 'running';
      const key = `${s.siteId}|${result}`;
      const row = counts.get(key) ?? { siteId: s.siteId, result, count: 0 };
      counts.set(key, { ...row, count: row.count + 1 });
    }
    return [...counts.values()];
  }
}
