import {
  Inject,
  Injectable,
  Optional,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { Database } from '../storage/database.service';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { JobGates } from '../common/job-gate';
import { AlarmRepository } from './alarm.repository';
import {
  AnchorChecker,
  anchorSignatureValid,
  signAnchor,
  type AnchorReport,
  type JournalAnchor,
} from './domain/journal-anchor';
import { GENESIS_HASH, type ChainBreak } from './domain/journal-chain';
import { JournalVerifier, journalHeadHash, type SiteChainHead } from './domain/journal-verifier';
import { loadAnchorKey, type AnchorKey } from './journal-anchor.key';

export type AnchorReason = 'interval' | 'alarm' | 'start';

/** The chain's check, plus the check against anchors held outside the database. */
export type AnchoredVerification = {
  readonly ok: boolean;
  readonly rowsChecked: number;
  readonly lastSeq: number | null;
  readonly firstBroken?: ChainBreak;
  readonly anchors: {
    /** 'supplied': anchors in the request (the caller's own copies); 'stored': this database's copies (not evidence alone). */
    readonly source: 'supplied' | 'stored';
    readonly considered: number;
    /** Anchors whose signature does not check with this server's key (or another key id): ignored. */
    readonly badSignature: number;
  } & AnchorReport;
};

/**
 * In one snapshot: the journal's highest seq, the global chain's last row and every site chain's last row
 * (docs/adr/0016-cluster.md): the head an anchor signs.
 */
const SELECT_HEADS = `
SELECT NULL AS site_id, seq, NULL::bigint AS site_seq, hash, (SELECT max(seq) FROM alarm_journal) AS top
  FROM (SELECT seq, hash FROM alarm_journal WHERE site_seq IS NULL ORDER BY seq DESC LIMIT 1) g
UNION ALL
SELECT site_id, seq, site_seq, hash, NULL FROM (
  SELECT DISTINCT ON (site_id) site_id, seq, site_seq, hash FROM alarm_journal
  WHERE site_seq IS NOT NULL ORDER BY site_id, site_seq DESC) s`;
const INSERT_ANCHOR =
  'INSERT INTO journal_anchor (seq, hash, signed_at, key_id, signature, reason) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING';
const SELECT_ANCHORS =
  'SELECT seq, hash, signed_at, key_id, signature FROM journal_anchor ORDER BY signed_at DESC, seq DESC LIMIT $1';

/**
 * Signs the alarm journal's chain head with a key kept outside the database and publishes it: at a fixed interval
 * (JOURNAL_ANCHOR_INTERVAL_S) and with every regulator message (CAP parameter hazwatch:journalAnchor, so webhooks and
 * the Atom/CAP feeds carry it). `verify` walks the chain and compares it with anchors (docs/adr/0015-journal-anchors.md).
 * Reads committed rows only, through the alarm repository; never touches the alarm write path.
 */
@Injectable()
export class JournalAnchorService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new JsonLogger('journal');
  readonly key: AnchorKey;
  private readonly journal: AlarmRepository;
  private timer: NodeJS.Timeout | undefined;
  private lastPublished: { seq: number; hash: string } | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly db: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    @Optional() private readonly metrics?: HazwatchMetrics,
    @Optional() private readonly gates?: JobGates, // cluster hook (docs/adr/0016-cluster.md)
  ) {
    this.key = loadAnchorKey(config.env.JOURNAL_ANCHOR_KEY ?? '', config.dataDir);
    this.journal = new AlarmRepository(db);
  }

  onApplicationBootstrap(): void {
    this.log.info('journal anchor public key (regulators: keep it to check anchors)', {
      keyId: this.key.keyId,
      keySource: this.key.origin,
      publicKey: this.key.publicPem.trim(),
      endpoint: '/api/journal/anchor-key',
    });
    const everyMs = (this.config.env.JOURNAL_ANCHOR_INTERVAL_S ?? 300) * 1000;
    this.timer = setInterval(() => void this.publishIfMoved('interval'), everyMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * The newest committed head (seq 0 and the genesis hash for an empty journal): the global chain's last hash while
   * no cluster node has written, else the digest of every chain's head (journalHeadHash) at the highest seq.
   */
  async head(): Promise<{ seq: number; hash: string }> {
    const res = await this.db.query<{
      site_id: string | null;
      seq: string;
      site_seq: string | null;
      hash: string;
      top: string | null;
    }>(SELECT_HEADS);
    let global: { seq: number; hash: string } | null = null;
    const sites = new Map<string, SiteChainHead>();
    let top = 0;
    for (const r of res.rows) {
      top = Math.max(top, Number(r.seq), r.top === null ? 0 : Number(r.top));
      if (r.site_id === null) global = { seq: Number(r.seq), hash: r.hash };
      else sites.set(r.site_id, { siteSeq: Number(r.site_seq), hash: r.hash });
    }
    if (top === 0) return { seq: 0, hash: GENESIS_HASH };
    return { seq: top, hash: journalHeadHash(global, sites) };
  }

  /** Signs the current head, stores the copy and returns it. */
  async publish(reason: AnchorReason): Promise<JournalAnchor> {
    const head = await this.head();
    const anchor = signAnchor(this.key.privateKey, this.key.keyId, head, this.clock.now());
    await this.db.query(INSERT_ANCHOR, [
      anchor.seq,
      anchor.hash,
      anchor.at,
      anchor.keyId,
      anchor.signature,
      reason,
    ]);
    this.lastPublished = head;
    this.log.debug('journal anchor published', { seq: anchor.seq, reason });
    return anchor;
  }

  /** For a regulator message: an anchor, or undefined (logged) when it cannot be made — the message goes out anyway. */
  async anchorForMessage(): Promise<JournalAnchor | undefined> {
    try {
      return await this.publish('alarm');
    } catch (err) {
      this.log.warn('journal anchor not attached to a regulator message (database unavailable?)', { err });
      return undefined;
    }
  }

  private async publishIfMoved(reason: AnchorReason): Promise<void> {
    if (this.gates && !this.gates.isOpen('anchors')) return; // cluster: the node holding job:anchors signs
    try {
      const head = await this.head();
      if (this.lastPublished?.seq === head.seq && this.lastPublished.hash === head.hash) return;
      await this.publish(reason);
    } catch (err) {
      this.log.warn('periodic journal anchor failed; retried at the next interval', { err });
    }
  }

  /** Stored copies, newest first (for the anchors feed). */
  async recent(limit: number): Promise<JournalAnchor[]> {
    const res = await this.db.query<{
      seq: string;
      hash: string;
      signed_at: Date;
      key_id: string;
      signature: string;
    }>(SELECT_ANCHORS, [limit]);
    return res.rows.map((r) => ({
      seq: Number(r.seq),
      hash: r.hash,
      at: r.signed_at.toISOString(),
      keyId: r.key_id,
      signature: r.signature,
    }));
  }

  /**
   * Walks the whole chain and compares it with anchors. With `supplied` anchors (the caller's copies, e.g. what a
   * regulator received) the answer does not depend on anything the database holds; without, the stored copies are
   * used, which catch a careless rewrite but not one that also deleted them (docs/threat-model.md).
   */
  async verify(supplied?: readonly JournalAnchor[], pageSize = 5_000): Promise<AnchoredVerification> {
    const candidates = supplied ?? (await this.recent(10_000));
    const valid = candidates.filter((a) => anchorSignatureValid(this.key.publicKey, this.key.keyId, a));
    const checker = new AnchorChecker(valid);
    const chain = new JournalVerifier();
    let firstBroken: ChainBreak | undefined;
    let after = 0;
    for (;;) {
      const page = await this.journal.journal({ afterSeq: after, limit: pageSize });
      for (const row of page) {
        const broken = chain.push(row);
        if (firstBroken === undefined && broken) firstBroken = broken;
        checker.push({ seq: row.seq, hash: () => chain.headHash() });
      }
      if (page.length < pageSize) break;
      after = page[page.length - 1]?.seq ?? after;
    }
    const report = checker.finish();
    const ok = firstBroken === undefined && report.divergences === 0;
    // the last verification's result for /metrics (alert HazwatchJournalVerifyFailed)
    this.metrics?.journalVerifyOk.set(ok ? 1 : 0);
    this.metrics?.journalVerifyTime.set(this.clock.now() / 1000);
    return {
      ok,
      rowsChecked: chain.rowsChecked,
      lastSeq: chain.lastSeq,
      ...(firstBroken ? { firstBroken } : {}),
      anchors: {
        source: supplied ? 'supplied' : 'stored',
        considered: candidates.length,
        badSignature: candidates.length - valid.length,
        ...report,
      },
    };
  }
}
