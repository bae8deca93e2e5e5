import type { QueryResult, QueryResultRow } from 'pg';
import { JOURNAL_COLUMNS, journalFromRow, type JournalRow } from '../alarm.repository';
import type { AlarmEventDto } from '../domain/alarm.types';
import { toEventDto } from '../domain/journal-chain';

/** The channel every journal write notifies (payload: the highest seq it wrote); a wake-up, not the data. */
export const JOURNAL_NOTIFY_CHANNEL = 'hazwatch_journal';

/** Plain queries on the main pool (storage's `Database` satisfies it). */
export type JournalTailDb = {
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>>;
};

const SELECT_WATERMARK = `SELECT coalesce(max(seq), 0) AS seq FROM alarm_journal`;
const SELECT_AFTER = `
SELECT ${JOURNAL_COLUMNS} FROM alarm_journal WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`;

/**
 * Reads the alarm journal in global seq order for `/ws` fan-out and resume across nodes (docs/adr/0016-cluster.md).
 *
 * Journal rows become visible in seq order: a single node commits its batches in seq order, and cluster writers draw
 * their seqs under the journal's advisory lock held until commit (SiteJournalRepository). So once the row with seq W
 * is visible, every row with a seq below W that will ever exist is visible too: W, the highest committed seq, is the
 * watermark. Seqs may have gaps (a cluster write that rolled back after drawing its seqs); never reorderings.
 */
export class JournalTail {
  constructor(private readonly db: JournalTailDb) {}

  /**
   * Final journal rows with seq > afterSeq, in seq order, at most `limit`, as AlarmEventDto (the shape the gateway
   * pushes, without `journalled`: these rows are committed), plus the watermark seq up to which nothing can still
   * appear: the last returned seq when the page is full, else the highest committed seq (≥ afterSeq's rows).
   */
  async readAfter(afterSeq: number, limit: number): Promise<{ events: AlarmEventDto[]; watermark: number }> {
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0)
      throw new RangeError(`afterSeq must be a non-negative integer, got ${afterSeq}`);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be ≥ 1, got ${limit}`);
    const wm = await this.db.query<{ seq: string }>(SELECT_WATERMARK);
    const top = Number(wm.rows[0]?.seq ?? 0);
    if (top <= afterSeq) return { events: [], watermark: top };
    const res = await this.db.query<JournalRow>(SELECT_AFTER, [afterSeq, top, limit]);
    const events = res.rows.map((r) => toEventDto(journalFromRow(r)));
    const full = res.rows.length === limit;
    const lastRow = res.rows[res.rows.length - 1];
    return { events, watermark: full && lastRow ? Number(lastRow.seq) : top };
  }
}
