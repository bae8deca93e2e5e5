import { Inject, Injectable } from '@nestjs/common';
import type { QueryResult, QueryResultRow } from 'pg';
import type { AlarmEventDto } from '../alarms/domain/alarm.types';
import type { Priority } from '../common/types';
import type { TxClient } from '../storage/database.service';
import type { Incident } from './domain/incident.policy';
import type { SubscriptionFormat, SubscriptionStatus } from './domain/webhook.policy';

/** The slice of storage's `Database` the feeds use (a fake in unit tests). */
export type FeedSql = {
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>>;
  withTransaction<T>(fn: (tx: TxClient) => Promise<T>): Promise<T>;
};
export const FEED_SQL = Symbol('FEED_SQL');

export type FeedMessageRow = {
  readonly identifier: string;
  readonly seq: number;
  readonly alarmId: string;
  readonly siteId: string;
  readonly sourceId: string;
  readonly msgType: 'Alert' | 'Update' | 'Cancel';
  readonly priority: Priority;
  readonly event: string;
  readonly incident: string;
  readonly sent: string;
  readonly headline: string;
};

export type Subscription = {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly scope: string;
  readonly minPriority: Priority;
  readonly format: SubscriptionFormat;
  readonly ownerTokenId: string;
  readonly ownerName: string;
  readonly ownerScope: string;
  readonly status: SubscriptionStatus;
  readonly createdAt: number;
  readonly failingSince: number | null;
  readonly pausedAt: number | null;
  readonly pauseReason: string | null;
};

export type NewMessage = {
  readonly identifier: string;
  readonly event: AlarmEventDto;
  readonly msgType: 'Alert' | 'Update' | 'Cancel';
  readonly incident: Incident;
  readonly sentMs: number;
  readonly headline: string;
  readonly xml: string;
};

export type NewObligation = {
  readonly incident: string;
  readonly alarmId: string;
  readonly siteId: string;
  readonly sourceId: string;
  readonly priority: Priority;
  readonly raisedAt: number;
  readonly dueAt: number;
};

export type SubscriptionTarget = {
  readonly id: string;
  readonly scope: string;
  readonly minPriority: Priority;
  readonly status: SubscriptionStatus;
};
export type PlannedDelivery = {
  readonly id: string;
  readonly subscriptionId: string;
  readonly dueAt: number;
};

export type Projection = {
  readonly cursor: { readonly name: string; readonly seq: number };
  readonly message?: NewMessage;
  /** Picks the deliveries of the message from the subscriptions that exist in the same transaction. */
  readonly deliveries?: (subscriptions: readonly SubscriptionTarget[]) => PlannedDelivery[];
  readonly obligation?: NewObligation;
};

export type DeliveryHead = {
  readonly id: string;
  readonly ord: number;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly subscription: Subscription & { readonly secret: string };
  readonly message: {
    readonly identifier: string;
    readonly msgType: string;
    readonly xml: string;
    readonly event: AlarmEventDto;
    readonly incident: string;
    readonly sent: string;
  };
};

export type AttemptRecord = {
  readonly deliveryId: string;
  readonly subscriptionId: string;
  readonly attempt: number;
  readonly at: number;
  readonly durationMs: number;
  readonly httpStatus: number | null;
  readonly error: string | null;
  readonly delivered: boolean;
  /** Next attempt time when not delivered. */
  readonly nextAttemptAt: number;
};

export type DeliveryView = {
  readonly id: string;
  readonly messageId: string;
  readonly msgType: string;
  readonly alarmId: string;
  readonly status: string;
  readonly attempts: number;
  readonly createdAt: string;
  readonly nextAttemptAt: string | null;
  readonly deliveredAt: string | null;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly log: Array<{
    attempt: number;
    at: string;
    durationMs: number;
    httpStatus: number | null;
    error: string | null;
  }>;
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

const ms = (d: Date | string | null): number | null => (d === null ? null : new Date(d).getTime());
const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());
const date = (t: number): Date => new Date(t);

// ---------------------------------------------------------------------------------------------------------------------
// SQL (parameterised constants)

const SELECT_CURSOR = `SELECT last_seq FROM feed_cursor WHERE name = $1`;
const UPSERT_CURSOR = `INSERT INTO feed_cursor (name, last_seq) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET last_seq = GREATEST(feed_cursor.last_seq, EXCLUDED.last_seq), updated_at = now()`;
const SELECT_INCIDENTS = `SELECT DISTINCT ON (alarm_id) alarm_id, site_id, incident, incident_sent, incident_open
FROM feed_message ORDER BY alarm_id, event_seq DESC`;
const INSERT_MESSAGE = `INSERT INTO feed_message
  (identifier, event_seq, alarm_id, site_id, source_id, msg_type, priority, event, incident, incident_sent, incident_open, sent, headline, xml, event_json)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT (identifier) DO NOTHING`;
const INSERT_DELIVERIES = `INSERT INTO feed_delivery (id, subscription_id, message_id, next_attempt_at)
SELECT d.id, d.sub, $3, d.due FROM unnest($1::text[], $2::text[], $4::timestamptz[]) AS d(id, sub, due)
ORDER BY d.sub
ON CONFLICT (subscription_id, message_id) DO NOTHING`;
const SUBSCRIPTION_TARGETS = `SELECT id, scope, min_priority, status FROM feed_subscription WHERE status <> 'deleted' FOR SHARE`;
const INSERT_OBLIGATION = `INSERT INTO disposal_obligation (incident, alarm_id, site_id, source_id, priority, raised_at, due_at)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (incident) DO NOTHING`;

const LIST_MESSAGES = `SELECT identifier, event_seq, alarm_id, site_id, source_id, msg_type, priority, event, incident, sent, headline
FROM feed_message
WHERE ($1::text[] IS NULL OR site_id = ANY($1)) AND ($2::bigint IS NULL OR event_seq < $2)
  AND ($4::text[] IS NULL OR priority = ANY($4) OR event_json->>'condition' = ANY($5::text[]))
ORDER BY event_seq DESC LIMIT $3`;
const GET_MESSAGE = `SELECT identifier, site_id, xml FROM feed_message WHERE identifier = $1`;
const MESSAGES_OF_ALARM = `SELECT identifier, event_seq, alarm_id, site_id, source_id, msg_type, priority, event, incident, sent, headline
FROM feed_message WHERE alarm_id = $1 ORDER BY event_seq`;

const SUB_COLUMNS = `id, name, url, scope, min_priority, format, owner_token_id, owner_name, owner_scope, status, created_at, failing_since, paused_at, pause_reason`;
const INSERT_SUBSCRIPTION = `INSERT INTO feed_subscription (id, name, url, scope, min_priority, format, secret, owner_token_id, owner_name, owner_scope, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${SUB_COLUMNS}`;
const LIST_SUBSCRIPTIONS = `SELECT ${SUB_COLUMNS} FROM feed_subscription WHERE status <> 'deleted' ORDER BY created_at, id`;
const GET_SUBSCRIPTION = `SELECT ${SUB_COLUMNS} FROM feed_subscription WHERE id = $1 AND status <> 'deleted'`;
const DELETE_SUBSCRIPTION = `UPDATE feed_subscription SET status = 'deleted', deleted_at = $2 WHERE id = $1 AND status <> 'deleted'`;
const CANCEL_PENDING = `UPDATE feed_delivery SET status = 'cancelled', next_attempt_at = $2 WHERE subscription_id = $1 AND status = 'pending'`;
const PAUSE_SUBSCRIPTION = `UPDATE feed_subscription SET status = 'paused', paused_at = $2, pause_reason = $3 WHERE id = $1 AND status = 'active'`;
const RESUME_SUBSCRIPTION = `UPDATE feed_subscription SET status = 'active', paused_at = NULL, pause_reason = NULL, failing_since = NULL WHERE id = $1 AND status = 'paused'`;
const RESCHEDULE_PENDING = `UPDATE feed_delivery SET next_attempt_at = $2 WHERE subscription_id = $1 AND status = 'pending'`;

const DELIVERY_HEADS = `SELECT DISTINCT ON (d.subscription_id)
  d.id, d.ord, d.attempts, d.next_attempt_at,
  s.id AS s_id, s.name AS s_name, s.url AS s_url, s.scope AS s_scope, s.min_priority AS s_min_priority, s.format AS s_format, s.secret AS s_secret,
  s.owner_token_id AS s_owner_token_id, s.owner_name AS s_owner_name, s.owner_scope AS s_owner_scope, s.status AS s_status,
  s.created_at AS s_created_at, s.failing_since AS s_failing_since, s.paused_at AS s_paused_at, s.pause_reason AS s_pause_reason,
  m.identifier AS m_identifier, m.msg_type AS m_msg_type, m.xml AS m_xml, m.event_json AS m_event, m.incident AS m_incident, m.sent AS m_sent
FROM feed_delivery d
JOIN feed_subscription s ON s.id = d.subscription_id
JOIN feed_message m ON m.identifier = d.message_id
WHERE d.status = 'pending' AND s.status = 'active'
ORDER BY d.subscription_id, d.ord`;
const INSERT_ATTEMPT = `INSERT INTO feed_delivery_attempt (delivery_id, attempt, at, duration_ms, http_status, error) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (delivery_id, attempt) DO NOTHING`;
const UPDATE_DELIVERY = `UPDATE feed_delivery SET attempts = $2, last_attempt_at = $3, last_status = $4, last_error = $5,
  status = CASE WHEN $6::boolean THEN 'delivered' ELSE status END, delivered_at = CASE WHEN $6::boolean THEN $3::timestamptz ELSE delivered_at END,
  next_attempt_at = $7
WHERE id = $1 AND status = 'pending'`;
const SUB_SUCCESS = `UPDATE feed_subscription SET failing_since = NULL WHERE id = $1`;
const SUB_FAILURE = `UPDATE feed_subscription SET failing_since = COALESCE(failing_since, $2) WHERE id = $1 RETURNING failing_since`;
const LIST_DELIVERIES = `SELECT d.id, d.message_id, m.msg_type, m.alarm_id, d.status, d.attempts, d.created_at, d.next_attempt_at, d.delivered_at, d.last_status, d.last_error, d.ord,
  COALESCE((SELECT json_agg(json_build_object('attempt', a.attempt, 'at', a.at, 'durationMs', a.duration_ms, 'httpStatus', a.http_status, 'error', a.error) ORDER BY a.attempt)
    FROM feed_delivery_attempt a WHERE a.delivery_id = d.id), '[]') AS log
FROM feed_delivery d JOIN feed_message m ON m.identifier = d.message_id
WHERE d.subscription_id = $1 AND ($2::bigint IS NULL OR d.ord < $2)
ORDER BY d.ord DESC LIMIT $3`;
const PENDING_COUNTS = `SELECT subscription_id, count(*)::int AS n FROM feed_delivery WHERE status = 'pending' GROUP BY subscription_id`;

const OBLIGATION_COLUMNS = `incident, alarm_id, site_id, source_id, priority, raised_at, due_at, status, filed_at, overdue_at, returned, closed_at`;
const DUE_OBLIGATIONS = `SELECT ${OBLIGATION_COLUMNS} FROM disposal_obligation WHERE status = 'awaiting' AND overdue_at IS NULL AND due_at <= $1 ORDER BY due_at LIMIT 500`;
const OVERDUE_ACTIVE = `SELECT ${OBLIGATION_COLUMNS} FROM disposal_obligation WHERE status = 'awaiting' AND overdue_at IS NOT NULL`;
const MARK_OVERDUE = `UPDATE disposal_obligation SET overdue_at = $2 WHERE incident = $1 AND overdue_at IS NULL`;
const LATEST_OBLIGATION = `SELECT ${OBLIGATION_COLUMNS} FROM disposal_obligation WHERE alarm_id = $1 ORDER BY raised_at DESC LIMIT 1`;
const OBLIGATIONS_OF_SITES = `SELECT ${OBLIGATION_COLUMNS} FROM disposal_obligation
WHERE ($1::text[] IS NULL OR site_id = ANY($1)) AND (status <> 'accepted' OR closed_at > $2) ORDER BY raised_at DESC LIMIT 1000`;
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
const HD_MOVE = `UPDATE hidden_danger SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2`;
const HD_SELECT = `SELECT h.id, h.alarm_id, h.site_id, h.source_id, h.title, h.status, h.created_at, h.updated_at,
  COALESCE((SELECT json_agg(json_build_object('n', e.n, 'at', e.at, 'from', e.from_status, 'to', e.to_status, 'actor', e.actor, 'actorRole', e.actor_role, 'comment', e.comment) ORDER BY e.n)
    FROM hidden_danger_event e WHERE e.danger_id = h.id), '[]') AS history
FROM hidden_danger h`;
const HD_GET = `${HD_SELECT} WHERE h.id = $1`;
const HD_LIST = `${HD_SELECT} WHERE ($1::text[] IS NULL OR h.site_id = ANY($1)) AND ($2::text IS NULL OR h.alarm_id = $2) AND ($3::text IS NULL OR h.status = $3)
ORDER BY h.created_at DESC LIMIT 1000`;

// ---------------------------------------------------------------------------------------------------------------------
// row mapping

type SubRow = {
  id: string;
  name: string;
  url: string;
  scope: string;
  min_priority: Priority;
  format: SubscriptionFormat;
  owner_token_id: string;
  owner_name: string;
  owner_scope: string;
  status: SubscriptionStatus;
  created_at: Date;
  failing_since: Date | null;
  paused_at: Date | null;
  pause_reason: string | null;
};
const toSubscription = (r: SubRow): Subscription => ({
  id: r.id,
  name: r.name,
  url: r.url,
  scope: r.scope,
  minPriority: r.min_priority,
  format: r.format,
  ownerTokenId: r.owner_token_id,
  ownerName: r.owner_name,
  ownerScope: r.owner_scope,
  status: r.status,
  createdAt: r.created_at.getTime(),
  failingSince: ms(r.failing_since),
  pausedAt: ms(r.paused_at),
  pauseReason: r.pause_reason,
});

type MessageRow = {
  identifier: string;
  event_seq: string;
  alarm_id: string;
  site_id: string;
  source_id: string;
  msg_type: FeedMessageRow['msgType'];
  priority: Priority;
  event: string;
  incident: string;
  sent: Date;
  headline: string;
};
const toMessage = (r: MessageRow): FeedMessageRow => ({
  identifier: r.identifier,
  seq: Number(r.event_seq),
  alarmId: r.alarm_id,
  siteId: r.site_id,
  sourceId: r.source_id,
  msgType: r.msg_type,
  priority: r.priority,
  event: r.event,
  incident: r.incident,
  sent: r.sent.toISOString(),
  headline: r.headline,
});

type ObligationRow = {
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
const toObligation = (r: ObligationRow): Obligation => ({
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
  createdAt: r.created_at.getTime(),
  updatedAt: r.updated_at.getTime(),
  history: r.history.map((h) => ({ ...h, at: new Date(h.at).getTime() })),
});

/**
 * SQL for the regulator feeds: CAP messages, the webhook outbox, disposal obligations and records, hidden dangers.
 * Writes that belong together run in one transaction (`withTransaction`).
 */
@Injectable()
export class FeedRepository {
  constructor(@Inject(FEED_SQL) private readonly db: FeedSql) {}

  // projector ----------------------------------------------------------------------------------------------------------

  async cursor(name: string): Promise<number> {
    const r = await this.db.query<{ last_seq: string }>(SELECT_CURSOR, [name]);
    return r.rows[0] ? Number(r.rows[0].last_seq) : 0;
  }

  async incidents(): Promise<Incident[]> {
    const r = await this.db.query<{
      alarm_id: string;
      site_id: string;
      incident: string;
      incident_sent: string;
      incident_open: boolean;
    }>(SELECT_INCIDENTS);
    return r.rows.map((x) => ({
      alarmId: x.alarm_id,
      siteId: x.site_id,
      identifier: x.incident,
      sent: x.incident_sent,
      open: x.incident_open,
    }));
  }

  /** Message, deliveries, obligation and cursor in one transaction; idempotent (a replay after a crash adds nothing twice). */
  async project(p: Projection): Promise<number> {
    let deliveries = 0;
    await this.db.withTransaction(async (tx) => {
      const m = p.message;
      if (m) {
        const e = m.event;
        await tx.query(INSERT_MESSAGE, [
          m.identifier,
          e.seq,
          e.id,
          e.siteId,
          e.sourceId,
          m.msgType,
          e.priority,
          e.event,
          m.incident.identifier,
          m.incident.sent,
          m.incident.open,
          date(m.sentMs),
          m.headline,
          m.xml,
          JSON.stringify(e),
        ]);
        const subs = p.deliveries
          ? (
              await tx.query<{
                id: string;
                scope: string;
                min_priority: Priority;
                status: SubscriptionStatus;
              }>(SUBSCRIPTION_TARGETS)
            ).rows
          : [];
        const d = p.deliveries
          ? p.deliveries(
              subs.map((x) => ({ id: x.id, scope: x.scope, minPriority: x.min_priority, status: x.status })),
            )
          : [];
        if (d.length > 0)
          deliveries =
            (
              await tx.query(INSERT_DELIVERIES, [
                d.map((x) => x.id),
                d.map((x) => x.subscriptionId),
                m.identifier,
                d.map((x) => date(x.dueAt)),
              ])
            ).rowCount ?? 0;
      }
      const o = p.obligation;
      if (o)
        await tx.query(INSERT_OBLIGATION, [
          o.incident,
          o.alarmId,
          o.siteId,
          o.sourceId,
          o.priority,
          date(o.raisedAt),
          date(o.dueAt),
        ]);
      await tx.query(UPSERT_CURSOR, [p.cursor.name, p.cursor.seq]);
    });
    return deliveries;
  }

  // feeds --------------------------------------------------------------------------------------------------------------

  async messages(q: {
    siteIds: readonly string[] | undefined;
    before?: number;
    limit: number;
    /** Only these priorities, plus messages of these conditions (src/cap/atom-filter.ts); absent: everything. */
    filter?: { priorities: readonly string[]; conditions: readonly string[] };
  }): Promise<FeedMessageRow[]> {
    const r = await this.db.query<MessageRow>(LIST_MESSAGES, [
      q.siteIds ?? null,
      q.before ?? null,
      q.limit,
      q.filter ? [...q.filter.priorities] : null,
      q.filter ? [...q.filter.conditions] : [],
    ]);
    return r.rows.map(toMessage);
  }

  async messagesOfAlarm(alarmId: string): Promise<FeedMessageRow[]> {
    return (await this.db.query<MessageRow>(MESSAGES_OF_ALARM, [alarmId])).rows.map(toMessage);
  }

  async capDocument(identifier: string): Promise<{ siteId: string; xml: string } | undefined> {
    const r = await this.db.query<{ site_id: string; xml: string }>(GET_MESSAGE, [identifier]);
    const row = r.rows[0];
    return row ? { siteId: row.site_id, xml: row.xml } : undefined;
  }

  // subscriptions ------------------------------------------------------------------------------------------------------

  async createSubscription(
    s: Omit<Subscription, 'status' | 'failingSince' | 'pausedAt' | 'pauseReason'> & { secret: string },
  ): Promise<Subscription> {
    const r = await this.db.query<SubRow>(INSERT_SUBSCRIPTION, [
      s.id,
      s.name,
      s.url,
      s.scope,
      s.minPriority,
      s.format,
      s.secret,
      s.ownerTokenId,
      s.ownerName,
      s.ownerScope,
      date(s.createdAt),
    ]);
    return toSubscription(r.rows[0] as SubRow);
  }

  async subscriptions(): Promise<Subscription[]> {
    return (await this.db.query<SubRow>(LIST_SUBSCRIPTIONS)).rows.map(toSubscription);
  }

  async subscription(id: string): Promise<Subscription | undefined> {
    const row = (await this.db.query<SubRow>(GET_SUBSCRIPTION, [id])).rows[0];
    return row ? toSubscription(row) : undefined;
  }

  async pendingCounts(): Promise<Map<string, number>> {
    const r = await this.db.query<{ subscription_id: string; n: number }>(PENDING_COUNTS);
    return new Map(r.rows.map((x) => [x.subscription_id, x.n]));
  }

  /** Marks it deleted and cancels what it had not received yet. */
  async deleteSubscription(id: string, at: number): Promise<boolean> {
    return this.db.withTransaction(async (tx) => {
      const r = await tx.query(DELETE_SUBSCRIPTION, [id, date(at)]);
      if ((r.rowCount ?? 0) === 0) return false;
      await tx.query(CANCEL_PENDING, [id, date(at)]);
      return true;
    });
  }

  async pauseSubscription(id: string, at: number, reason: string): Promise<boolean> {
    return ((await this.db.query(PAUSE_SUBSCRIPTION, [id, date(at), reason])).rowCount ?? 0) > 0;
  }

  /** Active again, failure streak reset, its backlog due at once (in order). */
  async resumeSubscription(id: string, at: number): Promise<boolean> {
    return this.db.withTransaction(async (tx) => {
      const r = await tx.query(RESUME_SUBSCRIPTION, [id]);
      if ((r.rowCount ?? 0) === 0) return false;
      await tx.query(RESCHEDULE_PENDING, [id, date(at)]);
      return true;
    });
  }

  // dispatcher ---------------------------------------------------------------------------------------------------------

  /** The oldest pending delivery of every active subscription (order per subscription: nothing overtakes it). */
  async deliveryHeads(): Promise<DeliveryHead[]> {
    type Row = {
      id: string;
      ord: string;
      attempts: number;
      next_attempt_at: Date;
      s_secret: string;
      m_identifier: string;
      m_msg_type: string;
      m_xml: string;
      m_event: AlarmEventDto;
      m_incident: string;
      m_sent: Date;
    } & { [K in keyof SubRow as `s_${K & string}`]: SubRow[K] };
    const r = await this.db.query<Row>(DELIVERY_HEADS);
    return r.rows.map((x) => ({
      id: x.id,
      ord: Number(x.ord),
      attempts: x.attempts,
      nextAttemptAt: x.next_attempt_at.getTime(),
      subscription: {
        ...toSubscription({
          id: x.s_id,
          name: x.s_name,
          url: x.s_url,
          scope: x.s_scope,
          min_priority: x.s_min_priority,
          format: x.s_format,
          owner_token_id: x.s_owner_token_id,
          owner_name: x.s_owner_name,
          owner_scope: x.s_owner_scope,
          status: x.s_status,
          created_at: x.s_created_at,
          failing_since: x.s_failing_since,
          paused_at: x.s_paused_at,
          pause_reason: x.s_pause_reason,
        }),
        secret: x.s_secret,
      },
      message: {
        identifier: x.m_identifier,
        msgType: x.m_msg_type,
        xml: x.m_xml,
        event: x.m_event,
        incident: x.m_incident,
        sent: x.m_sent.toISOString(),
      },
    }));
  }

  /** Logs one attempt and moves the delivery on; returns the subscription's failure streak start (null after a success). */
  async recordAttempt(a: AttemptRecord): Promise<number | null> {
    return this.db.withTransaction(async (tx) => {
      await tx.query(INSERT_ATTEMPT, [
        a.deliveryId,
        a.attempt,
        date(a.at),
        a.durationMs,
        a.httpStatus,
        a.error,
      ]);
      await tx.query(UPDATE_DELIVERY, [
        a.deliveryId,
        a.attempt,
        date(a.at),
        a.httpStatus,
        a.error,
        a.delivered,
        date(a.nextAttemptAt),
      ]);
      if (a.delivered) {
        await tx.query(SUB_SUCCESS, [a.subscriptionId]);
        return null;
      }
      const r = await tx.query<{ failing_since: Date | null }>(SUB_FAILURE, [a.subscriptionId, date(a.at)]);
      return ms(r.rows[0]?.failing_since ?? null);
    });
  }

  async deliveries(
    subscriptionId: string,
    q: { before?: number; limit: number },
  ): Promise<Array<DeliveryView & { ord: number }>> {
    type Row = {
      id: string;
      message_id: string;
      msg_type: string;
      alarm_id: string;
      status: string;
      attempts: number;
      created_at: Date;
      next_attempt_at: Date;
      delivered_at: Date | null;
      last_status: number | null;
      last_error: string | null;
      ord: string;
      log: Array<{
        attempt: number;
        at: string;
        durationMs: number;
        httpStatus: number | null;
        error: string | null;
      }>;
    };
    const r = await this.db.query<Row>(LIST_DELIVERIES, [subscriptionId, q.before ?? null, q.limit]);
    return r.rows.map((x) => ({
      id: x.id,
      ord: Number(x.ord),
      messageId: x.message_id,
      msgType: x.msg_type,
      alarmId: x.alarm_id,
      status: x.status,
      attempts: x.attempts,
      createdAt: x.created_at.toISOString(),
      nextAttemptAt: x.status === 'pending' ? iso(x.next_attempt_at) : null,
      deliveredAt: iso(x.delivered_at),
      lastStatus: x.last_status,
      lastError: x.last_error,
      log: x.log.map((l) => ({ ...l, at: new Date(l.at).toISOString() })),
    }));
  }

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

  /** Open obligations (and those closed since `closedSince`) of the given sites. */
  async obligations(siteIds: readonly string[] | undefined, closedSince: number): Promise<Obligation[]> {
    return (
      await this.db.query<ObligationRow>(OBLIGATIONS_OF_SITES, [siteIds ?? null, date(closedSince)])
    ).rows.map(toObligation);
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
