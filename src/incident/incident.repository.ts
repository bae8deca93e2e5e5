/**
 * Reads of the incident dossier that no other module offers: the site's alarm-journal rows in a window, the hidden
 * dangers (隐患: items of the disposal loop and findings) and the disposal records (处置) touching it. Parameterised SQL
 * only; read-only.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { QueryResult, QueryResultRow } from 'pg';
import type { DossierDisposal, DossierFinding, DossierJournalEntry } from './domain/dossier.types';

export const INCIDENT_SQL = Symbol('INCIDENT_SQL');
export type IncidentSql = {
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>>;
};

/** The data sources of a dossier (a port, so the HTTP API test can run without PostgreSQL). */
export const DOSSIER_SOURCE = Symbol('DOSSIER_SOURCE');
export type DossierSource = {
  journal(siteId: string, from: number, to: number, limit: number): Promise<DossierJournalEntry[]>;
  /**
   * Hidden-danger items and findings of the site created before `to` and not closed before `from`, plus those raised
   * from `alarmIds`.
   */
  findings(siteId: string, from: number, to: number, alarmIds: readonly string[]): Promise<DossierFinding[]>;
  /**
   * Disposal records of the site filed or reviewed in the window or belonging to `alarmIds`, grouped per alarm with
   * the alarm's latest disposal obligation (also for obligations that fell overdue in the window).
   */
  disposals(
    siteId: string,
    from: number,
    to: number,
    alarmIds: readonly string[],
  ): Promise<DossierDisposal[]>;
};

const JOURNAL = `SELECT seq, at, alarm_id, event, from_state, to_state, actor, actor_role, comment, snapshot, hash
FROM alarm_journal WHERE site_id = $1 AND at >= $2 AND at < $3 ORDER BY seq LIMIT $4`;

const HIDDEN_DANGERS = `SELECT h.id, h.alarm_id, h.source_id, h.title, h.status, h.finding_id, h.created_at, h.updated_at,
  COALESCE((SELECT json_agg(json_build_object('at', e.at, 'from', e.from_status, 'to', e.to_status, 'actor', e.actor, 'comment', e.comment) ORDER BY e.n)
    FROM hidden_danger_event e WHERE e.danger_id = h.id), '[]') AS history
FROM hidden_danger h
WHERE h.site_id = $1 AND ((h.created_at < $3 AND (h.status <> 'closed' OR h.updated_at >= $2)) OR h.alarm_id = ANY($4::text[]))
ORDER BY h.created_at, h.id LIMIT 500`;

const FINDINGS = `SELECT f.id, f.alarm_id, f.source_id, f.title, f.status, f.grade, f.origin, f.deadline, f.hidden_danger_id,
  f.created_at, f.updated_at,
  COALESCE((SELECT json_agg(json_build_object('at', e.at, 'kind', e.kind, 'from', e.from_status, 'to', e.to_status, 'actor', e.actor, 'comment', e.comment) ORDER BY e.n)
    FROM finding_event e WHERE e.finding_id = f.id), '[]') AS history
FROM finding f
WHERE f.site_id = $1 AND ((f.created_at < $3 AND (f.status <> 'closed' OR f.updated_at >= $2)) OR f.alarm_id = ANY($4::text[]))
ORDER BY f.created_at, f.id LIMIT 500`;

const DISPOSITIONS = `SELECT id, alarm_id, filed_at, filed_by, cause, actions, closed_by, attachments, status, reviewed_by, reviewed_at, review_comment
FROM alarm_disposition
WHERE site_id = $1 AND ((filed_at >= $2 AND filed_at < $3) OR (reviewed_at >= $2 AND reviewed_at < $3) OR alarm_id = ANY($4::text[]))
ORDER BY filed_at, id LIMIT 500`;
const OBLIGATIONS = `SELECT DISTINCT ON (alarm_id) alarm_id, status, raised_at, due_at, overdue_at, returned, closed_at
FROM disposal_obligation
WHERE site_id = $1 AND (alarm_id = ANY($4::text[]) OR (overdue_at >= $2 AND overdue_at < $3))
ORDER BY alarm_id, raised_at DESC`;

type JournalRow = {
  seq: string;
  at: Date;
  alarm_id: string;
  event: string;
  from_state: string;
  to_state: string;
  actor: string;
  actor_role: string;
  comment: string | null;
  snapshot: Record<string, unknown>;
  hash: string;
};
type HiddenDangerRow = {
  id: string;
  alarm_id: string | null;
  source_id: string | null;
  title: string;
  status: string;
  finding_id: string | null;
  created_at: Date;
  updated_at: Date;
  history: Array<{ at: string; from: string | null; to: string; actor: string; comment: string | null }>;
};
type FindingRow = Omit<HiddenDangerRow, 'finding_id' | 'history'> & {
  grade: string;
  origin: string;
  deadline: Date;
  hidden_danger_id: string | null;
  history: Array<{
    at: string;
    kind: string;
    from: string | null;
    to: string | null;
    actor: string;
    comment: string | null;
  }>;
};
type DispositionRow = {
  id: string;
  alarm_id: string;
  filed_at: Date;
  filed_by: string;
  cause: string;
  actions: string;
  closed_by: string;
  attachments: unknown;
  status: string;
  reviewed_by: string | null;
  reviewed_at: Date | null;
  review_comment: string | null;
};
type ObligationRow = {
  alarm_id: string;
  status: string;
  raised_at: Date;
  due_at: Date;
  overdue_at: Date | null;
  returned: number;
  closed_at: Date | null;
};

function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}
const iso = (v: string | Date): string => new Date(v).toISOString();

@Injectable()
export class IncidentRepository implements DossierSource {
  constructor(@Inject(INCIDENT_SQL) private readonly sql: IncidentSql) {}

  async journal(siteId: string, from: number, to: number, limit: number): Promise<DossierJournalEntry[]> {
    const r = await this.sql.query<JournalRow>(JOURNAL, [siteId, new Date(from), new Date(to), limit]);
    return r.rows.map((row) => {
      const s = row.snapshot;
      return {
        seq: Number(row.seq),
        at: row.at.toISOString(),
        alarmId: row.alarm_id,
        event: row.event,
        fromState: row.from_state,
        toState: row.to_state,
        actor: row.actor,
        actorRole: row.actor_role,
        ...(row.comment !== null ? { comment: row.comment } : {}),
        sourceId: text(s.sourceId),
        ...(typeof s.deviceId === 'string' ? { deviceId: s.deviceId } : {}),
        condition: text(s.condition),
        priority: text(s.priority),
        message: text(s.message),
        value: text(s.value),
        limit: text(s.limit),
        hash: row.hash,
      };
    });
  }

  async findings(
    siteId: string,
    from: number,
    to: number,
    alarmIds: readonly string[],
  ): Promise<DossierFinding[]> {
    const params = [siteId, new Date(from), new Date(to), [...alarmIds]];
    const [items, findings] = await Promise.all([
      this.sql.query<HiddenDangerRow>(HIDDEN_DANGERS, params),
      this.sql.query<FindingRow>(FINDINGS, params),
    ]);
    const out: DossierFinding[] = [
      ...items.rows.map((row): DossierFinding => ({
        id: row.id,
        kind: 'hidden_danger',
        ...(row.alarm_id !== null ? { alarmId: row.alarm_id } : {}),
        ...(row.source_id !== null ? { sourceId: row.source_id } : {}),
        title: row.title,
        status: row.status,
        ...(row.finding_id !== null ? { findingId: row.finding_id } : {}),
        createdAt: row.created_at.toISOString(),
        updatedAt: row.updated_at.toISOString(),
        history: row.history.map((h) => ({
          at: iso(h.at),
          ...(h.from !== null ? { from: h.from } : {}),
          to: h.to,
          actor: h.actor,
          ...(h.comment !== null ? { comment: h.comment } : {}),
        })),
      })),
      ...findings.rows.map((row): DossierFinding => ({
        id: row.id,
        kind: 'finding',
        ...(row.alarm_id !== null ? { alarmId: row.alarm_id } : {}),
        ...(row.source_id !== null ? { sourceId: row.source_id } : {}),
        title: row.title,
        status: row.status,
        grade: row.grade,
        origin: row.origin,
        deadline: row.deadline.toISOString(),
        ...(row.hidden_danger_id !== null ? { hiddenDangerId: row.hidden_danger_id } : {}),
        createdAt: row.created_at.toISOString(),
        updatedAt: row.updated_at.toISOString(),
        history: row.history.map((h) => ({
          at: iso(h.at),
          // a transition (or the creation) names the state reached; plan, escalated and notified rows their kind
          ...(h.kind === 'transition' || h.kind === 'created' ? {} : { event: h.kind }),
          ...(h.from !== null ? { from: h.from } : {}),
          ...(h.to !== null ? { to: h.to } : {}),
          actor: h.actor,
          ...(h.comment !== null ? { comment: h.comment } : {}),
        })),
      })),
    ];
    return out.sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || a.id.localeCompare(b.id));
  }

  async disposals(
    siteId: string,
    from: number,
    to: number,
    alarmIds: readonly string[],
  ): Promise<DossierDisposal[]> {
    const records = await this.sql.query<DispositionRow>(DISPOSITIONS, [
      siteId,
      new Date(from),
      new Date(to),
      [...alarmIds],
    ]);
    const ids = [...new Set([...alarmIds, ...records.rows.map((r) => r.alarm_id)])];
    const obligations = await this.sql.query<ObligationRow>(OBLIGATIONS, [
      siteId,
      new Date(from),
      new Date(to),
      ids,
    ]);
    const byAlarm = new Map<string, { obligation?: ObligationRow; records: DispositionRow[] }>();
    const slot = (id: string): { obligation?: ObligationRow; records: DispositionRow[] } => {
      let x = byAlarm.get(id);
      if (!x) byAlarm.set(id, (x = { records: [] }));
      return x;
    };
    for (const o of obligations.rows) slot(o.alarm_id).obligation = o;
    for (const r of records.rows) slot(r.alarm_id).records.push(r);
    const out: DossierDisposal[] = [...byAlarm].map(([alarmId, x]) => ({
      alarmId,
      ...(x.obligation
        ? {
            obligation: {
              status: x.obligation.status,
              raisedAt: x.obligation.raised_at.toISOString(),
              dueAt: x.obligation.due_at.toISOString(),
              ...(x.obligation.overdue_at ? { overdueAt: x.obligation.overdue_at.toISOString() } : {}),
              returned: Number(x.obligation.returned),
              ...(x.obligation.closed_at ? { closedAt: x.obligation.closed_at.toISOString() } : {}),
            },
          }
        : {}),
      records: x.records.map((r) => ({
        id: r.id,
        filedAt: r.filed_at.toISOString(),
        filedBy: r.filed_by,
        cause: r.cause,
        actions: r.actions,
        closedBy: r.closed_by,
        attachments: Array.isArray(r.attachments) ? r.attachments.map((a) => text(a)) : [],
        status: r.status,
        ...(r.reviewed_by !== null ? { reviewedBy: r.reviewed_by } : {}),
        ...(r.reviewed_at !== null ? { reviewedAt: r.reviewed_at.toISOString() } : {}),
        ...(r.review_comment !== null ? { reviewComment: r.review_comment } : {}),
      })),
    }));
    // in the order the alarms were raised (the obligation), then by the first record
    const key = (d: DossierDisposal): number =>
      Date.parse(d.obligation?.raisedAt ?? d.records[0]?.filedAt ?? '1970-01-01T00:00:00Z');
    return out.sort((a, b) => key(a) - key(b) || a.alarmId.localeCompare(b.alarmId));
  }
}
