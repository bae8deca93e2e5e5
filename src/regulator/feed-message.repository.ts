import { Inject, Injectable } from '@nestjs/common';
import type { AlarmEventDto } from '../alarms/domain/alarm.types';
import type { Priority } from '../common/types';
import type { Incident } from './domain/incident.policy';
import type { SubscriptionStatus } from './domain/webhook.policy';
import type { NewObligation } from './disposal.repository';
import { fence, type FenceToken } from '../cluster/fence';
import { FEED_SQL, date, type FeedSql } from './regulator-sql';

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
  readonly nationalIdentifier?: string;
};

export type CapDocument = {
  readonly identifier: string;
  readonly siteId: string;
  readonly xml: string;
  readonly national?: { readonly identifier: string; readonly xml: string };
};

export type NewMessage = {
  readonly identifier: string;
  readonly event: AlarmEventDto;
  readonly msgType: 'Alert' | 'Update' | 'Cancel';
  readonly incident: Incident;
  readonly sentMs: number;
  readonly headline: string;
  readonly xml: string;
  /** The national-profile rendering (docs/cap-profile.md), when that profile is configured. */
  readonly national?: { readonly identifier: string; readonly xml: string };
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

// ---------------------------------------------------------------------------------------------------------------------
// SQL (parameterised constants)

const SELECT_CURSOR = `SELECT last_seq FROM feed_cursor WHERE name = $1`;
const UPSERT_CURSOR = `INSERT INTO feed_cursor (name, last_seq) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET last_seq = GREATEST(feed_cursor.last_seq, EXCLUDED.last_seq), updated_at = now()`;
const SELECT_INCIDENTS = `SELECT DISTINCT ON (alarm_id) alarm_id, site_id, incident, incident_sent, incident_open
FROM feed_message ORDER BY alarm_id, event_seq DESC`;
const INSERT_MESSAGE = `INSERT INTO feed_message
  (identifier, event_seq, alarm_id, site_id, source_id, msg_type, priority, event, incident, incident_sent, incident_open, sent, headline, xml, event_json,
   national_identifier, national_xml)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
ON CONFLICT (identifier) DO NOTHING`;
const INSERT_DELIVERIES = `INSERT INTO feed_delivery (id, subscription_id, message_id, next_attempt_at)
SELECT d.id, d.sub, $3, d.due FROM unnest($1::text[], $2::text[], $4::timestamptz[]) AS d(id, sub, due)
ORDER BY d.sub
ON CONFLICT (subscription_id, message_id) DO NOTHING`;
const SUBSCRIPTION_TARGETS = `SELECT id, scope, min_priority, status FROM feed_subscription WHERE status <> 'deleted' FOR SHARE`;
const INSERT_OBLIGATION = `INSERT INTO disposal_obligation (incident, alarm_id, site_id, source_id, priority, raised_at, due_at)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (incident) DO NOTHING`;

const LIST_MESSAGES = `SELECT identifier, event_seq, alarm_id, site_id, source_id, msg_type, priority, event, incident, sent, headline,
  national_identifier
FROM feed_message
WHERE ($1::text[] IS NULL OR site_id = ANY($1)) AND ($2::bigint IS NULL OR event_seq < $2)
  AND ($4::text[] IS NULL OR priority = ANY($4) OR event_json->>'condition' = ANY($5::text[]))
ORDER BY event_seq DESC LIMIT $3`;
const GET_MESSAGE = `SELECT identifier, site_id, xml, national_identifier, national_xml FROM feed_message
WHERE identifier = $1 OR national_identifier = $1`;
const NATIONAL_OF = `SELECT national_identifier FROM feed_message WHERE identifier = $1`;
const LAST_NATIONAL = `SELECT national_identifier FROM feed_message
WHERE national_identifier LIKE $1 || '\\_%' ORDER BY national_identifier DESC LIMIT 1`;
const MESSAGES_OF_ALARM = `SELECT identifier, event_seq, alarm_id, site_id, source_id, msg_type, priority, event, incident, sent, headline
FROM feed_message WHERE alarm_id = $1 ORDER BY event_seq`;

// ---------------------------------------------------------------------------------------------------------------------
// row mapping

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
  national_identifier?: string | null;
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
  ...(r.national_identifier ? { nationalIdentifier: r.national_identifier } : {}),
});

/**
 * The CAP feed: the projector's cursor and incidents, and the projection of an alarm event into a CAP message, its
 * webhook deliveries and its disposal obligation (one transaction, `withTransaction`); the Atom/CAP reads.
 */
@Injectable()
export class FeedMessageRepository {
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

  /**
   * Message, deliveries, obligation and cursor in one transaction; idempotent (a replay after a crash adds nothing
   * twice). In cluster mode the transaction first passes the fence of the `job:feeds` lease (FencedError: another node
   * projects now, nothing is written; docs/adr/0026-cluster-callouts-feeds.md).
   */
  async project(p: Projection, token?: FenceToken): Promise<number> {
    let deliveries = 0;
    await this.db.withTransaction(async (tx) => {
      if (token) await fence(tx, token);
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
          m.national?.identifier ?? null,
          m.national?.xml ?? null,
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
    /** Only these priorities, plus messages of these conditions (src/regulator/domain/atom-filter.ts); absent: everything. */
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

  /** By either identifier; `national` when the message has a national-profile rendering. */
  async capDocument(identifier: string): Promise<CapDocument | undefined> {
    const r = await this.db.query<{
      identifier: string;
      site_id: string;
      xml: string;
      national_identifier: string | null;
      national_xml: string | null;
    }>(GET_MESSAGE, [identifier]);
    const row = r.rows[0];
    if (!row) return undefined;
    return {
      identifier: row.identifier,
      siteId: row.site_id,
      xml: row.xml,
      ...(row.national_identifier !== null && row.national_xml !== null
        ? { national: { identifier: row.national_identifier, xml: row.national_xml } }
        : {}),
    };
  }

  /** National identifier of a stored message (the incident's Alert, for references). */
  async nationalIdentifierOf(identifier: string): Promise<string | undefined> {
    const r = await this.db.query<{ national_identifier: string | null }>(NATIONAL_OF, [identifier]);
    return r.rows[0]?.national_identifier ?? undefined;
  }

  /** The highest national identifier stored for a unit code (seeds the serial after a restart). */
  async lastNationalIdentifier(senderCode: string): Promise<string | undefined> {
    const r = await this.db.query<{ national_identifier: string }>(LAST_NATIONAL, [senderCode]);
    return r.rows[0]?.national_identifier;
  }
}
