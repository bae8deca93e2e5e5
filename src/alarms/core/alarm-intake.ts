import type { Clock } from '../../common/clock';
import type { JsonLogger } from '../../common/logger';
import { PRIORITY_RANK } from '../../common/types';
import type { AppConfig } from '../../config/app-config';
import { alarmId } from '../domain/alarm-id';
import { isLatching, type AlarmSettings } from '../domain/alarm-settings';
import { dueForRealarm, dueForUnshelve, newAlarm } from '../domain/alarm-state.machine';
import { SYSTEM_ACTOR, type AlarmRecord } from '../domain/alarm.types';
import { cleanCondition, type CleanCondition } from '../domain/clean-condition';
import { conditionIdentity, type ConditionChange } from '../domain/condition-change';
import type { FloodTracker } from '../domain/flood.tracker';
import {
  isLinkCondition,
  isLinkConsequence,
  SITE_OFFLINE_CONDITION,
  siteLinkRuleId,
  SiteLinkSupervisor,
  type LinkAction,
  type LinkChange,
  type SiteVerdict,
} from '../domain/site-link';
import { desiredSuppression, suppressionDiff } from '../domain/suppression';
import type { AlarmJournalWriter } from './alarm-journal.writer';
import type { AlarmRegistry } from './alarm-registry';

export type AlarmIntakeDeps = {
  readonly registry: AlarmRegistry;
  readonly writer: AlarmJournalWriter;
  readonly settings: AlarmSettings;
  readonly config: AppConfig;
  readonly clock: Clock;
  readonly flood: FloodTracker;
  readonly log: JsonLogger;
  readonly isReady: () => boolean;
  readonly isClosed: () => boolean;
  readonly statusChanged: () => void;
  /** Cluster node: whether the site's alarms are processed here now (a single node: every site). */
  readonly accepts?: (siteId: string) => boolean;
};

/**
 * Everything the system (not an operator) does to alarms: condition changes from the rule engine and external
 * producers (buffered in order until recovery is done), site link supervision (docs/alarm-lifecycle.md, "Site link"),
 * design suppression, and the timer work (shelf expiry, re-alarm, flood). Every change goes through the journal writer.
 */
export class AlarmConditionIntake {
  private readonly buffer: ConditionChange[] = [];
  private readonly maintenance: Set<string>;
  private readonly triggerConditions: ReadonlySet<string>;
  private readonly areaByDevice = new Map<string, string>();
  /** Site link supervision; undefined when off. */
  private readonly siteLink: SiteLinkSupervisor<CleanCondition> | undefined;
  private readonly siteSource = new Map<string, string>();

  constructor(private readonly deps: AlarmIntakeDeps) {
    const { settings, config } = deps;
    this.maintenance = new Set(settings.maintenanceAreas);
    this.triggerConditions = new Set(
      settings.suppression.flatMap((r) => (r.whileCondition !== undefined ? [r.whileCondition] : [])),
    );
    for (const d of config.plant.deviceByKey.values()) this.areaByDevice.set(`${d.siteId}/${d.id}`, d.area);
    if (settings.siteLink) {
      const perSite = new Map<string, number>();
      for (const d of config.plant.deviceByKey.values())
        perSite.set(d.siteId, (perSite.get(d.siteId) ?? 0) + 1);
      this.siteLink = new SiteLinkSupervisor<CleanCondition>(settings.siteLink, perSite);
      for (const site of config.plant.sites)
        this.siteSource.set(site.id, site.hazardSources[0]?.id ?? site.id);
    }
  }

  /** Conditions received before the state was loaded. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** Once recovery is done: design suppression and site link from the loaded state, then the buffered conditions. */
  afterRecovery(): void {
    // design suppression from configuration (e.g. areas in maintenance) and from alarms active at start
    for (const siteId of [...this.deps.registry.siteIds()]) this.resyncSuppression(siteId);
    this.seedSiteLink();
    const buffered = this.buffer.splice(0);
    for (const c of buffered) this.onCondition(c);
  }

  onCondition(raw: ConditionChange): void {
    if (this.deps.isClosed()) return;
    if (!this.deps.isReady()) {
      this.buffer.push(raw);
      return;
    }
    try {
      const c = cleanCondition(raw);
      if (this.siteLink && (isLinkCondition(c) || isLinkConsequence(c)))
        this.runLink(this.siteLink.input(c, this.deps.clock.now()));
      else this.applyCondition(c);
    } catch (err) {
      // isolate: one bad condition never stops the stream
      this.deps.log.error('condition change could not be applied', {
        err,
        ruleId: raw.ruleId,
        condition: raw.condition,
        siteId: raw.siteId,
      });
    }
  }

  /** Timer work: expired shelves, re-alarms, site link verdicts, flood re-evaluation. */
  tick(): void {
    if (!this.deps.isReady()) return;
    const { registry, writer, clock, settings } = this.deps;
    const now = clock.now();
    for (const a of [...registry.values()]) {
      if (this.deps.accepts && !this.deps.accepts(a.siteId)) continue;
      if (dueForUnshelve(a, now))
        writer.apply(
          a,
          { kind: 'shelve_expire', at: now },
          SYSTEM_ACTOR,
          `shelf by ${a.shelf?.by ?? '?'} ended`,
        );
      const cur = registry.get(a.id);
      if (cur && dueForRealarm(cur, now, settings.reAlarmMs))
        writer.apply(cur, { kind: 'realarm', at: now }, SYSTEM_ACTOR, 'still active after ReAlarmTime');
    }
    if (this.siteLink) this.runLink(this.siteLink.advance(now));
    this.deps.flood.tick(now);
    this.deps.statusChanged();
  }

  /** Puts an area into (or out of) maintenance: design suppression rules with whileAreaInMaintenance follow. */
  setAreaMaintenance(siteId: string, area: string, on: boolean): void {
    const key = `${siteId}/${area}`;
    if (on) this.maintenance.add(key);
    else this.maintenance.delete(key);
    if (this.deps.isReady()) this.resyncSuppression(siteId);
  }

  /** Device link raises held for their site's verdict (diagnostics, tests). */
  siteLinkHeld(siteId?: string): number {
    return this.siteLink?.heldCount(siteId) ?? 0;
  }

  // ------------------------------------------------------------------------------------------------------------------
  // site link supervision (docs/alarm-lifecycle.md, "Site link")

  /** Executes the supervisor's actions in order: device link changes, and the site's `site_offline` verdicts. */
  private runLink(actions: readonly LinkAction<CleanCondition>[]): void {
    for (const a of actions) {
      try {
        if (a.kind === 'apply') this.applyCondition(a.change);
        else this.applyCondition(this.siteCondition(a.verdict));
      } catch (err) {
        this.deps.log.error('site link action could not be applied', { err, kind: a.kind });
      }
    }
  }

  private siteCondition(v: SiteVerdict): ConditionChange {
    return {
      ruleId: siteLinkRuleId(v.siteId),
      sourceId: this.siteSource.get(v.siteId) ?? v.siteId,
      siteId: v.siteId,
      condition: SITE_OFFLINE_CONDITION,
      active: v.offline,
      priority: 'high',
      value: v.lost,
      limit: v.devices,
      ts: v.at,
      message: v.offline
        ? `数据中断 site link lost: ${v.lost} of ${v.devices} devices of ${v.siteId} offline or silent (gateway or uplink down)`
        : `site link restored: ${v.lost} of ${v.devices} devices of ${v.siteId} still without data`,
    };
  }

  /**
   * Cluster node: a site's alarms were just restored from the journal. Design suppression and site link supervision of
   * that site restart from them (the site's buffered conditions follow, applied by the caller).
   */
  afterSiteRestored(siteId: string): void {
    this.resyncSuppression(siteId);
    if (!this.siteLink) return;
    const { link, offline } = this.linkState(this.deps.registry.siteAlarms(siteId));
    this.runLink(this.siteLink.seedSite(siteId, link, offline.has(siteId), this.deps.clock.now()));
  }

  /** Cluster node: a site was given up; its link supervision forgets it (restarted when taken again). */
  forgetSite(siteId: string): void {
    this.siteLink?.seedSite(siteId, [], false, this.deps.clock.now());
  }

  /** After a restart: the supervisor learns which devices are link-lost and which sites are offline. */
  private seedSiteLink(): void {
    if (!this.siteLink) return;
    const { link, offline } = this.linkState(this.deps.registry.values());
    this.runLink(this.siteLink.seed(link, offline, this.deps.clock.now()));
  }

  private linkState(alarms: Iterable<AlarmRecord>): { link: LinkChange[]; offline: Set<string> } {
    const link: LinkChange[] = [];
    const offline = new Set<string>();
    for (const a of alarms) {
      if (!a.active) continue;
      if (a.condition === SITE_OFFLINE_CONDITION && a.ruleId === siteLinkRuleId(a.siteId))
        offline.add(a.siteId);
      else if (isLinkCondition(a))
        link.push({
          ruleId: a.ruleId,
          siteId: a.siteId,
          deviceId: a.deviceId,
          condition: a.condition,
          active: true,
          ts: a.raisedAt,
        });
    }
    return { link, offline };
  }

  // ------------------------------------------------------------------------------------------------------------------
  // conditions and design suppression

  private applyCondition(c: CleanCondition): void {
    const { registry, writer, settings, log } = this.deps;
    // cluster node: a site given up meanwhile (a held site link raise, a verdict) is left to its new owner
    if (this.deps.accepts && !this.deps.accepts(c.siteId)) return;
    const id = alarmId(c);
    let alarm = registry.get(id);
    if (!alarm) {
      if (!c.active) {
        log.debug('clear for an alarm that was never raised; ignored', {
          id,
          ruleId: c.ruleId,
          condition: c.condition,
        });
        return;
      }
      alarm = newAlarm({
        id,
        ...conditionIdentity(c),
        priority: c.priority,
        latching: isLatching(settings, c),
        at: c.ts,
      });
    }
    if (c.active) {
      // design suppression first, so a suppressed alarm is never annunciated
      alarm = this.syncSuppression(alarm, true);
      // a rise of priority of an acknowledged alarm re-announces it (`realarm`): say why in the journal
      const rose =
        alarm.active && PRIORITY_RANK[c.priority] > PRIORITY_RANK[alarm.priority]
          ? `priority rose ${alarm.priority} → ${c.priority}`
          : null;
      const r = writer.apply(
        alarm,
        {
          kind: 'activate',
          at: c.ts,
          priority: c.priority,
          value: c.value,
          limit: c.limit,
          message: c.message,
        },
        SYSTEM_ACTOR,
        rose,
      );
      if (!r.ok) log.warn('activation rejected', { id, code: r.error.code });
    } else {
      const r = writer.apply(alarm, { kind: 'clear', at: c.ts, value: c.value }, SYSTEM_ACTOR, null);
      if (!r.ok) log.debug('clear ignored', { id, code: r.error.code });
      else alarm = this.syncSuppression(r.alarm, false);
    }
    if (this.triggerConditions.has(c.condition)) this.resyncSuppression(c.siteId);
  }

  private areaOf = (siteId: string, deviceId: string | undefined): string | undefined =>
    deviceId === undefined ? undefined : this.areaByDevice.get(`${siteId}/${deviceId}`);

  /** Applies suppress/unsuppress so the alarm carries exactly the design suppressions that hold now. */
  private syncSuppression(alarm: AlarmRecord, force: boolean): AlarmRecord {
    const { settings, registry, writer } = this.deps;
    if (settings.suppression.length === 0) return alarm;
    if (!force && !alarm.active && alarm.suppressedBy.length === 0) return alarm;
    const siteAlarms = registry.siteAlarms(alarm.siteId);
    const desired = desiredSuppression(alarm, settings, {
      siteAlarms,
      areaOf: this.areaOf,
      maintenance: this.maintenance,
    });
    const { add, remove } = suppressionDiff(alarm.suppressedBy, desired);
    let cur = alarm;
    const now = this.deps.clock.now();
    for (const ruleId of add) {
      const r = writer.apply(
        cur,
        { kind: 'suppress', at: now, ruleId },
        SYSTEM_ACTOR,
        `design suppression '${ruleId}'`,
      );
      if (r.ok) cur = r.alarm;
    }
    for (const ruleId of remove) {
      const r = writer.apply(
        cur,
        { kind: 'unsuppress', at: now, ruleId },
        SYSTEM_ACTOR,
        `design suppression '${ruleId}' lifted`,
      );
      if (r.ok) cur = r.alarm;
    }
    return cur;
  }

  private resyncSuppression(siteId: string): void {
    if (this.deps.settings.suppression.length === 0) return;
    for (const id of this.deps.registry.idsOfSite(siteId)) {
      const a = this.deps.registry.get(id);
      if (a) this.syncSuppression(a, false);
    }
  }
}
