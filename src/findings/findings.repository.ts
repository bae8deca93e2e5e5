/** Findings storage (migrations/1764001600300_findings.sql). Parameterised SQL only. */
import { Inject, Injectable } from '@nestjs/common';
import type { QueryResult, QueryResultRow } from 'pg';
import type { TxClient } from '../storage/database.service';
import type { Finding, FindingPlan, FindingStatus } from './domain/finding.policy';

export const FINDINGS_SQL = Symbol('FINDINGS_SQL');
export type FindingsSql = {
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>>;
  withTransaction<T>(fn: (tx: TxClient) => Promise<T>): Promise<T>;
};

export type FindingEvent = {
  readonly n: number;
  readonly at: string;
  readonly kind: 'created' | 'plan' | 'transition' | 'escalated' | 'notified';
  readonly from?: string;
  readonly to?: string;
  readonly actor: string;
  readonly actorRole: string;
  readonly comment?: string;
};

const COLUMNS = `id, site_id, source_id, alarm_id, origin, grade, title, description, status, deadline, plan_measures, plan_funds_cny,
  plan_due, plan_responsible, plan_contingency, reported_by, created_at, updated_at, escalated_at, closed_at, closed_by, hidden_danger_id`;
const INSERT = `INSERT INTO finding (id, site_id, source_id, alarm_id, origin, grade, title, description, status, deadline, reported_by, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $10, $11, $11)`;
const INSERT_CONVERTED = `INSERT INTO finding (id, site_id, source_id, alarm_id, origin, grade, title, description, status, deadline, reported_by, created_at, updated_at, hidden_danger_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $10, $11, $11, $12)`;
/** Compare-and-set: the item is still unconverted and in the state the caller checked. */
const HD_LINK = `UPDATE hidden_danger SET finding_id = $2, updated_at = $3 WHERE id = $1 AND finding_id IS NULL AND status = $4`;
const HD_EVENT = `INSERT INTO hidden_danger_event (danger_id, n, at, from_status, to_status, actor, actor_role, comment)
VALUES ($1, (SELECT COALESCE(max(n), 0) + 1 FROM hidden_danger_event WHERE danger_id = $1), $2, $3, $3, $4, $5, $6)`;
const HD_GET = `SELECT id, alarm_id, site_id, source_id, title, status, finding_id FROM hidden_danger WHERE id = $1`;
const EVENT = `INSERT INTO finding_event (finding_id, n, at, kind, from_status, to_status, actor, actor_role, comment)
VALUES ($1, (SELECT COALESCE(max(n), 0) + 1 FROM finding_event WHERE finding_id = $1), $2, $3, $4, $5, $6, $7, $8)`;
const PLAN = `UPDATE finding SET plan_measures = COALESCE($2, plan_measures), plan_funds_cny = COALESCE($3, plan_funds_cny),
  plan_due = COALESCE($4, plan_due), plan_responsible = COALESCE($5, plan_responsible), plan_contingency = COALESCE($6, plan_contingency),
  updated_at = $7 WHERE id = $1 AND status IN ('open', 'rectifying')`;
const MOVE = `UPDATE finding SET status = $3::text, updated_at = $4::timestamptz,
  closed_at = CASE WHEN $3::text = 'closed' THEN $4::timestamptz END,
  closed_by = CASE WHEN $3::text = 'closed' THEN $5::text END WHERE id = $1 AND status = $2`;
const ESCALATE = `UPDATE finding SET escalated_at = $2 WHERE id = $1 AND escalated_at IS NULL`;
const GET = `SELECT ${COLUMNS} FROM finding WHERE id = $1`;
const LIST = `SELECT ${COLUMNS} FROM finding WHERE ($1::text[] IS NULL OR site_id = ANY($1)) AND ($2::text IS NULL OR grade = $2)
  AND ($3::text IS NULL OR status = $3) ORDER BY created_at DESC, id LIMIT $4`;
const DUE = `SELECT ${COLUMNS} FROM finding WHERE status IN ('open', 'rectifying') AND deadline <= $1 AND escalated_at IS NULL`;
const ESCALATED_OPEN = `SELECT ${COLUMNS} FROM finding WHERE status IN ('open', 'rectifying') AND escalated_at IS NOT NULL`;
const EVENTS = `SELECT n, at, kind, from_status, to_status, actor, actor_role, comment FROM finding_event WHERE finding_id = $1 ORDER BY n`;

type Row = {
  id: string;
  site_id: string;
  source_id: string | null;
  alarm_id: string | null;
  origin: Finding['origin'];
  grade: Finding['grade'];
  title: string;
  description: string;
  status: FindingStatus;
  deadline: Date;
  plan_measures: string | null;
  plan_funds_cny: string | null;
  plan_due: Date | null;
  plan_responsible: string | null;
  plan_contingency: string | null;
  reported_by: string;
  created_at: Date;
  updated_at: Date;
  escalated_at: Date | null;
  closed_at: Date | null;
  closed_by: string | null;
  hidden_danger_id: string | null;
};

function toFinding(r: Row): Finding {
  const plan: FindingPlan = {
    ...(r.plan_measures !== null ? { measures: r.plan_measures } : {}),
    ...(r.plan_funds_cny !== null ? { fundsCny: Number(r.plan_funds_cny) } : {}),
    ...(r.plan_due !== null ? { due: r.plan_due.getTime() } : {}),
    ...(r.plan_responsible !== null ? { responsible: r.plan_responsible } : {}),
    ...(r.plan_contingency !== null ? { contingency: r.plan_contingency } : {}),
  };
  return {
    id: r.id,
    siteId: r.site_id,
    ...(r.source_id !== null ? { sourceId: r.source_id } : {}),
    ...(r.alarm_id !== null ? { alarmId: r.alarm_id } : {}),
    origin: r.origin,
    grade: r.grade,
    title: r.title,
    description: r.description,
    status: r.status,
    deadline: r.deadline.getTime(),
    plan,
    reportedBy: r.reported_by,
    createdAt: r.created_at.getTime(),
    updatedAt: r.updated_at.getTime(),
    ...(r.escalated_at !== null ? { escalatedAt: r.escalated_at.getTime() } : {}),
    ...(r.closed_at !== null ? { closedAt: r.closed_at.getTime() } : {}),
    ...(r.closed_by !== null ? { closedBy: r.closed_by } : {}),
    ...(r.hidden_danger_id !== null ? { hiddenDangerId: r.hidden_danger_id } : {}),
  };
}

/** What a conversion needs of a hidden-danger item of the disposal loop. */
export type HiddenDangerItem = {
  readonly id: string;
  readonly alarmId?: string;
  readonly siteId: string;
  readonly sourceId?: string;
  readonly title: string;
  readonly status: FindingStatus;
  readonly findingId?: string;
};

export type Actor = { readonly name: string; readonly role: string };

@Injectable()
export class FindingsRepository {
  constructor(@Inject(FINDINGS_SQL) private readonly sql: FindingsSql) {}

  async create(f: Omit<Finding, 'status' | 'plan' | 'updatedAt'>, actor: Actor): Promise<void> {
    await this.sql.query(INSERT, [
      f.id,
      f.siteId,
      f.sourceId ?? null,
      f.alarmId ?? null,
      f.origin,
      f.grade,
      f.title,
      f.description,
      new Date(f.deadline),
      f.reportedBy,
      new Date(f.createdAt),
    ]);
    await this.event(f.id, f.createdAt, 'created', undefined, 'open', actor, undefined);
  }

  /**
   * Records a finding converted from a hidden-danger item, links both and writes both histories, in one transaction.
   * False when the item was converted or moved meanwhile (nothing is written then).
   */
  async createConverted(
    f: Omit<Finding, 'status' | 'plan' | 'updatedAt'> & { readonly hiddenDangerId: string },
    item: { readonly status: string },
    actor: Actor,
    notes: { readonly finding: string; readonly item: string },
  ): Promise<boolean> {
    const stale = new Error('hidden-danger item changed meanwhile');
    try {
      return await this.sql.withTransaction(async (tx) => {
        await tx.query(INSERT_CONVERTED, [
          f.id,
          f.siteId,
          f.sourceId ?? null,
          f.alarmId ?? null,
          f.origin,
          f.grade,
          f.title,
          f.description,
          new Date(f.deadline),
          f.reportedBy,
          new Date(f.createdAt),
          f.hiddenDangerId,
        ]);
        const linked = await tx.query(HD_LINK, [f.hiddenDangerId, f.id, new Date(f.createdAt), item.status]);
        if (linked.rowCount !== 1) throw stale; // rolls the finding back
        await tx.query(EVENT, [
          f.id,
          new Date(f.createdAt),
          'created',
          null,
          'open',
          actor.name,
          actor.role,
          notes.finding,
        ]);
        await tx.query(HD_EVENT, [
          f.hiddenDangerId,
          new Date(f.createdAt),
          item.status,
          actor.name,
          actor.role,
          notes.item,
        ]);
        return true;
      });
    } catch (err) {
      // converted meanwhile: our CAS lost, or a concurrent conversion holds the unique index on hidden_danger_id
      if (err === stale || (err as { code?: string }).code === '23505') return false;
      throw err;
    }
  }

  async plan(id: string, p: FindingPlan, at: number, actor: Actor): Promise<boolean> {
    const r = await this.sql.query(PLAN, [
      id,
      p.measures ?? null,
      p.fundsCny ?? null,
      p.due !== undefined ? new Date(p.due) : null,
      p.responsible ?? null,
      p.contingency ?? null,
      new Date(at),
    ]);
    if (r.rowCount !== 1) return false;
    await this.event(id, at, 'plan', undefined, undefined, actor, JSON.stringify(p));
    return true;
  }

  /** Compare-and-set on the status; false when it changed meanwhile. */
  async move(
    id: string,
    from: FindingStatus,
    to: FindingStatus,
    at: number,
    actor: Actor,
    comment?: string,
  ): Promise<boolean> {
    const r = await this.sql.query(MOVE, [id, from, to, new Date(at), actor.name]);
    if (r.rowCount !== 1) return false;
    await this.event(id, at, 'transition', from, to, actor, comment);
    return true;
  }

  async escalated(id: string, at: number): Promise<boolean> {
    const r = await this.sql.query(ESCALATE, [id, new Date(at)]);
    if (r.rowCount !== 1) return false;
    await this.event(
      id,
      at,
      'escalated',
      undefined,
      undefined,
      { name: 'hazwatch', role: 'system' },
      'deadline passed',
    );
    return true;
  }

  async hiddenDanger(id: string): Promise<HiddenDangerItem | undefined> {
    const r = await this.sql.query<{
      id: string;
      alarm_id: string | null;
      site_id: string;
      source_id: string | null;
      title: string;
      status: FindingStatus;
      finding_id: string | null;
    }>(HD_GET, [id]);
    const row = r.rows[0];
    if (!row) return undefined;
    return {
      id: row.id,
      ...(row.alarm_id !== null ? { alarmId: row.alarm_id } : {}),
      siteId: row.site_id,
      ...(row.source_id !== null ? { sourceId: row.source_id } : {}),
      title: row.title,
      status: row.status,
      ...(row.finding_id !== null ? { findingId: row.finding_id } : {}),
    };
  }

  async get(id: string): Promise<Finding | undefined> {
    const r = await this.sql.query<Row>(GET, [id]);
    return r.rows[0] ? toFinding(r.rows[0]) : undefined;
  }

  async list(q: {
    siteIds: readonly string[] | undefined;
    grade?: string;
    status?: string;
    limit: number;
  }): Promise<Finding[]> {
    const r = await this.sql.query<Row>(LIST, [
      q.siteIds ? [...q.siteIds] : null,
      q.grade ?? null,
      q.status ?? null,
      q.limit,
    ]);
    return r.rows.map(toFinding);
  }

  /** Open or rectifying past the deadline, escalation not yet recorded. */
  async due(now: number): Promise<Finding[]> {
    return (await this.sql.query<Row>(DUE, [new Date(now)])).rows.map(toFinding);
  }

  /** Escalated and still not rectified: their overdue alarm stays raised. */
  async escalatedOpen(): Promise<Finding[]> {
    return (await this.sql.query<Row>(ESCALATED_OPEN)).rows.map(toFinding);
  }

  /** Records a notice to the 主要负责人 and its outcome in the history. */
  async notified(id: string, at: number, comment: string): Promise<void> {
    await this.event(id, at, 'notified', undefined, undefined, { name: 'hazwatch', role: 'system' }, comment);
  }

  async events(id: string): Promise<FindingEvent[]> {
    const r = await this.sql.query<{
      n: number;
      at: Date;
      kind: FindingEvent['kind'];
      from_status: string | null;
      to_status: string | null;
      actor: string;
      actor_role: string;
      comment: string | null;
    }>(EVENTS, [id]);
    return r.rows.map((e) => ({
      n: e.n,
      at: e.at.toISOString(),
      kind: e.kind,
      ...(e.from_status !== null ? { from: e.from_status } : {}),
      ...(e.to_status !== null ? { to: e.to_status } : {}),
      actor: e.actor,
      actorRole: e.actor_role,
      ...(e.comment !== null ? { comment: e.comment } : {}),
    }));
  }

  private async event(
    id: string,
    at: number,
    kind: FindingEvent['kind'],
    from: string | undefined,
    to: string | undefined,
    actor: Actor,
    comment: string | undefined,
  ): Promise<void> {
    await this.sql.query(EVENT, [
      id,
      new Date(at),
      kind,
      from ?? null,
      to ?? null,
      actor.name,
      actor.role,
      comment ?? null,
    ]);
  }
}
