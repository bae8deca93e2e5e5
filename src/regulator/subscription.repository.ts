import { Inject, Injectable } from '@nestjs/common';
import type { AlarmEventDto } from '../alarms/domain/alarm.types';
import type { Priority } from '../common/types';
import type { SubscriptionFormat, SubscriptionStatus } from './domain/webhook.policy';
import type { CapProfile } from './domain/cap-national.profile';
import { FEED_SQL, date, iso, ms, type FeedSql } from './regulator-sql';

export type Subscription = {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly scope: string;
  readonly minPriority: Priority;
  readonly format: SubscriptionFormat;
  /** CAP profile of the documents (docs/cap-profile.md): `oasis` or `cn-national`. */
  readonly profile: CapProfile;
  readonly ownerTokenId: string;
  readonly ownerName: string;
  readonly ownerScope: string;
  readonly status: SubscriptionStatus;
  readonly createdAt: number;
  readonly failingSince: number | null;
  readonly pausedAt: number | null;
  readonly pauseReason: string | null;
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
    /** The national-profile twin (docs/cap-profile.md), when one was rendered. */
    readonly national?: { readonly identifier: string; readonly xml: string };
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
    httpStatus: number | null;
    error: string | null;
  }>;
};

// ---------------------------------------------------------------------------------------------------------------------
// SQL (parameterised constants)

const SUB_COLUMNS = `id, name, url, scope, min_priority, format, profile, owner_token_id, owner_name, owner_scope, status, created_at, failing_since, paused_at, pause_reason`;
const INSERT_SUBSCRIPTION = `INSERT INTO feed_subscription (id, name, url, scope, min_priority, format, secret, owner_token_id, owner_name, owner_scope, created_at, profile)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ${SUB_COLUMNS}`;
const LIST_SUBSCRIPTIONS = `SELECT ${SUB_COLUMNS} FROM feed_subscription WHERE status <> 'deleted' ORDER BY created_at, id`;
const GET_SUBSCRIPTION = `SELECT ${SUB_COLUMNS} FROM feed_subscription WHERE id = $1 AND status <> 'deleted'`;
const DELETE_SUBSCRIPTION = `UPDATE feed_subscription SET status = 'deleted', deleted_at = $2 WHERE id = $1 AND status <> 'deleted'`;
const CANCEL_PENDING = `UPDATE feed_delivery SET status = 'cancelled', next_attempt_at = $2 WHERE subscription_id = $1 AND status = 'pending'`;
const PAUSE_SUBSCRIPTION = `UPDATE feed_subscription SET status = 'paused', paused_at = $2, pause_reason = $3 WHERE id = $1 AND status = 'active'`;
const RESUME_SUBSCRIPTION = `UPDATE feed_subscription SET status = 'active', paused_at = NULL, pause_reason = NULL, failing_since = NULL WHERE id = $1 AND status = 'paused'`;
const RESCHEDULE_PENDING = `UPDATE feed_delivery SET next_attempt_at = $2 WHERE subscription_id = $1 AND status = 'pending'`;

const GRANTED_TO = `SELECT subscription_id FROM feed_subscription_grant WHERE grantee_token_id = $1`;
const INSERT_GRANT = `INSERT INTO feed_subscription_grant (subscription_id, grantee_token_id, granted_by, granted_at)
VALUES ($1, $2, $3, $4) ON CONFLICT (subscription_id, grantee_token_id) DO NOTHING`;
const DELETE_GRANT = `DELETE FROM feed_subscription_grant WHERE subscription_id = $1 AND grantee_token_id = $2`;
const GRANTS_OF = `SELECT grantee_token_id, granted_by, granted_at FROM feed_subscription_grant WHERE subscription_id = $1 ORDER BY granted_at`;

const DELIVERY_HEADS = `SELECT DISTINCT ON (d.subscription_id)
  d.id, d.ord, d.attempts, d.next_attempt_at,
  s.id AS s_id, s.name AS s_name, s.url AS s_url, s.scope AS s_scope, s.min_priority AS s_min_priority, s.format AS s_format, s.profile AS s_profile, s.secret AS s_secret,
  s.owner_token_id AS s_owner_token_id, s.owner_name AS s_owner_name, s.owner_scope AS s_owner_scope, s.status AS s_status,
  s.created_at AS s_created_at, s.failing_since AS s_failing_since, s.paused_at AS s_paused_at, s.pause_reason AS s_pause_reason,
  m.identifier AS m_identifier, m.msg_type AS m_msg_type, m.xml AS m_xml, m.event_json AS m_event, m.incident AS m_incident, m.sent AS m_sent,
  m.national_identifier AS m_national_identifier, m.national_xml AS m_national_xml
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
  COALESCE((SELECT json_agg(json_build_object('attempt', a.attempt, 'at', a.at, 'httpStatus', a.http_status, 'error', a.error) ORDER BY a.attempt)
    FROM feed_delivery_attempt a WHERE a.delivery_id = d.id), '[]') AS log
FROM feed_delivery d JOIN feed_message m ON m.identifier = d.message_id
WHERE d.subscription_id = $1 AND ($2::bigint IS NULL OR d.ord < $2)
ORDER BY d.ord DESC LIMIT $3`;
const PENDING_COUNTS = `SELECT subscription_id, count(*)::int AS n FROM feed_delivery WHERE status = 'pending' GROUP BY subscription_id`;

// ---------------------------------------------------------------------------------------------------------------------
// row mapping

type SubRow = {
  id: string;
  name: string;
  url: string;
  scope: string;
  min_priority: Priority;
  format: SubscriptionFormat;
  profile: CapProfile;
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
  profile: r.profile,
  ownerTokenId: r.owner_token_id,
  ownerName: r.owner_name,
  ownerScope: r.owner_scope,
  status: r.status,
  createdAt: r.created_at.getTime(),
  failingSince: ms(r.failing_since),
  pausedAt: ms(r.paused_at),
  pauseReason: r.pause_reason,
});

/** Webhook subscriptions and their outbox (deliveries and the attempt log). */
@Injectable()
export class SubscriptionRepository {
  constructor(@Inject(FEED_SQL) private readonly db: FeedSql) {}

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
      s.profile,
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

  /** Ids of the subscriptions an admin let this token read. */
  async grantedTo(tokenId: string): Promise<Set<string>> {
    const r = await this.db.query<{ subscription_id: string }>(GRANTED_TO, [tokenId]);
    return new Set(r.rows.map((x) => x.subscription_id));
  }

  async grant(subscriptionId: string, granteeTokenId: string, by: string, at: number): Promise<void> {
    await this.db.query(INSERT_GRANT, [subscriptionId, granteeTokenId, by, date(at)]);
  }

  async revokeGrant(subscriptionId: string, granteeTokenId: string): Promise<boolean> {
    return ((await this.db.query(DELETE_GRANT, [subscriptionId, granteeTokenId])).rowCount ?? 0) > 0;
  }

  async grants(
    subscriptionId: string,
  ): Promise<Array<{ tokenId: string; grantedBy: string; grantedAt: string }>> {
    const r = await this.db.query<{ grantee_token_id: string; granted_by: string; granted_at: Date }>(
      GRANTS_OF,
      [subscriptionId],
    );
    return r.rows.map((x) => ({
      tokenId: x.grantee_token_id,
      grantedBy: x.granted_by,
      grantedAt: x.granted_at.toISOString(),
    }));
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
      m_national_identifier: string | null;
      m_national_xml: string | null;
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
          profile: x.s_profile,
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
        ...(x.m_national_identifier !== null && x.m_national_xml !== null
          ? { national: { identifier: x.m_national_identifier, xml: x.m_national_xml } }
          : {}),
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
}
