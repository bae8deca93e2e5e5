/**
 * Site-level link supervision (docs/alarm-lifecycle.md, "Site link"): when most of an enterprise's devices lose
 * their link at once (its gateway or its uplink dropped), raise ONE `site_offline` (数据中断) alarm for the site instead
 * of one `offline`/`stale` alarm per device. Pure: every input carries its own time; the alarm service executes the
 * actions it returns, in order.
 *
 * - A device is link-lost while any of its link conditions (`offline`, `stale`) is active.
 * - The site goes offline when at least `max(minDevices, ceil(offlineFraction × devices))` of its devices are link-lost,
 *   and comes back when fewer than `max(1, ceil(restoreFraction × devices))` are (hysteresis: no chattering while
 *   devices reconnect one by one).
 * - While the site is online, a device's link raise is held for `holdMs` (the window in which a whole site's devices
 *   go silent or drop together); if the site goes offline within the window, `site_offline` is raised first and the held
 *   raises follow it, so design suppression hides them before anyone is told. Otherwise they are released when the
 *   window ends. A clear of a held raise releases the raise first: nothing is ever dropped.
 * - While the site is offline, device link raises pass at once (they are suppressed by design); when it comes back,
 *   i.e. fewer than the restore share are lost for `holdMs` (or none at all), the site alarm clears and the devices
 *   still link-lost are unsuppressed, i.e. re-announced individually.
 */
import type { ConditionChange } from './condition-change';

export type SiteLinkSettings = {
  /** Share of a site's devices link-lost at once that makes the site offline (0 < x ≤ 1). */
  readonly offlineFraction: number;
  /** The site is back when fewer than this share of its devices are link-lost (≤ offlineFraction). */
  readonly restoreFraction: number;
  /** Sites with fewer devices than this are not supervised; also the least number of lost devices that counts. */
  readonly minDevices: number;
  /** How long a device link raise waits for its site's verdict (0: no wait). */
  readonly holdMs: number;
};

export const DEFAULT_SITE_LINK: SiteLinkSettings = Object.freeze({
  offlineFraction: 0.8,
  restoreFraction: 0.5,
  minDevices: 3,
  holdMs: 20_000,
});

/** Conditions that mean "this device's data no longer arrives". */
export const LINK_CONDITIONS: ReadonlySet<string> = new Set(['offline', 'stale']);
export const SITE_OFFLINE_CONDITION = 'site_offline';
/** The `ext:` prefix keeps the rule engine from seeding or clearing it; the alarm service owns it. */
export const siteLinkRuleId = (siteId: string): string => `ext:site-link:${siteId}`;

export const isLinkCondition = (c: Pick<ConditionChange, 'condition' | 'deviceId'>): boolean =>
  c.deviceId !== undefined && LINK_CONDITIONS.has(c.condition);

/**
 * Area-level consequences of lost devices (a vote left with too few healthy detectors): held like a device link raise
 * so that, when the whole site dropped, they arrive after `site_offline` and are suppressed with the device alarms.
 * They do not count as lost devices. (A vote that trips because faulted detectors count as tripped is a process alarm
 * by fail-safe design and is never held or suppressed.)
 */
export const LINK_CONSEQUENCES: ReadonlySet<string> = new Set(['vote_degraded']);
export const isLinkConsequence = (c: Pick<ConditionChange, 'condition' | 'deviceId'>): boolean =>
  c.deviceId === undefined && LINK_CONSEQUENCES.has(c.condition);

export type SiteVerdict = {
  readonly siteId: string;
  readonly offline: boolean;
  /** Devices link-lost / supervised at the time of the verdict. */
  readonly lost: number;
  readonly devices: number;
  readonly at: number;
};

/** What the supervisor reads of a condition change (the service passes its own cleaned change type through). */
export type LinkChange = Pick<
  ConditionChange,
  'ruleId' | 'siteId' | 'deviceId' | 'condition' | 'active' | 'ts'
>;

export type LinkAction<C extends LinkChange = ConditionChange> =
  { readonly kind: 'apply'; readonly change: C } | { readonly kind: 'site'; readonly verdict: SiteVerdict };

type Held<C> = { readonly change: C; readonly due: number };
type SiteState<C> = {
  readonly devices: number;
  offline: boolean;
  /** While offline: when the site is declared back (its devices stayed below the restore share for holdMs). */
  restoreDue: number | undefined;
  /** deviceId → keys of its active link conditions */
  readonly lost: Map<string, Set<string>>;
  held: Held<C>[];
};

const keyOf = (c: Pick<LinkChange, 'ruleId' | 'condition'>): string => `${c.ruleId}|${c.condition}`;

export class SiteLinkSupervisor<C extends LinkChange = ConditionChange> {
  private readonly sites = new Map<string, SiteState<C>>();

  constructor(
    private readonly settings: SiteLinkSettings,
    devicesPerSite: ReadonlyMap<string, number>,
  ) {
    for (const [siteId, devices] of devicesPerSite) {
      if (devices >= settings.minDevices)
        this.sites.set(siteId, { devices, offline: false, restoreDue: undefined, lost: new Map(), held: [] });
    }
  }

  /** Whether a site is supervised (enough devices). */
  supervises(siteId: string): boolean {
    return this.sites.has(siteId);
  }

  isOffline(siteId: string): boolean {
    return this.sites.get(siteId)?.offline === true;
  }

  lostCount(siteId: string): number {
    return this.sites.get(siteId)?.lost.size ?? 0;
  }

  private offlineAt(s: SiteState<C>): number {
    return Math.max(this.settings.minDevices, Math.ceil(this.settings.offlineFraction * s.devices - 1e-9));
  }

  private restoredBelow(s: SiteState<C>): number {
    return Math.max(1, Math.ceil(this.settings.restoreFraction * s.devices - 1e-9));
  }

  private mark(s: SiteState<C>, c: LinkChange): void {
    const deviceId = c.deviceId as string;
    let set = s.lost.get(deviceId);
    if (c.active) {
      if (!set) s.lost.set(deviceId, (set = new Set()));
      set.add(keyOf(c));
    } else if (set) {
      set.delete(keyOf(c));
      if (set.size === 0) s.lost.delete(deviceId);
    }
  }

  private verdict(siteId: string, s: SiteState<C>, at: number): LinkAction<C> {
    return {
      kind: 'site',
      verdict: { siteId, offline: s.offline, lost: s.lost.size, devices: s.devices, at },
    };
  }

  /** A device link condition change (`isLinkCondition`) at `now` (the service clock). */
  input(c: C, now: number): LinkAction<C>[] {
    const s = this.sites.get(c.siteId);
    if (!s) return [{ kind: 'apply', change: c }];
    if (c.deviceId !== undefined) this.mark(s, c);
    if (c.active) {
      if (s.offline) {
        if (s.restoreDue !== undefined && s.lost.size >= this.restoredBelow(s)) s.restoreDue = undefined;
        return [{ kind: 'apply', change: c }];
      }
      if (s.lost.size >= this.offlineAt(s)) {
        s.offline = true;
        const released = s.held.map((h): LinkAction<C> => ({ kind: 'apply', change: h.change }));
        s.held = [];
        return [this.verdict(c.siteId, s, c.ts), ...released, { kind: 'apply', change: c }];
      }
      if (this.settings.holdMs <= 0) return [{ kind: 'apply', change: c }];
      s.held.push({ change: c, due: now + this.settings.holdMs });
      return [];
    }
    const out: LinkAction<C>[] = [];
    const k = keyOf(c);
    const i = s.held.findIndex(
      (h) => h.change.siteId === c.siteId && h.change.deviceId === c.deviceId && keyOf(h.change) === k,
    );
    if (i >= 0) {
      out.push({ kind: 'apply', change: s.held[i]!.change });
      s.held.splice(i, 1);
    }
    out.push({ kind: 'apply', change: c });
    if (s.offline && s.lost.size < this.restoredBelow(s)) {
      // every device back: at once; otherwise give the stragglers the hold window to report again
      if (s.lost.size === 0 || this.settings.holdMs <= 0) {
        s.offline = false;
        s.restoreDue = undefined;
        out.push(this.verdict(c.siteId, s, c.ts));
      } else if (s.restoreDue === undefined) s.restoreDue = now + this.settings.holdMs;
    }
    return out;
  }

  /** Releases the held raises whose window has ended, and declares back the sites whose restore window has ended. */
  advance(now: number): LinkAction<C>[] {
    const out: LinkAction<C>[] = [];
    for (const [siteId, s] of this.sites) {
      if (s.offline && s.restoreDue !== undefined && s.restoreDue <= now) {
        s.offline = false;
        s.restoreDue = undefined;
        out.push(this.verdict(siteId, s, now));
      }
      if (s.held.length === 0) continue;
      const keep: Held<C>[] = [];
      for (const h of s.held) {
        if (h.due <= now) out.push({ kind: 'apply', change: h.change });
        else keep.push(h);
      }
      s.held = keep;
    }
    return out;
  }

  /** Raises held right now (diagnostics, tests). */
  heldCount(siteId?: string): number {
    let n = 0;
    for (const [id, s] of this.sites) if (siteId === undefined || id === siteId) n += s.held.length;
    return n;
  }

  /**
   * After a restart: the persisted link alarms that are active and the sites whose `site_offline` alarm is active.
   * Returns the verdicts that differ from the persisted site alarms (raise or clear them).
   */
  /**
   * Cluster node: one site taken over (or given up, with nothing active): its supervision restarts from the alarms its
   * journal holds, the other sites are left alone. Held raises of the site are dropped (their site is re-evaluated).
   */
  seedSite(siteId: string, activeLink: Iterable<LinkChange>, offline: boolean, at: number): LinkAction<C>[] {
    const s = this.sites.get(siteId);
    if (!s)
      return offline ? [{ kind: 'site', verdict: { siteId, offline: false, lost: 0, devices: 0, at } }] : [];
    s.lost.clear();
    s.held = [];
    s.restoreDue = undefined;
    for (const c of activeLink) if (c.siteId === siteId && c.active) this.mark(s, c);
    s.offline = offline ? s.lost.size >= this.restoredBelow(s) : s.lost.size >= this.offlineAt(s);
    return s.offline !== offline ? [this.verdict(siteId, s, at)] : [];
  }

  seed(activeLink: Iterable<LinkChange>, offlineSites: ReadonlySet<string>, at: number): LinkAction<C>[] {
    for (const c of activeLink) {
      const s = this.sites.get(c.siteId);
      if (s && c.active) this.mark(s, c);
    }
    const out: LinkAction<C>[] = [];
    for (const [siteId, s] of this.sites) {
      const was = offlineSites.has(siteId);
      s.offline = was ? s.lost.size >= this.restoredBelow(s) : s.lost.size >= this.offlineAt(s);
      if (s.offline !== was) out.push(this.verdict(siteId, s, at));
    }
    for (const siteId of offlineSites)
      if (!this.sites.has(siteId))
        out.push({ kind: 'site', verdict: { siteId, offline: false, lost: 0, devices: 0, at } });
    return out;
  }
}
