import { fencedWrite, type FenceDb, type FenceToken, type FenceTx } from '../cluster/fence';
import type { AlarmWrite } from './alarm.store';
import {
  JOURNAL_COLUMNS,
  NOTIFY_JOURNAL,
  journalColumns,
  journalFromRow,
  upsertAlarms,
  type JournalRow,
} from './alarm.repository';
import type { AlarmRecord } from './domain/alarm.types';
import { GENESIS_HASH, sealEntry, type JournalEntry } from './domain/journal-chain';

/**
 * Serialises journal commits across the cluster: taken before the global seq is drawn and held until commit, so rows
 * become visible in seq order and a reader never sees seq N before a seq below N that will still appear
 * (docs/adr/0016-cluster.md, "Journal: a chain per site and a global sequence").
 */
export const JOURNAL_LOCK_SQL = `SELECT pg_advisory_xact_lock(hashtext('hazwatch_journal'))`;

const SELECT_ORIGINS = `SELECT origin_hash, ${JOURNAL_COLUMNS} FROM alarm_journal WHERE origin_hash = ANY($1::text[])`;
const SELECT_SITE_HEAD = `
SELECT site_seq, hash FROM alarm_journal WHERE site_id = $1 AND site_seq IS NOT NULL ORDER BY site_seq DESC LIMIT 1`;
const NEXT_SEQS = `SELECT nextval('alarm_journal_seq') AS seq FROM generate_series(1, $1::int)`;
const INSERT_SITE_ROWS = `
INSERT INTO alarm_journal (seq, at, alarm_id, site_id, event, from_state, to_state, actor, actor_role, comment, snapshot,
                           prev_hash, hash, site_seq, epoch, node_id, origin_hash)
SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::text[], $13::text[], $14::bigint[],
                     $15::bigint[], $16::text[], $17::text[])`;
/** A single node wrote after the sequence was last drawn (a cluster started on its database): continue after it. */
const CATCH_UP_SEQ = `
SELECT setval('alarm_journal_seq', m) FROM (SELECT max(seq) AS m FROM alarm_journal) t
WHERE m IS NOT NULL AND m >= (SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM alarm_journal_seq)`;

/** One event as the journal holds it: the global seq and site chain it got, and the event as the writer sealed it. */
export type SiteJournalRow = {
  readonly origin: JournalEntry;
  readonly row: JournalEntry;
  readonly duplicate: boolean;
};

/**
 * The journal write of a cluster node for one site it owns (docs/adr/0016-cluster.md). In one transaction that first
 * passes the site's fence (lease row, this node, this epoch, not expired; FencedError otherwise, nothing written):
 *
 * 1. takes the journal lock, so journal rows commit in global seq order;
 * 2. skips events already journalled (same origin hash: a retry after a lost commit reply, or a write-ahead log
 *    replayed by the next owner);
 * 3. continues the site's chain from its last committed row (site_seq + 1, prev_hash = its hash) and draws each
 *    row's global seq from `alarm_journal_seq`; the row records the epoch and node;
 * 4. stores the alarms' state under the new global seqs and wakes the journal's readers (pg_notify).
 *
 * The events arrive sealed on the writer's local chain (its write-ahead log); their hash becomes `origin_hash`.
 */
export class SiteJournalRepository {
  constructor(private readonly db: FenceDb) {}

  async write(token: FenceToken, batch: readonly AlarmWrite[]): Promise<SiteJournalRow[]> {
    const foreign = batch.find((w) => w.entry.siteId !== token.siteId);
    if (foreign)
      throw new Error(
        `site journal write for '${token.siteId}' got an event of site '${foreign.entry.siteId}' (seq ${foreign.entry.seq})`,
      );
    if (batch.length === 0) return [];
    return fencedWrite(this.db, token, (tx) => this.writeFenced(tx, token, batch));
  }

  private async writeFenced(
    tx: FenceTx,
    token: FenceToken,
    batch: readonly AlarmWrite[],
  ): Promise<SiteJournalRow[]> {
    await tx.query(JOURNAL_LOCK_SQL);
    const known = await tx.query<JournalRow & { origin_hash: string }>(SELECT_ORIGINS, [
      batch.map((w) => w.entry.hash),
    ]);
    const done = new Map(known.rows.map((r) => [r.origin_hash, journalFromRow(r)]));
    const fresh = batch.filter((w) => !done.has(w.entry.hash));
    const out: SiteJournalRow[] = [];
    for (const w of batch) {
      const row = done.get(w.entry.hash);
      if (row) out.push({ origin: w.entry, row, duplicate: true });
    }
    if (fresh.length === 0) return out;
    await tx.query(CATCH_UP_SEQ);
    const [head, seqs] = await Promise.all([
      tx.query<{ site_seq: string; hash: string }>(SELECT_SITE_HEAD, [token.siteId]),
      tx.query<{ seq: string }>(NEXT_SEQS, [fresh.length]),
    ]);
    const globalSeqs = seqs.rows.map((r) => Number(r.seq)).sort((a, b) => a - b);
    let siteSeq = head.rows[0] ? Number(head.rows[0].site_seq) : 0;
    let prev = head.rows[0]?.hash ?? GENESIS_HASH;
    const rows: JournalEntry[] = [];
    const latest = new Map<string, AlarmRecord>();
    fresh.forEach((w, i) => {
      const seq = globalSeqs[i] ?? 0;
      siteSeq += 1;
      const { prevHash: _p, hash: _h, ...unhashed } = w.entry;
      const row = sealEntry(prev, {
        ...unhashed,
        seq,
        snapshot: { ...w.entry.snapshot, seq },
        site: { siteSeq, epoch: token.epoch, nodeId: token.nodeId },
      });
      prev = row.hash;
      rows.push(row);
      latest.set(w.alarm.id, { ...w.alarm, seq });
      out.push({ origin: w.entry, row, duplicate: false });
    });
    await tx.query(INSERT_SITE_ROWS, [
      ...journalColumns(rows),
      rows.map((r) => r.site?.siteSeq),
      rows.map(() => token.epoch),
      rows.map(() => token.nodeId),
      fresh.map((w) => w.entry.hash),
    ]);
    await upsertAlarms(tx, [...latest.values()]);
    await tx.query(NOTIFY_JOURNAL, [rows[rows.length - 1]?.seq ?? 0]);
    return out;
  }
}
