/**
 * Tamper evidence for the append-only alarm journal: each row carries hash = sha256(prev_hash || canonical row).
 * Pure computation (node:crypto hashing only, no I/O).
 */
import { createHash } from 'node:crypto';
import type { ActorRole, AlarmEventDto, AlarmEventType, AlarmSnapshot, AlarmState } from './alarm.types';

export const GENESIS_HASH = '0'.repeat(64);

/** One journal row: every alarm event and operator action with who, when and why. */
export type JournalEntry = {
  readonly seq: number;
  /** When hazwatch recorded it, epoch ms. */
  readonly at: number;
  readonly alarmId: string;
  readonly siteId: string;
  readonly event: AlarmEventType;
  readonly fromState: AlarmState;
  readonly toState: AlarmState;
  readonly actor: string;
  readonly actorRole: ActorRole;
  /** Operator comment or reason (ack comment, shelve reason, OOS reason, suppression rule). */
  readonly comment: string | null;
  /** The alarm's snapshot after the event. */
  readonly snapshot: AlarmSnapshot;
  readonly prevHash: string;
  readonly hash: string;
  /**
   * A cluster node's row (docs/adr/0016-cluster.md): its place on its site's own chain (prevHash/hash then link the
   * site's rows in siteSeq order), and the lease epoch and node it was written under. Absent on the global chain of a
   * single node, whose rows link in seq order.
   */
  readonly site?: SiteChainLink;
};

export type SiteChainLink = { readonly siteSeq: number; readonly epoch: number; readonly nodeId: string };

export type UnhashedEntry = Omit<JournalEntry, 'hash' | 'prevHash'>;

/** A journal row as clients see it: the snapshot after the event, the event, when, and who/why where given. */
export function toEventDto(e: JournalEntry): AlarmEventDto {
  return {
    ...e.snapshot,
    event: e.event,
    at: new Date(e.at).toISOString(),
    ...(e.actorRole !== 'system' ? { actor: e.actor } : {}),
    ...(e.comment !== null ? { comment: e.comment } : {}),
  };
}

/** JSON with object keys sorted at every level; `undefined` members omitted (as JSON does). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value))
      throw new Error(`cannot canonicalise non-finite number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const keys = Object.keys(value).sort();
  const parts: string[] = [];
  for (const k of keys) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/** The canonical text of a row: every column except its own hash (prev_hash included, so re-linking is detected). */
export function canonicalRow(e: Omit<JournalEntry, 'hash'>): string {
  return canonicalJson({
    seq: e.seq,
    at: e.at,
    alarmId: e.alarmId,
    siteId: e.siteId,
    event: e.event,
    fromState: e.fromState,
    toState: e.toState,
    actor: e.actor,
    actorRole: e.actorRole,
    comment: e.comment,
    snapshot: e.snapshot,
    prevHash: e.prevHash,
    // absent (so left out, and old rows hash as before) on the global chain
    site: e.site,
  });
}

export function hashRow(prevHash: string, e: Omit<JournalEntry, 'hash'>): string {
  return createHash('sha256').update(prevHash).update(canonicalRow(e)).digest('hex');
}

/** Links an entry to the chain. */
export function sealEntry(prevHash: string, e: UnhashedEntry): JournalEntry {
  const withPrev = { ...e, prevHash };
  return Object.freeze({ ...withPrev, hash: hashRow(prevHash, withPrev) });
}

export type ChainBreak = { readonly seq: number; readonly reason: string };

/**
 * Walks the chain incrementally (rows in seq order, page by page). The first problem is the answer:
 * a gap in seq (deleted row), a wrong prev_hash (re-linked or deleted row), or a hash that no longer matches (edited row).
 */
export class ChainVerifier {
  private prevHash: string;
  private prevSeq: number | null;
  private checked = 0;

  /** Set once a cluster has written to the journal: the global chain's rows then skip the seqs of site rows. */
  seqGapsAllowed = false;

  constructor(
    anchor: { prevHash: string; prevSeq: number | null } = { prevHash: GENESIS_HASH, prevSeq: null },
  ) {
    this.prevHash = anchor.prevHash;
    this.prevSeq = anchor.prevSeq;
  }

  get rowsChecked(): number {
    return this.checked;
  }
  get lastSeq(): number | null {
    return this.prevSeq;
  }
  get lastHash(): string {
    return this.prevHash;
  }

  /** Returns the break at this row, or null when it links correctly. */
  push(row: JournalEntry): ChainBreak | null {
    if (
      this.prevSeq !== null &&
      (this.seqGapsAllowed ? row.seq <= this.prevSeq : row.seq !== this.prevSeq + 1)
    )
      return { seq: row.seq, reason: `seq jumps from ${this.prevSeq} to ${row.seq}: rows are missing` };
    if (row.prevHash !== this.prevHash)
      return {
        seq: row.seq,
        reason: `prev_hash does not match the hash of the row before (${this.prevSeq ?? 'genesis'})`,
      };
    const expected = hashRow(row.prevHash, row);
    if (expected !== row.hash)
      return { seq: row.seq, reason: 'hash does not match the row content: the row was modified' };
    this.prevHash = row.hash;
    this.prevSeq = row.seq;
    this.checked += 1;
    return null;
  }
}
