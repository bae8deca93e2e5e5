import type { QueryResult, QueryResultRow } from 'pg';
import { PRIORITY_LEVEL, type Priority } from '../common/types';
import type { TxClient } from '../storage/database.service';
import type { AlarmStore, AlarmWrite, JournalQuery, LoadedAlarmState } from './alarm.store';
import {
  ALARM_EVENT_TYPES,
  isAlarmState,
  type ActorRole,
  type AlarmEventType,
  type AlarmRecord,
  type AlarmSnapshot,
} from './domain/alarm.types';
import type { KpiRaise } from './domain/alarm-kpi';
import { GENESIS_HASH, type JournalEntry } from './domain/journal-chain';

/** What the repository needs from storage's `Database`: parameterised queries and `withTransaction`. */
export type AlarmSqlClient = {
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>>;
  withTransaction<T>(fn: (tx: TxClient) => Promise<T>): Promise<T>;
};

/** A journal row already stored under this seq differs from the one being written: never overwrite, stop loudly. */
export class JournalConflictError extends Error {
  constructor(readonly seq: number) {
    super(
      `alarm_journal already holds a different row with seq ${seq}: another writer is using this database, or the journal was altered`,
    );
    this.name = 'JournalConflictError';
  }
}

const INSERT_JOURNAL = `
INSERT INTO alarm_journal (seq, at, alarm_id, site_id, event, from_state, to_state, actor, actor_role, comment, snapshot, prev_hash, hash)
SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                     $9::text[], $10::text[], $11::jsonb[], $12::text[], $13::text[])
ON CONFLICT (seq) DO NOTHING
RETURNING seq`;

const SELECT_HASHES = `SELECT seq, hash FROM alarm_journal WHERE seq = ANY($1::bigint[])`;

const UPSERT_ALARMS = `
INSERT INTO alarm (id, site_id, source_id, rule_id, device_id, condition, priority, state, active, acked, raised_at, seq, record, updated_at)
SELECT u.*, now() FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                              $9::boolean[], $10::boolean[], $11::timestamptz[], $12::bigint[], $13::jsonb[])
  AS u(id, site_id, source_id, rule_id, device_id, condition, priority, state, active, acked, raised_at, seq, record)
ON CONFLICT (id) DO UPDATE SET
  priority = EXCLUDED.priority, state = EXCLUDED.state, active = EXCLUDED.active, acked = EXCLUDED.acked,
  raised_at = EXCLUDED.raised_at, seq = EXCLUDED.seq, record = EXCLUDED.record, updated_at = now()
WHERE alarm.seq < EXCLUDED.seq`;

const SELECT_ALARMS = `SELECT record FROM alarm ORDER BY id`;
const SELECT_SITE_ALARMS = `SELECT record FROM alarm WHERE site_id = $1 ORDER BY id`;
/**
 * The global chain's last row, and the journal's highest seq (higher when cluster nodes wrote site-chain rows since:
 * a single node continues the seqs after them and its chain after its own last row).
 */
const SELECT_TAIL = `
SELECT (SELECT max(seq) FROM alarm_journal) AS seq,
       (SELECT hash FROM alarm_journal WHERE site_seq IS NULL ORDER BY seq DESC LIMIT 1) AS hash`;

/** Wakes the nodes tailing the journal (JournalTail); the payload is the highest seq written. */
export const NOTIFY_JOURNAL = `SELECT pg_notify('hazwatch_journal', $1::text)`;

/** The columns journalFromRow reads. */
export const JOURNAL_COLUMNS =
  'seq, at, alarm_id, site_id, event, from_state, to_state, actor, actor_role, comment, snapshot, prev_hash, hash, site_seq, epoch, node_id';

const SELECT_JOURNAL = `
SELECT ${JOURNAL_COLUMNS}
FROM alarm_journal
WHERE ($1::bigint IS NULL OR seq > $1)
  AND ($2::timestamptz IS NULL OR at >= $2)
  AND ($3::timestamptz IS NULL OR at < $3)
  AND ($4::text[] IS NULL OR site_id = ANY($4))
  AND ($5::text IS NULL OR alarm_id = $5)
ORDER BY seq
LIMIT $6`;

/** Annunciated raises only: a raise while shelved, suppressed or out of service never reached the operator. */
const SELECT_RAISES = `
SELECT alarm_id, site_id, at, snapshot->>'sourceId' AS source_id, snapshot->>'ruleId' AS rule_id,
       snapshot->>'deviceId' AS device_id, snapshot->>'condition' AS condition, snapshot->>'priority' AS priority
FROM alarm_journal
WHERE event = 'raised' AND to_state NOT IN ('shelved', 'suppressed', 'out_of_service')
  AND at >= $1 AND at < $2 AND ($3::text[] IS NULL OR site_id = ANY($3))
ORDER BY seq`;

export type JournalRow = {
  seq: string;
  at: Date;
  alarm_id: string;
  site_id: string;
  event: string;
  from_state: string;
  to_state: string;
  actor: string;
  actor_role: string;
  comment: string | null;
  snapshot: AlarmSnapshot;
  prev_hash: string;
  hash: string;
  /** Cluster rows only (absent in the legacy spool file's rows). */
  site_seq?: string | null;
  epoch?: string | null;
  node_id?: string | null;
};

const ACTOR_ROLES: readonly string[] = ['operator', 'supervisor', 'regulator', 'admin', 'video', 'system'];
const PRIORITIES: readonly string[] = Object.keys(PRIORITY_LEVEL);

function bad(what: string, detail: string): never {
  throw new Error(`unexpected ${what} in the database: ${detail}`);
}

/** Journal row → entry, checked at the boundary. */
export function journalFromRow(r: JournalRow): JournalEntry {
  if (!(ALARM_EVENT_TYPES as readonly string[]).includes(r.event))
    bad('alarm_journal.event', `${r.event} (seq ${r.seq})`);
  if (!isAlarmState(r.from_state) || !isAlarmState(r.to_state))
    bad('alarm_journal state', `${r.from_state} → ${r.to_state} (seq ${r.seq})`);
  if (!ACTOR_ROLES.includes(r.actor_role)) bad('alarm_journal.actor_role', `${r.actor_role} (seq ${r.seq})`);
  if (r.snapshot === null || typeof r.snapshot !== 'object')
    bad('alarm_journal.snapshot', `not an object (seq ${r.seq})`);
  return {
    seq: Number(r.seq),
    at: r.at.getTime(),
    alarmId: r.alarm_id,
    siteId: r.site_id,
    event: r.event as AlarmEventType,
    fromState: r.from_state,
    toState: r.to_state,
    actor: r.actor,
    actorRole: r.actor_role as ActorRole,
    comment: r.comment,
    snapshot: r.snapshot,
    prevHash: r.prev_hash,
    hash: r.hash,
    ...(r.site_seq != null && r.epoch != null && r.node_id != null
      ? { site: { siteSeq: Number(r.site_seq), epoch: Number(r.epoch), nodeId: r.node_id } }
      : {}),
  };
}

/** alarm.record → AlarmRecord, checked at the boundary. */
export function recordFromJson(j: unknown): AlarmRecord {
  if (j === null || typeof j !== 'object') bad('alarm.record', 'not an object');
  const r = j as Record<string, unknown>;
  const str = (k: string): void => {
    if (typeof r[k] !== 'string') bad('alarm.record', `${k} missing in ${String(r.id)}`);
  };
  ['id', 'siteId', 'sourceId', 'ruleId', 'condition', 'message'].forEach(str);
  if (!isAlarmState(String(r.state))) bad('alarm.record.state', `${String(r.state)} in ${String(r.id)}`);
  if (!PRIORITIES.includes(String(r.priority)))
    bad('alarm.record.priority', `${String(r.priority)} in ${String(r.id)}`);
  for (const k of ['active', 'acked', 'latching'])
    if (typeof r[k] !== 'boolean') bad('alarm.record', `${k} missing in ${String(r.id)}`);
  for (const k of ['raisedAt', 'seq'])
    if (typeof r[k] !== 'number') bad('alarm.record', `${k} missing in ${String(r.id)}`);
  if (!Array.isArray(r.suppressedBy)) bad('alarm.record', `suppressedBy missing in ${String(r.id)}`);
  return r as unknown as AlarmRecord;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The 13 column arrays of a journal insert (unnest), in INSERT_JOURNAL's column order. */
export function journalColumns(e: readonly JournalEntry[]): unknown[] {
  return [
    e.map((x) => x.seq),
    e.map((x) => iso(x.at)),
    e.map((x) => x.alarmId),
    e.map((x) => x.siteId),
    e.map((x) => x.event),
    e.map((x) => x.fromState),
    e.map((x) => x.toState),
    e.map((x) => x.actor),
    e.map((x) => x.actorRole),
    e.map((x) => x.comment),
    e.map((x) => JSON.stringify(x.snapshot)),
    e.map((x) => x.prevHash),
    e.map((x) => x.hash),
  ];
}

/** Stores the alarms' current state (a row only moves forward: a lower seq never overwrites a higher one). */
export async function upsertAlarms(tx: Pick<TxClient, 'query'>, a: readonly AlarmRecord[]): Promise<void> {
  await tx.query(UPSERT_ALARMS, [
    a.map((x) => x.id),
    a.map((x) => x.siteId),
    a.map((x) => x.sourceId),
    a.map((x) => x.ruleId),
    a.map((x) => x.deviceId ?? null),
    a.map((x) => x.condition),
    a.map((x) => x.priority),
    a.map((x) => x.state),
    a.map((x) => x.active),
    a.map((x) => x.acked),
    a.map((x) => iso(x.raisedAt)),
    a.map((x) => x.seq),
    a.map((x) => JSON.stringify(x)),
  ]);
}

/** Raw SQL over storage's Database (parameterised constants; transactions only through withTransaction). */
export class AlarmRepository implements AlarmStore {
  constructor(private readonly db: AlarmSqlClient) {}

  async loadState(): Promise<LoadedAlarmState> {
    const [alarms, tail] = await Promise.all([
      this.db.query<{ record: unknown }>(SELECT_ALARMS),
      this.db.query<{ seq: string | null; hash: string | null }>(SELECT_TAIL),
    ]);
    const last = tail.rows[0];
    const lastSeq = last?.seq ? Number(last.seq) : 0;
    const records = alarms.rows.map((r) => recordFromJson(r.record));
    const ahead = records.find((a) => a.seq > lastSeq);
    if (ahead)
      throw new Error(
        `alarm ${ahead.id} has seq ${ahead.seq} beyond the journal's last seq ${lastSeq}: alarm and alarm_journal disagree`,
      );
    return { alarms: records, lastSeq, lastHash: last?.hash ?? GENESIS_HASH };
  }

  /** Cluster node taking a site over: the site's alarms as its journal left them (docs/adr/0025-cluster-alarm-state.md). */
  async loadSite(siteId: string): Promise<AlarmRecord[]> {
    const r = await this.db.query<{ record: unknown }>(SELECT_SITE_ALARMS, [siteId]);
    return r.rows.map((x) => recordFromJson(x.record));
  }

  async persist(batch: readonly AlarmWrite[]): Promise<void> {
    if (batch.length === 0) return;
    const e = batch.map((w) => w.entry);
    // last state per alarm within the batch
    const latest = new Map<string, AlarmRecord>();
    for (const w of batch) latest.set(w.alarm.id, w.alarm);
    const a = [...latest.values()];
    await this.db.withTransaction(async (tx) => {
      const inserted = await tx.query<{ seq: string }>(INSERT_JOURNAL, journalColumns(e));
      if (inserted.rows.length !== e.length) {
        // A retry after a commit whose reply was lost: rows already there must be the very same rows.
        const fresh = new Set(inserted.rows.map((r) => Number(r.seq)));
        const existing = e.filter((x) => !fresh.has(x.seq));
        const stored = await tx.query<{ seq: string; hash: string }>(SELECT_HASHES, [
          existing.map((x) => x.seq),
        ]);
        const hashes = new Map(stored.rows.map((r) => [Number(r.seq), r.hash]));
        for (const x of existing) if (hashes.get(x.seq) !== x.hash) throw new JournalConflictError(x.seq);
      }
      await upsertAlarms(tx, a);
      await tx.query(NOTIFY_JOURNAL, [e[e.length - 1]?.seq ?? 0]);
    });
  }

  async journal(q: JournalQuery): Promise<JournalEntry[]> {
    const res = await this.db.query<JournalRow>(SELECT_JOURNAL, [
      q.afterSeq ?? null,
      q.from !== undefined ? iso(q.from) : null,
      q.to !== undefined ? iso(q.to) : null,
      q.siteIds ? [...q.siteIds] : null,
      q.alarmId ?? null,
      q.limit,
    ]);
    return res.rows.map(journalFromRow);
  }

  async raises(q: { from: number; to: number; siteIds?: readonly string[] }): Promise<KpiRaise[]> {
    const res = await this.db.query<{
      alarm_id: string;
      site_id: string;
      at: Date;
      source_id: string;
      rule_id: string;
      device_id: string | null;
      condition: string;
      priority: string;
    }>(SELECT_RAISES, [iso(q.from), iso(q.to), q.siteIds ? [...q.siteIds] : null]);
    return res.rows.map((r) => {
      if (!PRIORITIES.includes(r.priority)) bad('alarm_journal snapshot priority', r.priority);
      return {
        alarmId: r.alarm_id,
        siteId: r.site_id,
        sourceId: r.source_id,
        ruleId: r.rule_id,
        ...(r.device_id !== null ? { deviceId: r.device_id } : {}),
        condition: r.condition,
        priority: r.priority as Priority,
        at: r.at.getTime(),
      };
    });
  }
}
