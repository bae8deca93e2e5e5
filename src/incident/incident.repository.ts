/**
 * Reads of the incident dossier that no other module offers: the site's alarm-journal rows in a window and the
 * hidden-danger items (隐患) touching it. Parameterised SQL only; read-only.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { QueryResult, QueryResultRow } from 'pg';
import type { DossierFinding, DossierJournalEntry } from './domain/dossier.types';

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
  /** Items of the site created before `to` and not closed before `from`, plus those raised from `alarmIds`. */
  findings(siteId: string, from: number, to: number, alarmIds: readonly string[]): Promise<DossierFinding[]>;
};

const JOURNAL = `SELECT seq, at, alarm_id, event, from_state, to_state, actor, actor_role, comment, snapshot, hash
FROM alarm_journal WHERE site_id = $1 AND at >= $2 AND at < $3 ORDER BY seq LIMIT $4`;

const FINDINGS = `SELECT h.id, h.alarm_id, h.source_id, h.title, h.status, h.created_at, h.updated_at,
  COALESCE((SELECT json_agg(json_build_object('at', e.at, 'from', e.from_status, 'to', e.to_status, 'actor', e.actor, 'comment', e.comment) ORDER BY e.n)
    FROM hidden_danger_event e WHERE e.danger_id = h.id), '[]') AS history
FROM hidden_danger h
WHERE h.site_id = $1 AND ((h.created_at < $3 AND (h.status <> 'closed' OR h.updated_at >= $2)) OR h.alarm_id = ANY($4::text[]))
ORDER BY h.created_at, h.id LIMIT 500`;

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
type FindingRow = {
  id: string;
  alarm_id: string | null;
  source_id: string | null;
  title: string;
  status: string;
  created_at: Date;
  updated_at: Date;
  history: Array<{ at: string; from: string | null; to: string; actor: string; comment: string | null }>;
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
    const r = await this.sql.query<FindingRow>(FINDINGS, [
      siteId,
      new Date(from),
      new Date(to),
      [...alarmIds],
    ]);
    return r.rows.map((row) => ({
      id: row.id,
      ...(row.alarm_id !== null ? { alarmId: row.alarm_id } : {}),
      ...(row.source_id !== null ? { sourceId: row.source_id } : {}),
      title: row.title,
      status: row.status,
      createdAt: row.created_at.toISOString(),
      updatedAt: row.updated_at.toISOString(),
      history: row.history.map((h) => ({
        at: iso(h.at),
        ...(h.from !== null ? { from: h.from } : {}),
        to: h.to,
        actor: h.actor,
        ...(h.comment !== null ? { comment: h.comment } : {}),
      })),
    }));
  }
}
