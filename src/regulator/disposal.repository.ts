import { Inject, Injectable } from '@nestjs/common';
import type { Priority } from '../common/types';
import { FEED_SQL, date, ms, type FeedSql } from './regulator-sql';

export type NewObligation = {
  readonly incident: string;
  readonly alarmId: string;
  readonly siteId: string;
  readonly sourceId: string;
  readonly priority: Priority;
  readonly raisedAt: number;
  readonly dueAt: number;
};

export type Obligation = NewObligation & {
  readonly status: 'awaiting' | 'filed' | 'accepted';
  readonly filedAt: number | null;
  readonly overdueAt: number | null;
  readonly returned: number;
  readonly closedAt: number | null;
};

export type Disposition = {
  readonly id: string;
  readonly alarmId: string;
  readonly incident: string | null;
  readonly siteId: string;
  readonly cause: string;
  readonly actions: string;
  readonly closedBy: string;
  readonly attachments: readonly string[];
  readonly filedBy: string;
  readonly filedAt: number;
  readonly filedSeq: number;
  readonly status: 'filed' | 'accepted' | 'returned';
  readonly reviewedBy: string | null;
  readonly reviewedAt: number | null;
  readonly reviewComment: string | null;
  readonly reviewedSeq: number | null;
};

export type HiddenDangerStatus = 'open' | 'rectifying' | 'verified' | 'closed';
export type HiddenDanger = {
  readonly id: string;
  readonly alarmId: string | null;
  readonly siteId: string;
  readonly sourceId: string | null;
  readonly title: string;
  readonly status: HiddenDangerStatus;
  /** Set when the item was converted into a finding (docs/findings.md); it then no longer moves. */
  readonly findingId: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly history: Array<{
    n: number;
    at: number;
    from: HiddenDangerStatus | null;
    to: HiddenDangerStatus;
    actor: string;
    actorRole: string;
    comment: string | null;
  }>;
};

// ---------------------------------------------------------------------------------------------------------------------
// SQL (parameterised constants)

export const OBLIGATION_COLUMNS = `incident, alarm_id, site_id, source_id, priority, raised_at, due_at, status, filed_at, overdue_at, returned, closed_at`;
const DUE_OBLIGATIONS = `SELECT ${OBLIGATION_COLUMNS} FROM disposal_obligation WHERE status = 'awaiting' AND overdue_at IS NULL AND due_at <= $1 ORDER BY due_at LIMIT 500`;
const OVERDUE_ACTIVE = `SELECT ${OBLIGATION_COLUMNS} FROM disposal_obligation WHERE status = 'awaiting' AND overdue_at IS NOT NULL`;
const MARK_OVERDUE = `UPDATE disposal_obligation SET overdue_at = $2 WHERE incident = $1 AND overdue_at IS NULL`;
const LATEST_OBLIGATION = `SELECT ${OBLIGATION_COLUMNS} FROM disposal_obligation WHERE alarm_id = $1 ORDER BY raised_at DESC LIMIT 1`;
const OBLIGATION_FILED = `UPDATE disposal_obligation SET status = 'filed', filed_at = COALESCE(filed_at, $2) WHERE incident = $1 AND status = 'awaiting'`;
const OBLIGATION_REVIEWED = `UPDATE disposal_obligation SET
  status = CASE WHEN $2::boolean THEN 'accepted' ELSE 'awaiting' END,
  closed_at = CASE WHEN $2::boolean THEN $3::timestamptz ELSE NULL END,
  returned = returned + CASE WHEN $2::boolean THEN 0 ELSE 1 END,
  due_at = CASE WHEN $2::boolean THEN due_at ELSE $4::timestamptz END,
  overdue_at = CASE WHEN $2::boolean THEN overdue_at ELSE NULL END
WHERE incident = $1 AND status = 'filed'`;

const DISPOSITION_COLUMNS = `id, alarm_id, incident, site_id, cause, actions, closed_by, attachments, filed_by, filed_at, filed_seq, status, reviewed_by, reviewed_at, review_comment, reviewed_seq`;
const INSERT_DISPOSITION = `INSERT INTO alarm_disposition (id, alarm_id, incident, site_id, cause, actions, closed_by, attachments, filed_by, filed_at, filed_seq)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${DISPOSITION_COLUMNS}`;
const DISPOSITIONS_OF_ALARM = `SELECT ${DISPOSITION_COLUMNS} FROM alarm_disposition WHERE alarm_id = $1 ORDER BY filed_at, id`;
const REVIEW_DISPOSITION = `UPDATE alarm_disposition SET status = $2, reviewed_by = $3, reviewed_at = $4, review_comment = $5, reviewed_seq = $6
WHERE id = $1 AND status = 'filed' RETURNING ${DISPOSITION_COLUMNS}`;

const HD_INSERT = `INSERT INTO hidden_danger (id, alarm_id, site_id, source_id, title, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'open', $6, $6)`;
const HD_EVENT = `INSERT INTO hidden_danger_event (danger_id, n, at, from_status, to_status, actor, actor_role, comment)
VALUES ($1, (SELECT COALESCE(max(n), 0) + 1 FROM hidden_danger_event WHERE danger_id = $1), $2, $3, $4, $5, $6, $7)`;
const HD_MOVE = `UPDATE hidden_danger SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2 AND finding_id IS NULL`;
const HD_SELECT = `SELECT h.id, h.alarm_id, h.site_id, h.source_id, h.title, h.status, h.finding_id, h.created_at, h.updated_at,
  COALESCE((SELECT json_agg(json_build_object('n', e.n, 'at', e.at, 'from', e.from_status, 'to', e.to_status, 'actor', e.actor, 'actorRole', e.actor_role, 'comment', e.comment) ORDER BY e.n)
    FROM hidden_danger_event e WHERE e.danger_id = h.id), '[]') AS history
FROM hidden_danger h`;
const HD_GET = `${HD_SELECT} WHERE h.id = $1`;
const HD_LIST = `${HD_SELECT} WHERE ($1::text[] IS NULL OR h.site_id = ANY($1)) AND ($2::text IS NULL OR h.alarm_id = $2) AND ($3::text IS NULL OR h.status = $3)
ORDER BY h.created_at DESC LIMIT 1000`;

// ---------------------------------------------------------------------------------------------------------------------
// row mapping

export type ObligationRow = {
  incident: string;
  alarm_id: string;
  site_id: string;
  source_id: string;
  priority: Priority;
  raised_at: Date;
  due_at: Date;
  status: Obligation['status'];
  filed_at: Date | null;
  overdue_at: Date | null;
  returned: number;
  closed_at: Date | null;
};
export const toObligation = (r: ObligationRow): Obligation => ({
  incident: r.incident,
  alarmId: r.alarm_id,
  siteId: r.site_id,
  sourceId: r.source_id,
  priority: r.priority,
  raisedAt: r.raised_at.getTime(),
  dueAt: r.due_at.getTime(),
  status: r.status,
  filedAt: ms(r.filed_at),
  overdueAt: ms(r.overdue_at),
  returned: r.returned,
  closedAt: ms(r.closed_at),
});

type DispositionRow = {
  id: string;
  alarm_id: string;
  incident: string | null;
  site_id: string;
  cause: string;
  actions: string;
  closed_by: string;
  attachments: string[];
  filed_by: string;
  filed_at: Date;
  filed_seq: string;
  status: Disposition['status'];
  reviewed_by: string | null;
  reviewed_at: Date | null;
  review_comment: string | null;
  reviewed_seq: string | null;
};
const toDisposition = (r: DispositionRow): Disposition => ({
  id: r.id,
  alarmId: r.alarm_id,
  incident: r.incident,
  siteId: r.site_id,
  cause: r.cause,
  actions: r.actions,
  closedBy: r.closed_by,
  attachments: r.attachments,
  filedBy: r.filed_by,
  filedAt: r.filed_at.getTime(),
  filedSeq: Number(r.filed_seq),
  status: r.status,
  reviewedBy: r.reviewed_by,
  reviewedAt: ms(r.reviewed_at),
  reviewComment: r.review_comment,
  reviewedSeq: r.reviewed_seq === null ? null : Number(r.reviewed_seq),
});

type HdRow = {
  id: string;
  alarm_id: string | null;
  site_id: string;
  source_id: string | null;
  title: string;
  status: HiddenDangerStatus;
  finding_id: string | null;
  created_at: Date;
  updated_at: Date;
  history: Array<{
    n: number;
    at: string;
    from: HiddenDangerStatus | null;
    to: HiddenDangerStatus;
    actor: string;
    actorRole: string;
    comment: string | null;
  }>;
};
const toHiddenDanger = (r: HdRow): HiddenDanger => ({
  id: r.id,
  alarmId: r.alarm_id,
  siteId: r.site_id,
  sourceId: r.source_id,
  title: r.title,
  status: r.status,
  findingId: r.finding_id,
  createdAt: r.created_at.getTime(),
  updatedAt: r.updated_at.getTime(),
  history: r.history.map((h) => ({ ...h, at: new Date(h.at).getTime() })),
});

/** Disposal obligations, disposal records (dispositions) and hidden dangers. */
@Injectable()
export class DisposalRepository {
  constructor(@Inject(FEED_SQL) private readonly db: FeedSql) {}

  // disposal -----------------------------------------------------------------------------------------------------------

  async dueObligations(now: number): Promise<Obligation[]> {
    return (await this.db.query<ObligationRow>(DUE_OBLIGATIONS, [date(now)])).rows.map(toObligation);
  }

  async overdueAwaiting(): Promise<Obligation[]> {
    return (await this.db.query<ObligationRow>(OVERDUE_ACTIVE)).rows.map(toObligation);
  }

  async markOverdue(incident: string, at: number): Promise<boolean> {
    return ((await this.db.query(MARK_OVERDUE, [incident, date(at)])).rowCount ?? 0) > 0;
  }

  async latestObligation(alarmId: string): Promise<Obligation | undefined> {
    const row = (await this.db.query<ObligationRow>(LATEST_OBLIGATION, [alarmId])).rows[0];
    return row ? toObligation(row) : undefined;
  }

  async fileDisposition(
    d: Omit<Disposition, 'status' | 'reviewedBy' | 'reviewedAt' | 'reviewComment' | 'reviewedSeq'>,
  ): Promise<Disposition> {
    return this.db.withTransaction(async (tx) => {
      const r = await tx.query<DispositionRow>(INSERT_DISPOSITION, [
        d.id,
        d.alarmId,
        d.incident,
        d.siteId,
        d.cause,
        d.actions,
        d.closedBy,
        JSON.stringify(d.attachments),
        d.filedBy,
        date(d.filedAt),
        d.filedSeq,
      ]);
      if (d.incident !== null) await tx.query(OBLIGATION_FILED, [d.incident, date(d.filedAt)]);
      return toDisposition(r.rows[0] as DispositionRow);
    });
  }

  async dispositions(alarmId: string): Promise<Disposition[]> {
    return (await this.db.query<DispositionRow>(DISPOSITIONS_OF_ALARM, [alarmId])).rows.map(toDisposition);
  }

  /** Accept closes the obligation; return re-opens it with a new deadline. Undefined when it was not awaiting review. */
  async reviewDisposition(r: {
    id: string;
    incident: string | null;
    accept: boolean;
    by: string;
    at: number;
    comment: string;
    seq: number;
    newDueAt: number;
  }): Promise<Disposition | undefined> {
    return this.db.withTransaction(async (tx) => {
      const res = await tx.query<DispositionRow>(REVIEW_DISPOSITION, [
        r.id,
        r.accept ? 'accepted' : 'returned',
        r.by,
        date(r.at),
        r.comment,
        r.seq,
      ]);
      const row = res.rows[0];
      if (!row) return undefined;
      if (r.incident !== null)
        await tx.query(OBLIGATION_REVIEWED, [r.incident, r.accept, date(r.at), date(r.newDueAt)]);
      return toDisposition(row);
    });
  }

  // hidden dangers -----------------------------------------------------------------------------------------------------

  async createHiddenDanger(h: {
    id: string;
    alarmId: string | null;
    siteId: string;
    sourceId: string | null;
    title: string;
    at: number;
    actor: string;
    actorRole: string;
    comment: string | null;
  }): Promise<HiddenDanger> {
    await this.db.withTransaction(async (tx) => {
      await tx.query(HD_INSERT, [h.id, h.alarmId, h.siteId, h.sourceId, h.title, date(h.at)]);
      await tx.query(HD_EVENT, [h.id, date(h.at), null, 'open', h.actor, h.actorRole, h.comment]);
    });
    return (await this.hiddenDanger(h.id)) as HiddenDanger;
  }

  async moveHiddenDanger(m: {
    id: string;
    from: HiddenDangerStatus;
    to: HiddenDangerStatus;
    at: number;
    actor: string;
    actorRole: string;
    comment: string | null;
  }): Promise<boolean> {
    return this.db.withTransaction(async (tx) => {
      const r = await tx.query(HD_MOVE, [m.id, m.from, m.to, date(m.at)]);
      if ((r.rowCount ?? 0) === 0) return false;
      await tx.query(HD_EVENT, [m.id, date(m.at), m.from, m.to, m.actor, m.actorRole, m.comment]);
      return true;
    });
  }

  async hiddenDanger(id: string): Promise<HiddenDanger | undefined> {
    const row = (await this.db.query<HdRow>(HD_GET, [id])).rows[0];
    return row ? toHiddenDanger(row) : undefined;
  }

  async hiddenDangers(q: {
    siteIds: readonly string[] | undefined;
    alarmId?: string;
    status?: HiddenDangerStatus;
  }): Promise<HiddenDanger[]> {
    return (
      await this.db.query<HdRow>(HD_LIST, [q.siteIds ?? null, q.alarmId ?? null, q.status ?? null])
    ).rows.map(toHiddenDanger);
  }
}
