import type { Clock } from '../../common/clock';
import type { AcquiredLease, HeldLease, LeaseRow, LeaseStore } from '../lease.store';

type Row = { owner: string | null; epoch: number; expiresAt: number; acquiredAt: number };

/**
 * The semantics of PgLeaseStore in memory, with the database clock as a ManualClock (unit tests in virtual time).
 * `block()` makes every call hang until `unblock()` (a partition between one node and the database), per node.
 */
export class MemoryLeaseStore {
  readonly rows = new Map<string, Row>();
  readonly nodes = new Map<string, { expiresAt: number; draining: boolean; incarnation: string }>();
  private readonly blocked = new Map<string, Array<() => void>>();

  constructor(private readonly dbClock: Clock) {}

  /** The store as seen by one node. */
  forNode(nodeId: string): LeaseStore {
    const gate = async (): Promise<void> => {
      const q = this.blocked.get(nodeId);
      if (q) await new Promise<void>((r) => q.push(r));
    };
    return {
      heartbeat: async (id, inc, ttl) => {
        await gate();
        const now = this.dbClock.now();
        const n = this.nodes.get(id);
        const accepted = !n || n.incarnation === inc || n.expiresAt <= now || n.draining;
        if (accepted) this.nodes.set(id, { expiresAt: now + ttl, draining: false, incarnation: inc });
        return [...this.nodes]
          .filter(([k, x]) => x.expiresAt > now && !x.draining && (k !== id || accepted))
          .map(([k]) => k)
          .sort();
      },
      retire: async (id, inc) => {
        await gate();
        const n = this.nodes.get(id);
        if (n && n.incarnation === inc) Object.assign(n, { draining: true, expiresAt: this.dbClock.now() });
      },
      renew: async (id, held: readonly HeldLease[], ttl) => {
        await gate();
        const now = this.dbClock.now();
        const ok: string[] = [];
        for (const h of held) {
          const r = this.rows.get(h.key);
          if (r && r.owner === id && r.epoch === h.epoch && r.expiresAt > now) {
            r.expiresAt = now + ttl;
            ok.push(h.key);
          }
        }
        return ok;
      },
      acquire: async (id, keys, ttl) => {
        await gate();
        const now = this.dbClock.now();
        const got: AcquiredLease[] = [];
        for (const k of keys) {
          const r = this.rows.get(k);
          if (r && r.owner !== null && r.expiresAt > now && r.owner !== id) continue;
          const row: Row = { owner: id, epoch: (r?.epoch ?? 0) + 1, expiresAt: now + ttl, acquiredAt: now };
          this.rows.set(k, row);
          got.push({ key: k, epoch: row.epoch, acquiredAt: new Date(now) });
        }
        return got;
      },
      release: async (id, held) => {
        await gate();
        for (const h of held) {
          const r = this.rows.get(h.key);
          if (r && r.owner === id && r.epoch === h.epoch)
            Object.assign(r, { owner: null, expiresAt: this.dbClock.now() });
        }
      },
      leases: async (keys): Promise<LeaseRow[]> => {
        await gate();
        const now = this.dbClock.now();
        return keys.flatMap((k) => {
          const r = this.rows.get(k);
          return r
            ? [{ key: k, owner: r.owner, epoch: r.epoch, expiredForMs: Math.max(0, now - r.expiresAt) }]
            : [];
        });
      },
    };
  }

  block(nodeId: string): void {
    if (!this.blocked.has(nodeId)) this.blocked.set(nodeId, []);
  }

  unblock(nodeId: string): void {
    const q = this.blocked.get(nodeId) ?? [];
    this.blocked.delete(nodeId);
    for (const r of q) r();
  }

  /** Who holds `key` by the database clock now (undefined when free or expired). */
  ownerOf(key: string): string | undefined {
    const r = this.rows.get(key);
    return r && r.owner !== null && r.expiresAt > this.dbClock.now() ? r.owner : undefined;
  }
}
