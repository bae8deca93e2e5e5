import { fencedStatement } from '../cluster/fenced-statement';
import type { Database } from '../storage/database.service';
import type {
  AttemptEnd,
  AttemptRow,
  AttemptView,
  CallEventRow,
  CalloutFence,
  CalloutFilter,
  CalloutStore,
  CalloutView,
  DutyCheckFilter,
  DutyCheckView,
  DutySummaryRow,
} from './callout.store';
import { isCallOutcome, type CalleeRole } from './domain/callout.types';
import { DUTY_CHECK_RESULTS, type DutyCheckResult, type DutyCheckState } from './domain/duty-check.machine';
import type { CalloutState } from './domain/escalation.machine';

const iso = (t: Date | null | undefined): string | undefined => (t ? t.toISOString() : undefined);
const ts = (ms: number | undefined): Date | null => (ms === undefined ? null : new Date(ms));

/**
 * An insert, plain or under a guard (`INSERT … SELECT … WHERE guard`, the form `fencedStatement` needs): in cluster
 * mode every call-out step is written only while this node holds the site's lease (docs/adr/0026-cluster-callouts-feeds.md).
 */
const insertSql = (head: string, values: string, tail: string, guard?: string): string =>
  guard === undefined
    ? `${head} VALUES (${values}) ${tail}`
    : `${head} SELECT ${values} WHERE ${guard} ${tail}`;
const andGuard = (guard?: string): string => (guard === undefined ? '' : ` AND ${guard}`);

const UPSERT_CALLOUT = (guard?: string): string =>
  insertSql(
    `INSERT INTO callout (id, alarm_id, site_id, source_id, rule_id, priority, status, stop_reason, started_at, ended_at, acked_by, state, updated_at)`,
    `$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now()`,
    `ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, stop_reason = EXCLUDED.stop_reason, ended_at = EXCLUDED.ended_at,
  acked_by = EXCLUDED.acked_by, state = EXCLUDED.state, updated_at = now()`,
    guard,
  );

const UPSERT_DUTY = `
INSERT INTO duty_check (id, site_id, trigger, scheduled_at, status, result, completed_at, alarm_raised, state, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, result = EXCLUDED.result, completed_at = EXCLUDED.completed_at,
  alarm_raised = duty_check.alarm_raised OR EXCLUDED.alarm_raised, state = EXCLUDED.state, updated_at = now()`;

const INSERT_ATTEMPT = (guard?: string): string =>
  insertSql(
    `INSERT INTO call_attempt (id, callout_id, duty_check_id, alarm_id, site_id, callee_role, callee_name, number, loop, step, attempt_no,
  placed_at, provider, prompt_version, finding_id)`,
    `$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15`,
    `ON CONFLICT (id) DO NOTHING`,
    guard,
  );

const ANSWER_ATTEMPT = (guard?: string): string =>
  `UPDATE call_attempt SET answered_at = coalesce(answered_at, $2) WHERE id = $1${andGuard(guard)}`;

const FINISH_ATTEMPT = (guard?: string): string => `
UPDATE call_attempt SET outcome = $2, ended_at = $3, answered_at = coalesce(answered_at, $4), provider_call_id = coalesce($5, provider_call_id),
  sip_code = $6, sip_status = $7, digits = $8, detail = $9
WHERE id = $1 AND outcome IS NULL${andGuard(guard)}`;

const INSERT_EVENT = (guard?: string): string =>
  insertSql(
    `INSERT INTO call_event (attempt_id, event_key, at, kind, sip_code, detail)`,
    `$1, $2, $3, $4, $5, $6`,
    `ON CONFLICT (attempt_id, event_key) DO NOTHING`,
    guard,
  );

type AttemptDbRow = {
  id: string;
  callout_id: string | null;
  duty_check_id: string | null;
  callee_role: CalleeRole;
  callee_name: string;
  number: string;
  loop: number | null;
  step: number | null;
  attempt_no: number;
  placed_at: Date;
  answered_at: Date | null;
  ended_at: Date | null;
  provider: string;
  provider_call_id: string | null;
  sip_code: number | null;
  sip_status: string | null;
  digits: string;
  outcome: string | null;
  prompt_version: string | null;
  detail: string | null;
  events: Array<{ at: string; kind: string; sip_code: number | null; detail: string | null }> | null;
};

const ATTEMPTS_OF = (column: 'callout_id' | 'duty_check_id'): string => `
SELECT a.*, (SELECT json_agg(json_build_object('at', e.at, 'kind', e.kind, 'sip_code', e.sip_code, 'detail', e.detail) ORDER BY e.at, e.id)
             FROM call_event e WHERE e.attempt_id = a.id) AS events
FROM call_attempt a WHERE a.${column} = ANY($1) ORDER BY a.placed_at, a.id`;

function toAttemptView(r: AttemptDbRow): AttemptView {
  return {
    id: r.id,
    calleeRole: r.callee_role,
    calleeName: r.callee_name,
    number: r.number,
    ...(r.loop !== null ? { loop: r.loop } : {}),
    ...(r.step !== null ? { step: r.step } : {}),
    attemptNo: r.attempt_no,
    placedAt: r.placed_at.toISOString(),
    ...(r.answered_at ? { answeredAt: r.answered_at.toISOString() } : {}),
    ...(r.ended_at ? { endedAt: r.ended_at.toISOString() } : {}),
    provider: r.provider,
    ...(r.provider_call_id !== null ? { providerCallId: r.provider_call_id } : {}),
    ...(r.sip_code !== null ? { sipCode: r.sip_code } : {}),
    ...(r.sip_status !== null ? { sipStatus: r.sip_status } : {}),
    digits: r.digits,
    ...(r.outcome !== null && isCallOutcome(r.outcome) ? { outcome: r.outcome } : {}),
    ...(r.prompt_version !== null ? { promptVersion: r.prompt_version } : {}),
    ...(r.detail !== null ? { detail: r.detail } : {}),
    events: (r.events ?? []).map((e) => ({
      at: new Date(e.at).toISOString(),
      kind: e.kind,
      ...(e.sip_code !== null ? { sipCode: e.sip_code } : {}),
      ...(e.detail !== null ? { detail: e.detail } : {}),
    })),
  };
}

/** SQL side of the call-out store (tables callout, duty_check, call_attempt, call_event). */
export class CalloutRepository implements CalloutStore {
  constructor(private readonly db: Pick<Database, 'query'>) {}

  /** One write: plain on a single node, under the site's lease with a fencing token (throws FencedError when stale). */
  private async write(
    sql: (guard?: string) => string,
    params: unknown[],
    fence?: CalloutFence,
  ): Promise<number> {
    if (!fence) return (await this.db.query(sql(), params)).rowCount ?? 0;
    return fencedStatement(this.db, fence, sql, params);
  }

  async saveCallout(s: CalloutState, fence?: CalloutFence): Promise<void> {
    const ackedBy = s.ackedBy
      ? `${s.ackedBy.callee.name} (${s.ackedBy.callee.role}) ${s.ackedBy.callee.number}`
      : null;
    await this.write(
      UPSERT_CALLOUT,
      [
        s.id,
        s.alarmId,
        s.siteId,
        s.sourceId,
        s.ruleId,
        s.priority,
        s.status,
        s.stopReason ?? null,
        new Date(s.raisedAt),
        ts(s.endedAt),
        ackedBy,
        JSON.stringify(s),
      ],
      fence,
    );
  }

  async saveDutyCheck(s: DutyCheckState, alarmRaised: boolean): Promise<void> {
    await this.db.query(UPSERT_DUTY, [
      s.id,
      s.siteId,
      s.trigger,
      new Date(s.scheduledAt),
      s.status,
      s.result ?? null,
      ts(s.completedAt),
      alarmRaised,
      JSON.stringify(s),
    ]);
  }

  async insertAttempt(a: AttemptRow, fence?: CalloutFence): Promise<void> {
    await this.write(
      INSERT_ATTEMPT,
      [
        a.id,
        a.calloutId ?? null,
        a.dutyCheckId ?? null,
        a.alarmId ?? null,
        a.siteId,
        a.calleeRole,
        a.calleeName,
        a.number,
        a.loop ?? null,
        a.step ?? null,
        a.attemptNo,
        new Date(a.placedAt),
        a.provider,
        a.promptVersion ?? null,
        a.findingId ?? null,
      ],
      fence,
    );
  }

  async answerAttempt(id: string, at: number, fence?: CalloutFence): Promise<void> {
    await this.write(ANSWER_ATTEMPT, [id, new Date(at)], fence);
  }

  async finishAttempt(id: string, e: AttemptEnd, fence?: CalloutFence): Promise<boolean> {
    const n = await this.write(
      FINISH_ATTEMPT,
      [
        id,
        e.outcome,
        new Date(e.endedAt),
        ts(e.answeredAt),
        e.providerCallId ?? null,
        e.sipCode ?? null,
        e.sipStatus ?? null,
        e.digits,
        e.detail ?? null,
      ],
      fence,
    );
    return n > 0;
  }

  async addEvent(e: CallEventRow, fence?: CalloutFence): Promise<void> {
    await this.write(
      INSERT_EVENT,
      [e.attemptId, e.key, new Date(e.at), e.kind, e.sipCode ?? null, e.detail ?? null],
      fence,
    );
  }

  async activeCallouts(siteId?: string): Promise<CalloutState[]> {
    const r = await this.db.query<{ state: CalloutState }>(
      `SELECT state FROM callout WHERE status = 'active' AND ($1::text IS NULL OR site_id = $1) ORDER BY started_at`,
      [siteId ?? null],
    );
    return r.rows.map((x) => x.state);
  }

  async hasCallout(alarmId: string, since: number): Promise<boolean> {
    const r = await this.db.query(`SELECT 1 FROM callout WHERE alarm_id = $1 AND started_at >= $2 LIMIT 1`, [
      alarmId,
      new Date(since),
    ]);
    return (r.rowCount ?? 0) > 0;
  }

  async runningDutyChecks(): Promise<DutyCheckState[]> {
    const r = await this.db.query<{ state: DutyCheckState }>(
      `SELECT state FROM duty_check WHERE status = 'running' ORDER BY scheduled_at`,
    );
    return r.rows.map((x) => x.state);
  }

  private async attemptsBy(
    column: 'callout_id' | 'duty_check_id',
    ids: string[],
  ): Promise<Map<string, AttemptView[]>> {
    const out = new Map<string, AttemptView[]>();
    if (ids.length === 0) return out;
    const r = await this.db.query<AttemptDbRow>(ATTEMPTS_OF(column), [ids]);
    for (const row of r.rows) {
      const key = (column === 'callout_id' ? row.callout_id : row.duty_check_id) ?? '';
      let list = out.get(key);
      if (!list) out.set(key, (list = []));
      list.push(toAttemptView(row));
    }
    return out;
  }

  async listCallouts(f: CalloutFilter): Promise<CalloutView[]> {
    const r = await this.db.query<{
      id: string;
      state: CalloutState;
      started_at: Date;
      ended_at: Date | null;
      acked_by: string | null;
    }>(
      `SELECT id, state, started_at, ended_at, acked_by FROM callout
       WHERE ($1::text IS NULL OR alarm_id = $1) AND ($2::text IS NULL OR site_id = $2) AND ($3::text[] IS NULL OR site_id = ANY($3))
         AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM call_attempt a WHERE a.callout_id = callout.id AND a.outcome = $4))
         AND ($5::timestamptz IS NULL OR started_at >= $5 OR ($8::boolean AND (ended_at IS NULL OR ended_at >= $5)))
         AND ($6::timestamptz IS NULL OR started_at < $6)
       ORDER BY started_at DESC, id LIMIT $7`,
      [
        f.alarmId ?? null,
        f.siteId ?? null,
        f.siteIds ? [...f.siteIds] : null,
        f.outcome ?? null,
        ts(f.from),
        ts(f.to),
        f.limit,
        f.overlapping === true,
      ],
    );
    const attempts = await this.attemptsBy(
      'callout_id',
      r.rows.map((x) => x.id),
    );
    return r.rows.map((row) => {
      const s = row.state;
      return {
        id: s.id,
        alarmId: s.alarmId,
        siteId: s.siteId,
        sourceId: s.sourceId,
        ruleId: s.ruleId,
        priority: s.priority,
        status: s.status,
        ...(s.stopReason ? { stopReason: s.stopReason } : {}),
        startedAt: row.started_at.toISOString(),
        ...(row.ended_at ? { endedAt: iso(row.ended_at) } : {}),
        ...(row.acked_by ? { ackedBy: row.acked_by } : {}),
        loop: s.loop + 1,
        step: s.step + 1,
        skipped: s.skipped.map((k) => ({
          loop: k.loop + 1,
          step: k.step + 1,
          role: k.role,
          reason: k.reason,
          at: new Date(k.at).toISOString(),
        })),
        attempts: attempts.get(s.id) ?? [],
      };
    });
  }

  async listDutyChecks(f: DutyCheckFilter): Promise<DutyCheckView[]> {
    const r = await this.db.query<{
      id: string;
      site_id: string;
      trigger: DutyCheckState['trigger'];
      scheduled_at: Date;
      status: DutyCheckState['status'];
      result: DutyCheckResult | null;
      completed_at: Date | null;
      alarm_raised: boolean;
    }>(
      `SELECT id, site_id, trigger, scheduled_at, status, result, completed_at, alarm_raised FROM duty_check
       WHERE ($1::text IS NULL OR site_id = $1) AND ($2::text[] IS NULL OR site_id = ANY($2)) AND ($3::text IS NULL OR result = $3)
         AND ($4::timestamptz IS NULL OR scheduled_at >= $4) AND ($5::timestamptz IS NULL OR scheduled_at < $5)
       ORDER BY scheduled_at DESC, id LIMIT $6`,
      [f.siteId ?? null, f.siteIds ? [...f.siteIds] : null, f.result ?? null, ts(f.from), ts(f.to), f.limit],
    );
    const attempts = await this.attemptsBy(
      'duty_check_id',
      r.rows.map((x) => x.id),
    );
    return r.rows.map((row) => ({
      id: row.id,
      siteId: row.site_id,
      trigger: row.trigger,
      scheduledAt: row.scheduled_at.toISOString(),
      status: row.status,
      ...(row.result !== null ? { result: row.result } : {}),
      ...(row.completed_at ? { completedAt: row.completed_at.toISOString() } : {}),
      alarmRaised: row.alarm_raised,
      attempts: attempts.get(row.id) ?? [],
    }));
  }

  async dutySummary(from: number, to: number, siteIds?: readonly string[]): Promise<DutySummaryRow[]> {
    const r = await this.db.query<{ site_id: string; result: string | null; n: string }>(
      `SELECT site_id, result, count(*) AS n FROM duty_check
       WHERE scheduled_at >= $1 AND scheduled_at < $2 AND ($3::text[] IS NULL OR site_id = ANY($3))
       GROUP BY site_id, result ORDER BY site_id, result`,
      [new Date(from), new Date(to), siteIds ? [...siteIds] : null],
    );
    return r.rows.map((x) => ({
      siteId: x.site_id,
      result:
        x.result !== null && (DUTY_CHECK_RESULTS as readonly string[]).includes(x.result)
          ? (x.result as DutyCheckResult)
          : 'running',
      count: Number(x.n),
    }));
  }
}
