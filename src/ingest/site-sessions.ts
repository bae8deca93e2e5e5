import type { Observable, Subscription } from 'rxjs';
import { JsonLogger } from '../common/logger';
import { TOPIC_ROOT } from './domain/telemetry-contract';

/** One ownership change of a lease key (a site id or `job:<name>`), as the cluster's LeaseManager emits it. */
export type SiteOwnershipChange = { readonly key: string; readonly owned: boolean; readonly reason: string };

/** What ingest needs from the cluster: which sites this node owns, now and as it changes. */
export type SiteOwnershipSource = {
  readonly ownership$: Observable<SiteOwnershipChange>;
  /** Keys owned right now (sites and jobs). */
  ownedKeys(): readonly string[];
};

/** The part of an IntakeLink the sessions manage (fakes in tests). */
export type SessionLink = {
  readonly unacked: number;
  stopIntake(): void;
  end(): Promise<void>;
};

export type DisplayLink = {
  subscribe(filters: readonly string[]): void;
  unsubscribe(filters: readonly string[]): void;
};

/** The persistent session's client id of a site: the same on every node, so the broker's session follows the owner. */
export const siteClientId = (base: string, siteId: string): string => `${base}-s-${siteId}`;

/** What a site's session subscribes (QoS 1): its devices' telemetry and state. */
export const siteFilters = (siteId: string): string[] => [
  `${TOPIC_ROOT}/${siteId}/+/telemetry`,
  `${TOPIC_ROOT}/${siteId}/+/state`,
];

/** What the display link subscribes (QoS 0) for a site this node does not own: telemetry only. */
export const displayFilters = (siteId: string): string[] => [`${TOPIC_ROOT}/${siteId}/+/telemetry`];

export type SiteSessionsOptions = {
  readonly sites: readonly string[];
  readonly ownership: SiteOwnershipSource;
  /** Opens the persistent QoS 1 session of a site. */
  readonly open: (siteId: string) => SessionLink;
  /** The node's clean QoS 0 link for display-only telemetry of sites it does not own. */
  readonly display: DisplayLink;
  /** Commits (or spools) every reading received so far; bounded by the caller. Resolves when done or given up. */
  readonly flush: () => Promise<void>;
};

/**
 * Per-site persistent MQTT sessions following site ownership (docs/adr/0016-cluster.md, option 2). On `owned` a site's
 * session opens with client id `<base>-s-<site>` (clean=false, QoS 1): the broker hands it everything the previous owner
 * left unacknowledged and queued. On `released` the session stops reading, waits until the writer has committed what
 * it took in (so its PUBACKs go out: ADR 0008), then disconnects; what is still unacknowledged stays in the broker
 * session for the next owner (telemetry duplicates are absorbed by the idempotent key, ADR 0014). Open and close of one
 * site are serialised: a re-acquisition waits for the previous close, so a node never holds a site's client id twice.
 */
export class SiteSessions {
  private readonly log = new JsonLogger('ingest.sessions');
  private readonly sites: ReadonlySet<string>;
  private readonly links = new Map<string, SessionLink>();
  /** Per site: the last ownership this node was told (open/close steps run in order and check it). */
  private readonly wanted = new Map<string, boolean>();
  /** Per site: the tail of its open/close chain. */
  private readonly chain = new Map<string, Promise<void>>();
  private sub?: Subscription;
  private stopped = false;

  constructor(private readonly opts: SiteSessionsOptions) {
    this.sites = new Set(opts.sites);
  }

  /** Subscribes the display link to every site, then follows ownership (sites owned already open at once). */
  start(): void {
    for (const s of this.sites) this.opts.display.subscribe(displayFilters(s));
    this.sub = this.opts.ownership.ownership$.subscribe((c) => {
      if (!this.sites.has(c.key)) return;
      if (c.owned) this.acquire(c.key);
      else void this.release(c.key, c.reason);
    });
    for (const k of this.opts.ownership.ownedKeys()) if (this.sites.has(k)) this.acquire(k);
  }

  /** Sites whose session is open on this node. */
  ownedSites(): string[] {
    return [...this.links.keys()];
  }

  owns(siteId: string): boolean {
    return this.links.has(siteId);
  }

  all(): Iterable<SessionLink> {
    return this.links.values();
  }

  /** Every site: stop intake, flush once, close every session (graceful stop; the leases are released after). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.sub?.unsubscribe();
    const sites = [...this.links.keys()];
    for (const s of sites) this.links.get(s)?.stopIntake();
    await Promise.all([...this.chain.values()]);
    await this.opts.flush();
    await Promise.all(sites.map((s) => this.close(s, 'stopped', false)));
  }

  private acquire(siteId: string): void {
    if (this.stopped || this.wanted.get(siteId) === true) return;
    this.wanted.set(siteId, true);
    void this.enqueue(siteId, async () => {
      if (this.stopped || this.wanted.get(siteId) !== true || this.links.has(siteId)) return;
      this.opts.display.unsubscribe(displayFilters(siteId));
      this.links.set(siteId, this.opts.open(siteId));
      this.log.info('site session opened', { site: siteId });
    });
  }

  private release(siteId: string, reason: string): Promise<void> {
    this.wanted.set(siteId, false);
    // Stop reading at once: nothing more of this site is taken in while the close waits in the chain. A link whose
    // intake stopped is closed even if the site is owned again meanwhile (a new one opens after it).
    const stopped = this.links.get(siteId);
    stopped?.stopIntake();
    return this.enqueue(siteId, async () => {
      const current = this.links.get(siteId);
      if (current && (current === stopped || this.wanted.get(siteId) === false))
        await this.close(siteId, reason, true);
    });
  }

  private async close(siteId: string, reason: string, flush: boolean): Promise<void> {
    const link = this.links.get(siteId);
    if (!link) return;
    link.stopIntake();
    if (flush && link.unacked > 0) await this.opts.flush();
    const left = link.unacked;
    this.links.delete(siteId);
    await link.end();
    if (!this.stopped && this.wanted.get(siteId) !== true)
      this.opts.display.subscribe(displayFilters(siteId));
    this.log.info('site session closed', { site: siteId, reason, leftToBroker: left });
  }

  private enqueue(siteId: string, step: () => Promise<void>): Promise<void> {
    const next = (this.chain.get(siteId) ?? Promise.resolve()).then(step).catch((err: unknown) => {
      this.log.error('site session step failed', { site: siteId, err: (err as Error).message });
    });
    this.chain.set(siteId, next);
    return next;
  }
}
