import type { Subscription } from 'rxjs';
import type { Clock } from '../../common/clock';
import type { JsonLogger } from '../../common/logger';
import type { SiteOwnership, SiteOwnershipChange } from '../../common/site-ownership';
import { Backoff, type Scheduler, type TimerHandle } from '../../common/timer.port';
import type { HazwatchMetrics } from '../../metrics/metrics.registry';
import type { AlarmWrite } from '../alarm.store';
import type { AlarmConditionIntake } from '../core/alarm-intake';
import type { AlarmJournalWriter } from '../core/alarm-journal.writer';
import type { AlarmRegistry } from '../core/alarm-registry';
import { isLatching, type AlarmSettings } from '../domain/alarm-settings';
import type { AlarmRecord } from '../domain/alarm.types';
import { conditionIdentity, type ConditionChange } from '../domain/condition-change';
import type { FloodTracker } from '../domain/flood.tracker';
import type { KpiRaise } from '../domain/alarm-kpi';
import { isExternalCondition } from '../external-conditions';

/** The rule engine's per-site state (RulesService.seedSite / forgetSite). */
export type SiteRules = {
  seedSite(siteId: string, changes: readonly ConditionChange[]): void;
  forgetSite(siteId: string): void;
};

export type ClusterSitesDeps = {
  readonly ownership: SiteOwnership;
  readonly registry: AlarmRegistry;
  readonly writer: AlarmJournalWriter;
  readonly intake: AlarmConditionIntake;
  readonly settings: AlarmSettings;
  readonly flood: FloodTracker;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly log: JsonLogger;
  readonly metrics: HazwatchMetrics;
  /** The site's alarms as the journal left them (the `alarm` table). */
  readonly loadSite: (siteId: string) => Promise<AlarmRecord[]>;
  /** `raised` events of the site in [from, to) (flood indicator); optional. */
  readonly raises?: (siteId: string, from: number, to: number) => Promise<KpiRaise[]>;
  readonly rules?: SiteRules;
  /** Longest a site given up by handover or stop waits for its committed events to reach the journal. */
  readonly releaseWaitMs: number;
  readonly isClosed: () => boolean;
  readonly statusChanged: () => void;
};

type Phase = 'loading' | 'owned' | 'releasing';
type SiteEntry = { phase: Phase; readonly epoch: number; readonly buffer: ConditionChange[] };

/**
 * A cluster node's alarm work follows site ownership (docs/adr/0025-cluster-alarm-state.md):
 *
 * - acquired (`acquired`, `current`): the site's conditions are buffered while its alarms are read from the `alarm`
 *   table (retrying while the database does not answer); then the registry takes them, the rule engine restarts the
 *   site from them plus the buffered changes, suppression and site link supervision resync, and the buffered
 *   conditions are applied in order. Its first events continue the site's journal chain under the new epoch.
 * - given up (`handover`, `stopped`, `lost`, `fenced`): the site's conditions and timers stop being applied at once;
 *   after a handover or a stop its events already committed locally get a bounded wait to reach the journal (the
 *   lease is still valid for them); then its alarms, rule conditions and link supervision are forgotten here.
 *
 * Steps of one site run one after the other, so a quick loss and re-acquisition restores after the release.
 */
export class ClusterSites {
  private readonly sites = new Map<string, SiteEntry>();
  private readonly chain = new Map<string, Promise<void>>();
  private readonly refusedSeqs = new Set<number>();
  private sub: Subscription | undefined;
  /** Set once a graceful stop gave up waiting: pending take-overs are abandoned. */
  private abandoned = false;
  /** Conditions of sites not owned here, dropped (diagnostics, tests). */
  droppedConditions = 0;

  constructor(private readonly deps: ClusterSitesDeps) {}

  /** Follows ownership: a subscriber first gets every site owned now (`current`), then each change. */
  start(): void {
    this.sub = this.deps.ownership.ownership$.subscribe((c) => this.onOwnership(c));
  }

  /**
   * Graceful stop, before the writer drains: no more ownership changes; take-overs still loading finish (bounded by
   * `boundMs`) so conditions buffered from readings this node already took in (and acknowledged) are applied and
   * journalled while the leases are still held, rather than dropped.
   */
  async stop(boundMs: number): Promise<void> {
    this.sub?.unsubscribe();
    const loading = [...this.sites.values()].filter((e) => e.phase === 'loading').length;
    if (loading > 0 && boundMs > 0) {
      let timer: TimerHandle | undefined;
      const done = await Promise.race([
        this.settled().then(() => true),
        new Promise<boolean>((resolve) => (timer = this.deps.scheduler.after(boundMs, () => resolve(false)))),
      ]);
      timer?.cancel();
      if (!done)
        this.deps.log.error(
          'stopping with site take-overs still loading; their buffered conditions are not applied',
          {
            sites: [...this.sites].flatMap(([id, e]) => (e.phase === 'loading' ? [id] : [])),
          },
        );
    }
    this.abandoned = true;
  }

  /** Whether the site's alarms are processed here now. */
  accepts(siteId: string): boolean {
    return this.sites.get(siteId)?.phase === 'owned';
  }

  /** Sites whose alarms are processed here now. */
  ownedSites(): string[] {
    return [...this.sites].flatMap(([id, e]) => (e.phase === 'owned' ? [id] : []));
  }

  /** Resolves once every pending take-over or release step has run (tests, diagnostics). */
  async settled(): Promise<void> {
    await Promise.all([...this.chain.values()]);
  }

  onCondition(c: ConditionChange): void {
    const e = this.sites.get(c.siteId);
    if (e?.phase === 'owned') this.deps.intake.onCondition(c);
    else if (e?.phase === 'loading') e.buffer.push(c);
    else {
      this.droppedConditions++;
      this.deps.log.debug('condition of a site this node does not own; left to its owner', {
        siteId: c.siteId,
        ruleId: c.ruleId,
        condition: c.condition,
        active: c.active,
      });
    }
  }

  /** The store refused these events (site not owned, or fenced by the database): never announced, not journalled. */
  refused(siteId: string, writes: readonly AlarmWrite[], reason: 'not owned' | 'fenced', err?: Error): void {
    this.deps.metrics.clusterAlarmEventsRefused.inc({ reason }, writes.length);
    for (const w of writes) {
      this.refusedSeqs.add(w.entry.seq);
      this.deps.writer.forgetUnjournalled(w.alarm.id, w.entry.seq);
    }
    while (this.refusedSeqs.size > 10_000) {
      const oldest = this.refusedSeqs.values().next().value;
      if (oldest === undefined) break;
      this.refusedSeqs.delete(oldest);
    }
    this.deps.log.error(
      'alarm events of a site this node no longer owns were refused by the journal fence: not journalled and never announced; the site’s owner evaluates it afresh',
      {
        siteId,
        reason,
        events: writes.length,
        kinds: [...new Set(writes.map((w) => w.entry.event))],
        ...(err ? { err: err.message } : {}),
      },
    );
    // the database says another epoch holds the site: stop processing it here now, not at the next lease round
    if (reason === 'fenced' && this.sites.get(siteId)?.phase === 'owned') this.release(siteId, 'fenced');
  }

  /** True when an event with this local seq was refused by the fence (an operator action must then fail). */
  wasRefused(seq: number): boolean {
    return this.refusedSeqs.has(seq);
  }

  private onOwnership(c: SiteOwnershipChange): void {
    if (this.deps.isClosed()) return;
    if (c.owned) this.acquire(c.siteId, c.epoch, c.reason);
    else this.release(c.siteId, c.reason);
  }

  private acquire(siteId: string, epoch: number, reason: string): void {
    const cur = this.sites.get(siteId);
    if (cur && cur.phase !== 'releasing' && cur.epoch === epoch) return;
    const entry: SiteEntry = { phase: 'loading', epoch, buffer: [] };
    this.sites.set(siteId, entry);
    this.enqueue(siteId, () => this.restore(siteId, entry, reason));
  }

  private async restore(siteId: string, entry: SiteEntry, reason: string): Promise<void> {
    const { log, registry, settings, intake } = this.deps;
    const backoff = new Backoff(250, 5_000);
    let alarms: AlarmRecord[] | undefined;
    while (!alarms) {
      if (this.sites.get(siteId) !== entry || this.abandoned) return;
      try {
        alarms = await this.deps.loadSite(siteId);
      } catch (err) {
        const delay = backoff.next();
        log.error(
          "cannot load a site's alarms from the database; its conditions are buffered until it answers",
          {
            siteId,
            err,
            buffered: entry.buffer.length,
            retryInMs: delay,
          },
        );
        await new Promise<void>((resolve) => this.deps.scheduler.after(delay, resolve));
      }
    }
    if (this.sites.get(siteId) !== entry || this.abandoned) return;
    registry.removeSite(siteId);
    registry.putSite(
      alarms.map((a) => {
        const latching = isLatching(settings, a);
        return a.latching === latching ? a : { ...a, latching };
      }),
    );
    const buffered = entry.buffer.splice(0);
    this.deps.rules?.seedSite(siteId, [
      ...activeConditions(alarms),
      ...buffered.filter((c) => !isExternalCondition(c)),
    ]);
    entry.phase = 'owned';
    intake.afterSiteRestored(siteId);
    for (const c of buffered) intake.onCondition(c);
    void this.seedFlood(siteId);
    log.info('site alarms taken over', {
      siteId,
      epoch: entry.epoch,
      reason,
      alarms: alarms.length,
      active: alarms.filter((a) => a.active).length,
      buffered: buffered.length,
    });
    this.deps.statusChanged();
  }

  private release(siteId: string, reason: string): void {
    const entry = this.sites.get(siteId);
    if (!entry || entry.phase === 'releasing') return;
    const wait = reason === 'handover' || reason === 'stopped';
    // Handed over or stopped while still loading: the lease is valid until released, so the take-over finishes first
    // and the conditions buffered from readings already taken in are applied (and journalled, if the lease still
    // holds) instead of dropped. After a loss or a fence they are dropped: the fence would refuse them.
    if (!(wait && entry.phase === 'loading')) entry.phase = 'releasing';
    let upTo = this.deps.writer.seq;
    this.enqueue(siteId, async () => {
      entry.phase = 'releasing';
      upTo = Math.max(upTo, this.deps.writer.seq);
      // Events committed here before the release still hold a valid lease on handover and stop: let them reach the
      // journal (bounded). After a loss or a fence they would be refused anyway.
      const written = wait ? await this.deps.writer.whenWritten(upTo, this.deps.releaseWaitMs) : true;
      if (this.sites.get(siteId) === entry) this.sites.delete(siteId);
      const forgotten = this.deps.registry.removeSite(siteId);
      this.deps.rules?.forgetSite(siteId);
      this.deps.intake.forgetSite(siteId);
      const fields = { siteId, epoch: entry.epoch, reason, alarms: forgotten };
      if (written) this.deps.log.info('site alarms given up', fields);
      else
        this.deps.log.warn(
          'site alarms given up before its last events reached the journal; the fence refuses them if the lease has moved',
          { ...fields, upToLocalSeq: upTo },
        );
      this.deps.statusChanged();
    });
  }

  private async seedFlood(siteId: string): Promise<void> {
    if (!this.deps.raises) return;
    const now = this.deps.clock.now();
    try {
      for (const r of await this.deps.raises(siteId, now - 10 * 60_000, now + 1))
        this.deps.flood.record(r.siteId, r.at);
    } catch (err) {
      this.deps.log.warn('could not seed the flood indicator of a site taken over; it starts empty', {
        siteId,
        err,
      });
    }
  }

  private enqueue(siteId: string, step: () => Promise<void>): void {
    const next = (this.chain.get(siteId) ?? Promise.resolve()).then(step).catch((err: unknown) => {
      this.deps.log.error('site alarm ownership step failed', { siteId, err });
    });
    this.chain.set(siteId, next);
    void next.then(() => {
      if (this.chain.get(siteId) === next) this.chain.delete(siteId);
    });
  }
}

/** The rule conditions behind a site's active alarms (external ones belong to their producers). */
export function activeConditions(alarms: readonly AlarmRecord[]): ConditionChange[] {
  const out: ConditionChange[] = [];
  for (const a of alarms) {
    if (!a.active || isExternalCondition(a)) continue;
    out.push({
      ...conditionIdentity(a),
      active: true,
      priority: a.priority,
      value: a.value,
      limit: typeof a.limit === 'boolean' ? null : a.limit,
      ts: a.raisedAt,
      message: a.message,
    });
  }
  return out;
}
