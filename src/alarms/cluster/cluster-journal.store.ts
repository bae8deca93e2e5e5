import type { SiteFenceToken } from '../../common/site-ownership';
import { FencedError } from '../../cluster/fence';
import type { AlarmStore, AlarmWrite } from '../alarm.store';
import type { SiteJournalRow } from '../site-journal.repository';

/** The fenced per-site journal writer (SiteJournalRepository; fakes in unit tests). */
export type SiteJournalWriter = {
  write(token: SiteFenceToken, batch: readonly AlarmWrite[]): Promise<readonly SiteJournalRow[]>;
};

export type ClusterJournalHooks = {
  /** The fencing token of a site now; undefined when this node does not own it (any more). */
  tokenFor(siteId: string): SiteFenceToken | undefined;
  /** Rows committed by this write (first time only), in the site's order: announce them. */
  journalled(siteId: string, rows: readonly SiteJournalRow[]): void;
  /** The site's events were refused (lease lost or another node's epoch): they are not journalled. */
  refused(siteId: string, writes: readonly AlarmWrite[], reason: 'not owned' | 'fenced', err?: Error): void;
};

/** Origin hashes remembered as announced (a retried batch must not announce its committed part again). */
const ANNOUNCED_MEMORY = 20_000;

/**
 * The alarm write queue's store on a cluster node (docs/adr/0025-cluster-alarm-state.md). The writer seals every event
 * on its node-local chain (local seq, never shown to clients); `persist` splits a batch by site, in order, and hands
 * each site's part to the fenced site writer with the site's current token. What it committed is announced through
 * `journalled` with the global seq the journal gave it — the only announcement a cluster node makes, so every event
 * reaches `/ws`, call-outs and feeds once, after its commit.
 *
 * A site this node no longer owns (no token, or the database refused the epoch: FencedError) is not retried: its
 * events are handed to `refused` (logged loudly and counted there) and the rest of the batch goes on. They were never
 * announced; the site's new owner evaluates its readings afresh. Any other error fails the whole batch, which the queue
 * retries; the sites committed before the failure are then recognised by their origin hash and not announced again.
 */
export class ClusterJournalStore implements Pick<AlarmStore, 'persist'> {
  private readonly announced = new Set<string>();

  constructor(
    private readonly siteJournal: SiteJournalWriter,
    private readonly hooks: ClusterJournalHooks,
  ) {}

  async persist(batch: readonly AlarmWrite[]): Promise<void> {
    for (const [siteId, writes] of bySite(batch)) {
      const token = this.hooks.tokenFor(siteId);
      if (!token) {
        this.hooks.refused(siteId, writes, 'not owned');
        continue;
      }
      let rows: readonly SiteJournalRow[];
      try {
        rows = await this.siteJournal.write(token, writes);
      } catch (err) {
        if (err instanceof FencedError) {
          this.hooks.refused(siteId, writes, 'fenced', err);
          continue;
        }
        throw err;
      }
      const fresh = rows.filter((r) => !this.announced.has(r.origin.hash));
      for (const r of fresh) this.remember(r.origin.hash);
      if (fresh.length > 0) this.hooks.journalled(siteId, fresh);
    }
  }

  private remember(hash: string): void {
    this.announced.add(hash);
    if (this.announced.size > ANNOUNCED_MEMORY) {
      const oldest = this.announced.values().next().value;
      if (oldest !== undefined) this.announced.delete(oldest);
    }
  }
}

/** The batch's events per site, each site in batch order, sites in order of first appearance. */
export function bySite(batch: readonly AlarmWrite[]): Map<string, AlarmWrite[]> {
  const out = new Map<string, AlarmWrite[]>();
  for (const w of batch) {
    const list = out.get(w.entry.siteId);
    if (list) list.push(w);
    else out.set(w.entry.siteId, [w]);
  }
  return out;
}
