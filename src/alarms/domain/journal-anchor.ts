/**
 * Journal anchors (docs/adr/0015-journal-anchors.md): a signed statement "the alarm journal's chain head at seq N has
 * hash H", published outside the database (regulator feeds, webhooks) so that a rewrite of the journal by someone
 * holding the database's credentials — trigger dropped, row changed, hashes recomputed — no longer matches the copies
 * regulators hold. Pure: signing and checking with node:crypto keys handed in; no I/O.
 */
import { createHash, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';

export const ANCHOR_VERSION = 'hazwatch-journal-anchor/v1';

/** A chain head, signed. `at` is when it was signed (ISO 8601); keyId names the public key that checks it. */
export type JournalAnchor = {
  readonly seq: number;
  readonly hash: string;
  readonly at: string;
  readonly keyId: string;
  /** Ed25519 signature over anchorMessage(), base64. */
  readonly signature: string;
};

/** The exact bytes signed: version, seq, hash and time on separate lines (no JSON canonicalisation questions). */
export function anchorMessage(a: Pick<JournalAnchor, 'seq' | 'hash' | 'at' | 'keyId'>): Buffer {
  return Buffer.from(`${ANCHOR_VERSION}\n${a.keyId}\n${a.seq}\n${a.hash}\n${a.at}\n`, 'utf8');
}

/** Key id: the first 16 hex digits of sha256 over the public key's DER (SPKI). */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

export function signAnchor(
  privateKey: KeyObject,
  keyId: string,
  head: { seq: number; hash: string },
  atMs: number,
): JournalAnchor {
  const unsigned = { seq: head.seq, hash: head.hash, at: new Date(atMs).toISOString(), keyId };
  return { ...unsigned, signature: edSign(null, anchorMessage(unsigned), privateKey).toString('base64') };
}

export function anchorSignatureValid(publicKey: KeyObject, keyId: string, a: JournalAnchor): boolean {
  if (a.keyId !== keyId) return false;
  try {
    return edVerify(null, anchorMessage(a), publicKey, Buffer.from(a.signature, 'base64'));
  } catch {
    return false;
  }
}

/** One CAP parameter / Atom value: `seq hash at keyId signature`, separated by single spaces. */
export function formatAnchor(a: JournalAnchor): string {
  return `${a.seq} ${a.hash} ${a.at} ${a.keyId} ${a.signature}`;
}

export function parseAnchor(text: string): JournalAnchor | undefined {
  const [seq, hash, at, keyId, signature, ...rest] = text.trim().split(/\s+/);
  if (rest.length > 0 || !seq || !hash || !at || !keyId || !signature) return undefined;
  if (!/^\d{1,15}$/.test(seq) || !/^[0-9a-f]{64}$/.test(hash)) return undefined;
  return { seq: Number(seq), hash, at, keyId, signature };
}

export type AnchorDivergence = {
  readonly seq: number;
  /** The hash the anchor (held outside the database) says the row at seq had. */
  readonly anchoredHash: string;
  /** The hash the database's row at seq has now, or null when the row is missing. */
  readonly journalHash: string | null;
  readonly anchorSignedAt: string;
};

/**
 * Compares journal rows with anchors as the rows stream past in seq order: an anchor at seq N matches when row N's
 * hash equals the anchored hash. Because each hash covers every row before it, a match at N vouches for rows 1…N and
 * the first mismatch bounds the rewrite: some row at or before that seq (and after the last matching anchor) changed.
 */
export class AnchorChecker {
  private readonly bySeq = new Map<number, JournalAnchor[]>();
  private matchedCount = 0;
  private lastMatched: number | null = null;
  private readonly divergences: AnchorDivergence[] = [];
  private lastSeqSeen = 0;

  constructor(anchors: readonly JournalAnchor[]) {
    for (const a of anchors) {
      if (a.seq === 0) continue; // the empty journal: nothing to compare
      const list = this.bySeq.get(a.seq) ?? [];
      list.push(a);
      this.bySeq.set(a.seq, list);
    }
  }

  /** `hash`: the journal's head after this row, computed only when an anchor names this seq. */
  push(row: { readonly seq: number; readonly hash: string | (() => string) }): void {
    this.lastSeqSeen = row.seq;
    const list = this.bySeq.get(row.seq);
    if (!list) return;
    const hash = typeof row.hash === 'string' ? row.hash : row.hash();
    for (const a of list) {
      if (a.hash === hash) {
        this.matchedCount += 1;
        this.lastMatched = row.seq;
      } else
        this.divergences.push({
          seq: a.seq,
          anchoredHash: a.hash,
          journalHash: hash,
          anchorSignedAt: a.at,
        });
    }
    this.bySeq.delete(row.seq);
  }

  /** After the last row: anchors beyond the journal's end mean rows were removed from its tail. */
  finish(): AnchorReport {
    for (const [seq, list] of [...this.bySeq].sort((x, y) => x[0] - y[0]))
      for (const a of list)
        this.divergences.push({ seq, anchoredHash: a.hash, journalHash: null, anchorSignedAt: a.at });
    const first = this.divergences.slice().sort((x, y) => x.seq - y.seq)[0];
    return {
      matched: this.matchedCount,
      lastMatchedSeq: this.lastMatched,
      divergences: this.divergences.length,
      ...(first
        ? {
            firstDivergence: {
              ...first,
              rewrittenBetween: { afterSeq: this.lastMatchedBefore(first.seq), atOrBeforeSeq: first.seq },
            },
          }
        : {}),
      journalLastSeq: this.lastSeqSeen,
    };
  }

  private lastMatchedBefore(seq: number): number {
    return this.lastMatched !== null && this.lastMatched < seq ? this.lastMatched : 0;
  }
}

export type AnchorReport = {
  readonly matched: number;
  readonly lastMatchedSeq: number | null;
  readonly divergences: number;
  readonly firstDivergence?: AnchorDivergence & {
    readonly rewrittenBetween: { readonly afterSeq: number; readonly atOrBeforeSeq: number };
  };
  readonly journalLastSeq: number;
};
