/**
 * Verification of the whole alarm journal: the global chain of a single node and one chain per site written by
 * cluster nodes (docs/adr/0016-cluster.md, "Journal: a chain per site and a global sequence"). Pure computation.
 */
import { createHash } from 'node:crypto';
import {
  ChainVerifier,
  GENESIS_HASH,
  canonicalJson,
  hashRow,
  type ChainBreak,
  type JournalEntry,
} from './journal-chain';

export type ChainHead = { readonly seq: number; readonly hash: string };
export type SiteChainHead = { readonly siteSeq: number; readonly hash: string };

/**
 * The journal's head as anchors sign it (docs/adr/0015-journal-anchors.md): while only the global chain exists, its
 * last row's hash (as before clustering); once sites have their own chains, sha256 over the canonical JSON of the
 * global chain's head and every site chain's head. Each head's hash covers its chain's whole past, so the digest
 * vouches for every row with a seq up to the anchored one.
 */
export function journalHeadHash(global: ChainHead | null, sites: ReadonlyMap<string, SiteChainHead>): string {
  if (sites.size === 0) return global?.hash ?? GENESIS_HASH;
  const bySite: Record<string, SiteChainHead> = {};
  for (const [site, head] of [...sites].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)))
    bySite[site] = { siteSeq: head.siteSeq, hash: head.hash };
  return createHash('sha256')
    .update(canonicalJson({ global: global ? { seq: global.seq, hash: global.hash } : null, sites: bySite }))
    .digest('hex');
}

/**
 * Walks journal rows in global seq order. A row without a site link belongs to the global chain (linked in seq
 * order, gap-free until a cluster node has written); a row with one belongs to its site's chain (site_seq 1, 2, …
 * without gaps, prev_hash = the site's previous row's hash). The first problem is the answer.
 */
export class JournalVerifier {
  private readonly global = new ChainVerifier();
  private globalHead: ChainHead | null = null;
  private readonly sites = new Map<string, SiteChainHead>();
  private checked = 0;
  private last: number | null = null;

  get rowsChecked(): number {
    return this.checked;
  }
  get lastSeq(): number | null {
    return this.last;
  }
  /** Heads of the site chains seen so far. */
  get siteHeads(): ReadonlyMap<string, SiteChainHead> {
    return this.sites;
  }

  headHash(): string {
    return journalHeadHash(this.globalHead, this.sites);
  }

  push(row: JournalEntry): ChainBreak | null {
    if (this.last !== null && row.seq <= this.last)
      return { seq: row.seq, reason: `seq ${row.seq} is not after ${this.last}` };
    const broken = row.site ? this.pushSite(row, row.site.siteSeq) : this.pushGlobal(row);
    if (broken) return broken;
    this.last = row.seq;
    this.checked += 1;
    return null;
  }

  private pushGlobal(row: JournalEntry): ChainBreak | null {
    // the head is what the database holds, even past a break (anchors compare with it)
    this.globalHead = { seq: row.seq, hash: row.hash };
    return this.global.push(row);
  }

  private pushSite(row: JournalEntry, siteSeq: number): ChainBreak | null {
    this.global.seqGapsAllowed = true;
    const head = this.sites.get(row.siteId);
    this.sites.set(row.siteId, { siteSeq, hash: row.hash });
    const at = `site ${row.siteId} site_seq ${siteSeq}`;
    const expectedSeq = (head?.siteSeq ?? 0) + 1;
    if (siteSeq !== expectedSeq)
      return {
        seq: row.seq,
        reason: `${at}: expected site_seq ${expectedSeq}, rows of the site are missing`,
      };
    if (row.prevHash !== (head?.hash ?? GENESIS_HASH))
      return { seq: row.seq, reason: `${at}: prev_hash does not match the hash of the site's row before` };
    if (hashRow(row.prevHash, row) !== row.hash)
      return { seq: row.seq, reason: `${at}: hash does not match the row content: the row was modified` };
    return null;
  }
}
