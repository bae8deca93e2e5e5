import { randomUUID } from 'node:crypto';
import { Subject, type Observable } from 'rxjs';
import type { Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { fairShare } from './domain/rendezvous';
import type { HeldLease, LeaseStore } from './lease.store';
import type { Scheduler } from '../common/timer.port';

/** A cancellable one-shot timer source (same shape as the Scheduler port of the writer), injected for virtual time. */
/** The lease rounds' timers: the common timer port (virtual in specs: `ManualScheduler`). */
export type LeaseTimer = Scheduler;

export type OwnershipReason =
  /** taken in the database (epoch + 1) */
  | 'acquired'
  /** given to the fair-share winner (released in the database after this event) */
  | 'handover'
  /** a renewal found it no longer ours (taken or expired in the database) */
  | 'lost'
  /** not renewed before expiry minus the safety margin: this node stopped treating it as owned (self-fence) */
  | 'fenced'
  /** graceful stop: released in the database after this event */
  | 'stopped';

/** One change of this node's ownership. `at` is the manager's (monotonic) clock. */
export type OwnershipChange = {
  key: string;
  owned: boolean;
  epoch: number;
  reason: OwnershipReason;
  at: number;
};

export type OwnedLease = { key: string; epoch: number; since: number; acquiredAt: Date; validUntil: number };

export type LeaseManagerOptions = {
  nodeId: string;
  store: LeaseStore;
  /** Every lease key that must be owned by some node: site ids and `job:<name>` keys. Read each round. */
  keys: () => readonly string[];
  /** Lease lifetime in the database (HAZWATCH_LEASE_TTL_MS). */
  ttlMs: number;
  /** Period of the renewal round (default ttl/4). */
  renewEveryMs?: number;
  /** Self-fence this long before the earliest moment the database could let another node take a lease (default ttl/5). */
  marginMs?: number;
  /** A lease free for this long, whoever's fair share it is, may be taken by any node (default 2 rounds). */
  orphanGraceMs?: number;
  /** Monotonic time: a wall-clock jump must not extend a lease. */
  clock: Clock;
  timer: LeaseTimer;
  version?: string;
  log?: JsonLogger;
};

type State = 'new' | 'running' | 'stopping' | 'stopped';

/**
 * Site and singleton-job leases of one node (docs/adr/0016-cluster.md).
 *
 * Each round (every ttl/4): heartbeat (which also reads the live nodes), renew every held lease in one statement,
 * hand over the leases that are another live node's fair share (rendezvous hashing), take the free or expired leases
 * of this node's share (and orphans nobody took for two rounds). Expiry is decided by the database clock; this node
 * counts a lease valid until `sentAt + ttl − margin` on its own monotonic clock, where `sentAt` is when the acquiring
 * or renewing statement was sent. The database set `expires_at = now() + ttl` with a now() no earlier than that
 * send, so this node stops treating the lease as owned (self-fences) at least `margin` before any other node can
 * acquire it, whatever the skew between the clocks. Writes that matter are also checked against the epoch in the
 * database (`fencedWrite`), which covers a node paused longer than that (GC, SIGSTOP, swap).
 */
export class LeaseManager {
  private readonly subject = new Subject<OwnershipChange>();
  readonly ownership$: Observable<OwnershipChange> = this.subject.asObservable();
  readonly incarnation = randomUUID();
  readonly stats = { rounds: 0, renewFailures: 0, selfFences: 0, liveNodes: 0 };

  private readonly held = new Map<string, OwnedLease>();
  private live: string[] = [];
  private state: State = 'new';
  private roundTimer: { cancel(): void } | undefined;
  private fenceTimer: { cancel(): void } | undefined;
  private fenceAt = Number.POSITIVE_INFINITY;
  private current: Promise<void> | undefined;
  private readonly log: JsonLogger;
  private readonly renewEveryMs: number;
  private readonly marginMs: number;
  private readonly orphanGraceMs: number;

  constructor(private readonly opts: LeaseManagerOptions) {
    this.log = opts.log ?? new JsonLogger('cluster.leases');
    this.renewEveryMs = opts.renewEveryMs ?? Math.floor(opts.ttlMs / 4);
    this.marginMs = opts.marginMs ?? Math.floor(opts.ttlMs / 5);
    this.orphanGraceMs = opts.orphanGraceMs ?? 2 * this.renewEveryMs;
    if (!(this.renewEveryMs > 0 && this.marginMs >= 0 && this.renewEveryMs + this.marginMs < opts.ttlMs))
      throw new Error(
        `lease timing cannot work: renew every ${this.renewEveryMs} ms + margin ${this.marginMs} ms must stay below the ttl of ${opts.ttlMs} ms`,
      );
  }

  get nodeId(): string {
    return this.opts.nodeId;
  }

  /** Live nodes as of the last successful heartbeat. */
  get liveNodes(): readonly string[] {
    return this.live;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  start(): void {
    if (this.state !== 'new') return;
    this.state = 'running';
    this.scheduleRound(0);
  }

  /** True while this node holds `key` and its lease cannot have expired (checked against the clock, not a timer). */
  isOwned(key: string): boolean {
    const h = this.held.get(key);
    return this.state === 'running' && h !== undefined && this.opts.clock.now() < h.validUntil;
  }

  /** The fencing token for writes about `key`, while owned. */
  epochOf(key: string): number | undefined {
    return this.isOwned(key) ? this.held.get(key)?.epoch : undefined;
  }

  owned(): OwnedLease[] {
    return [...this.held.values()].filter((h) => this.isOwned(h.key)).map((h) => ({ ...h }));
  }

  /** One round now (rounds never overlap: a call during a round shares it). */
  runRound(): Promise<void> {
    this.current ??= this.round().finally(() => (this.current = undefined));
    return this.current;
  }

  /**
   * Graceful stop: no more rounds; every held lease is announced as given up, then the node is marked draining and the
   * leases released (epochs kept), so the other nodes take them at their next round.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    this.roundTimer?.cancel();
    this.fenceTimer?.cancel();
    await this.current?.catch(() => undefined);
    const give: HeldLease[] = [...this.held.values()].map((h) => ({ key: h.key, epoch: h.epoch }));
    for (const g of give) this.drop(g.key, 'stopped');
    if (wasRunning) {
      try {
        await this.opts.store.retire(this.opts.nodeId, this.incarnation);
        await this.opts.store.release(this.opts.nodeId, give);
        this.log.info('cluster node stopped: leases released', {
          node: this.opts.nodeId,
          released: give.length,
        });
      } catch (err) {
        this.log.warn('could not release the leases at stop; they expire by themselves', {
          node: this.opts.nodeId,
          error: errorText(err),
        });
      }
    }
    this.state = 'stopped';
    this.subject.complete();
  }

  /**
   * Stops every timer without telling anyone, as a crash would (tests, and the last resort on a fatal error): the
   * leases stay in the database until they expire.
   */
  halt(): void {
    this.state = 'stopped';
    this.roundTimer?.cancel();
    this.fenceTimer?.cancel();
    this.held.clear();
    this.subject.complete();
  }

  private scheduleRound(ms: number): void {
    if (this.state !== 'running') return;
    this.roundTimer?.cancel();
    this.roundTimer = this.opts.timer.after(ms, () => {
      void this.runRound().finally(() => this.scheduleRound(this.renewEveryMs));
    });
  }

  private async round(): Promise<void> {
    if (this.state !== 'running') return;
    const { store, nodeId, ttlMs, clock } = this.opts;
    this.stats.rounds++;
    try {
      const nodes = await store.heartbeat(nodeId, this.incarnation, ttlMs, this.opts.version ?? '');
      this.live = nodes;
      this.stats.liveNodes = nodes.length;
      if (!nodes.includes(nodeId))
        throw new Error(
          `another live process uses node id '${nodeId}' (HAZWATCH_NODE_ID must differ per node): this one holds nothing until that one's heartbeat expires`,
        );
      this.checkFences();
      if (this.state !== 'running') return;

      const toRenew: HeldLease[] = [...this.held.values()].map((h) => ({ key: h.key, epoch: h.epoch }));
      if (toRenew.length > 0) {
        const sentAt = clock.now();
        const renewed = new Set(await store.renew(nodeId, toRenew, ttlMs));
        for (const r of toRenew) {
          const h = this.held.get(r.key);
          if (!h || h.epoch !== r.epoch) continue; // fenced meanwhile: a late success does not revive it
          if (renewed.has(r.key)) h.validUntil = Math.max(h.validUntil, sentAt + ttlMs - this.marginMs);
          else this.drop(r.key, 'lost');
        }
      }
      if (this.state !== 'running') return;

      const keys = [...new Set(this.opts.keys())];
      const share = new Set(fairShare(nodeId, keys, nodes));
      const known = new Set(keys);

      const give: HeldLease[] = [];
      for (const h of [...this.held.values()]) {
        if (share.has(h.key) && known.has(h.key)) continue;
        give.push({ key: h.key, epoch: h.epoch });
        this.drop(h.key, 'handover');
      }
      if (give.length > 0) await store.release(nodeId, give);
      if (this.state !== 'running') return;

      const rows = new Map((await store.leases(keys)).map((r) => [r.key, r]));
      const want = keys.filter((k) => {
        if (this.held.has(k)) return false;
        const r = rows.get(k);
        if (!r) return share.has(k);
        const free = r.owner === null || r.expiredForMs > 0;
        if (share.has(k)) return free || r.owner === nodeId;
        return free && r.expiredForMs >= this.orphanGraceMs;
      });
      if (want.length > 0) {
        const sentAt = clock.now();
        const got = await store.acquire(nodeId, want, ttlMs);
        const now = clock.now();
        for (const a of got) {
          if (this.state !== 'running') break;
          const lease: OwnedLease = {
            key: a.key,
            epoch: a.epoch,
            since: now,
            acquiredAt: a.acquiredAt,
            validUntil: sentAt + ttlMs - this.marginMs,
          };
          this.held.set(a.key, lease);
          this.emit(a.key, true, a.epoch, 'acquired');
        }
        if (got.length > 0)
          this.log.info('leases acquired', { node: nodeId, leases: got.map((a) => `${a.key}@${a.epoch}`) });
      }
    } catch (err) {
      this.stats.renewFailures++;
      this.log.warn('lease round failed; leases not renewed in time are given up before they expire', {
        node: nodeId,
        held: this.held.size,
        error: errorText(err),
      });
    } finally {
      this.checkFences();
    }
  }

  /** Drops every lease whose validity has run out and arms the timer for the next one. */
  private checkFences(): void {
    const now = this.opts.clock.now();
    let next = Number.POSITIVE_INFINITY;
    for (const h of [...this.held.values()]) {
      if (now >= h.validUntil) {
        this.stats.selfFences++;
        this.log.error('lease not renewed in time: this node stops treating it as owned (self-fence)', {
          node: this.opts.nodeId,
          lease: h.key,
          epoch: h.epoch,
        });
        this.drop(h.key, 'fenced');
      } else next = Math.min(next, h.validUntil);
    }
    if (this.state !== 'running' || next === this.fenceAt) return;
    this.fenceTimer?.cancel();
    this.fenceAt = next;
    if (next === Number.POSITIVE_INFINITY) return;
    this.fenceTimer = this.opts.timer.after(Math.max(0, next - now), () => {
      this.fenceAt = Number.POSITIVE_INFINITY;
      this.checkFences();
    });
  }

  private drop(key: string, reason: OwnershipReason): void {
    const h = this.held.get(key);
    if (!h) return;
    this.held.delete(key);
    this.emit(key, false, h.epoch, reason);
  }

  private emit(key: string, owned: boolean, epoch: number, reason: OwnershipReason): void {
    this.subject.next({ key, owned, epoch, reason, at: this.opts.clock.now() });
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
