import { Inject, Injectable } from '@nestjs/common';
import { FEED_SQL, date, ms, type FeedSql } from './regulator-sql';

/** An operator-off-post (离岗) event reported by video analytics, as recorded. */
export type DutyEvent = {
  readonly eventId: string;
  readonly siteId: string;
  readonly kind: 'off_post';
  readonly occurredAt: number;
  readonly receivedAt: number;
  readonly cameraId: string;
  readonly snapshotUrl: string | null;
  readonly snapshotId: string | null;
  readonly tokenId: string;
  readonly reportedBy: string;
  readonly dutyCheckId: string | null;
  readonly outcome: 'started' | 'joined';
};

export type FeedbackStatus = 'awaiting' | 'filed' | 'accepted';

/** The enterprise's feedback obligation (反馈) after a missed duty check. */
export type DutyFeedback = {
  readonly id: string;
  readonly dutyCheckId: string;
  readonly siteId: string;
  readonly result: string;
  readonly raisedAt: number;
  readonly dueAt: number;
  readonly status: FeedbackStatus;
  readonly overdueAt: number | null;
  readonly returned: number;
  readonly who: string | null;
  readonly why: string | null;
  readonly actions: string | null;
  readonly filedBy: string | null;
  readonly filedAt: number | null;
  readonly reviewedBy: string | null;
  readonly reviewedAt: number | null;
  readonly reviewComment: string | null;
  readonly closedAt: number | null;
};

const EVENT_COLUMNS = `event_id, site_id, kind, occurred_at, received_at, camera_id, snapshot_url, snapshot_id, token_id, reported_by, duty_check_id, outcome`;
const INSERT_EVENT = `INSERT INTO duty_event (${EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (event_id) DO NOTHING RETURNING ${EVENT_COLUMNS}`;
const GET_EVENT = `SELECT ${EVENT_COLUMNS} FROM duty_event WHERE event_id = $1`;
const LIST_EVENTS = `SELECT ${EVENT_COLUMNS} FROM duty_event WHERE ($1::text[] IS NULL OR site_id = ANY($1))
ORDER BY received_at DESC LIMIT $2`;

const FB_COLUMNS = `id, duty_check_id, site_id, result, raised_at, due_at, status, overdue_at, returned, who, why, actions, filed_by, filed_at, reviewed_by, reviewed_at, review_comment, closed_at`;
const INSERT_FEEDBACK = `INSERT INTO duty_feedback (id, duty_check_id, site_id, result, raised_at, due_at) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (duty_check_id) DO NOTHING RETURNING ${FB_COLUMNS}`;
const GET_FEEDBACK = `SELECT ${FB_COLUMNS} FROM duty_feedback WHERE id = $1`;
const LIST_FEEDBACK = `SELECT ${FB_COLUMNS} FROM duty_feedback WHERE ($1::text[] IS NULL OR site_id = ANY($1))
  AND ($2::text IS NULL OR status = $2) ORDER BY raised_at DESC LIMIT $3`;
const DUE_FEEDBACK = `SELECT ${FB_COLUMNS} FROM duty_feedback WHERE status = 'awaiting' AND overdue_at IS NULL AND due_at <= $1 ORDER BY due_at LIMIT 500`;
const OVERDUE_FEEDBACK = `SELECT ${FB_COLUMNS} FROM duty_feedback WHERE status = 'awaiting' AND overdue_at IS NOT NULL`;
const MARK_OVERDUE = `UPDATE duty_feedback SET overdue_at = $2 WHERE id = $1 AND status = 'awaiting' AND overdue_at IS NULL`;
const FILE_FEEDBACK = `UPDATE duty_feedback SET status = 'filed', who = $2, why = $3, actions = $4, filed_by = $5, filed_at = $6
WHERE id = $1 AND status = 'awaiting' RETURNING ${FB_COLUMNS}`;
const REVIEW_FEEDBACK = `UPDATE duty_feedback SET
  status = CASE WHEN $2::boolean THEN 'accepted' ELSE 'awaiting' END,
  reviewed_by = $3, reviewed_at = $4, review_comment = $5,
  closed_at = CASE WHEN $2::boolean THEN $4::timestamptz ELSE NULL END,
  returned = returned + CASE WHEN $2::boolean THEN 0 ELSE 1 END,
  due_at = CASE WHEN $2::boolean THEN due_at ELSE $6::timestamptz END,
  overdue_at = CASE WHEN $2::boolean THEN overdue_at ELSE NULL END
WHERE id = $1 AND status = 'filed' RETURNING ${FB_COLUMNS}`;

type EventRow = {
  event_id: string;
  site_id: string;
  kind: 'off_post';
  occurred_at: Date;
  received_at: Date;
  camera_id: string;
  snapshot_url: string | null;
  snapshot_id: string | null;
  token_id: string;
  reported_by: string;
  duty_check_id: string | null;
  outcome: 'started' | 'joined';
};
const toEvent = (r: EventRow): DutyEvent => ({
  eventId: r.event_id,
  siteId: r.site_id,
  kind: r.kind,
  occurredAt: r.occurred_at.getTime(),
  receivedAt: r.received_at.getTime(),
  cameraId: r.camera_id,
  snapshotUrl: r.snapshot_url,
  snapshotId: r.snapshot_id,
  tokenId: r.token_id,
  reportedBy: r.reported_by,
  dutyCheckId: r.duty_check_id,
  outcome: r.outcome,
});

type FeedbackRow = {
  id: string;
  duty_check_id: string;
  site_id: string;
  result: string;
  raised_at: Date;
  due_at: Date;
  status: FeedbackStatus;
  overdue_at: Date | null;
  returned: number;
  who: string | null;
  why: string | null;
  actions: string | null;
  filed_by: string | null;
  filed_at: Date | null;
  reviewed_by: string | null;
  reviewed_at: Date | null;
  review_comment: string | null;
  closed_at: Date | null;
};
const toFeedback = (r: FeedbackRow): DutyFeedback => ({
  id: r.id,
  dutyCheckId: r.duty_check_id,
  siteId: r.site_id,
  result: r.result,
  raisedAt: r.raised_at.getTime(),
  dueAt: r.due_at.getTime(),
  status: r.status,
  overdueAt: ms(r.overdue_at),
  returned: r.returned,
  who: r.who,
  why: r.why,
  actions: r.actions,
  filedBy: r.filed_by,
  filedAt: ms(r.filed_at),
  reviewedBy: r.reviewed_by,
  reviewedAt: ms(r.reviewed_at),
  reviewComment: r.review_comment,
  closedAt: ms(r.closed_at),
});

/** Duty events from video analytics and the feedback obligations of missed duty checks. */
@Injectable()
export class DutyWorkflowRepository {
  constructor(@Inject(FEED_SQL) private readonly db: FeedSql) {}

  /** Records the event; undefined when an event with this id exists already (see `event`). */
  async recordEvent(e: DutyEvent): Promise<DutyEvent | undefined> {
    const r = await this.db.query<EventRow>(INSERT_EVENT, [
      e.eventId,
      e.siteId,
      e.kind,
      date(e.occurredAt),
      date(e.receivedAt),
      e.cameraId,
      e.snapshotUrl,
      e.snapshotId,
      e.tokenId,
      e.reportedBy,
      e.dutyCheckId,
      e.outcome,
    ]);
    return r.rows[0] ? toEvent(r.rows[0]) : undefined;
  }

  async event(eventId: string): Promise<DutyEvent | undefined> {
    const row = (await this.db.query<EventRow>(GET_EVENT, [eventId])).rows[0];
    return row ? toEvent(row) : undefined;
  }

  async events(siteIds: readonly string[] | undefined, limit: number): Promise<DutyEvent[]> {
    return (await this.db.query<EventRow>(LIST_EVENTS, [siteIds ?? null, limit])).rows.map(toEvent);
  }

  /** One obligation per missed check (a replay adds nothing); undefined when it existed. */
  async openFeedback(f: {
    id: string;
    dutyCheckId: string;
    siteId: string;
    result: string;
    raisedAt: number;
    dueAt: number;
  }): Promise<DutyFeedback | undefined> {
    const r = await this.db.query<FeedbackRow>(INSERT_FEEDBACK, [
      f.id,
      f.dutyCheckId,
      f.siteId,
      f.result,
      date(f.raisedAt),
      date(f.dueAt),
    ]);
    return r.rows[0] ? toFeedback(r.rows[0]) : undefined;
  }

  async feedback(id: string): Promise<DutyFeedback | undefined> {
    const row = (await this.db.query<FeedbackRow>(GET_FEEDBACK, [id])).rows[0];
    return row ? toFeedback(row) : undefined;
  }

  async feedbacks(q: {
    siteIds: readonly string[] | undefined;
    status?: FeedbackStatus;
    limit: number;
  }): Promise<DutyFeedback[]> {
    return (
      await this.db.query<FeedbackRow>(LIST_FEEDBACK, [q.siteIds ?? null, q.status ?? null, q.limit])
    ).rows.map(toFeedback);
  }

  async dueFeedback(now: number): Promise<DutyFeedback[]> {
    return (await this.db.query<FeedbackRow>(DUE_FEEDBACK, [date(now)])).rows.map(toFeedback);
  }

  async overdueFeedback(): Promise<DutyFeedback[]> {
    return (await this.db.query<FeedbackRow>(OVERDUE_FEEDBACK)).rows.map(toFeedback);
  }

  async markOverdue(id: string, at: number): Promise<boolean> {
    return ((await this.db.query(MARK_OVERDUE, [id, date(at)])).rowCount ?? 0) > 0;
  }

  async fileFeedback(f: {
    id: string;
    who: string;
    why: string;
    actions: string;
    by: string;
    at: number;
  }): Promise<DutyFeedback | undefined> {
    const r = await this.db.query<FeedbackRow>(FILE_FEEDBACK, [
      f.id,
      f.who,
      f.why,
      f.actions,
      f.by,
      date(f.at),
    ]);
    return r.rows[0] ? toFeedback(r.rows[0]) : undefined;
  }

  async reviewFeedback(r: {
    id: string;
    accept: boolean;
    by: string;
    at: number;
    comment: string;
    newDueAt: number;
  }): Promise<DutyFeedback | undefined> {
    const res = await this.db.query<FeedbackRow>(REVIEW_FEEDBACK, [
      r.id,
      r.accept,
      r.by,
      date(r.at),
      r.comment,
      date(r.newDueAt),
    ]);
    return res.rows[0] ? toFeedback(res.rows[0]) : undefined;
  }
}
