import { Inject, Injectable, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { BehaviorSubject, Subject, type Observable, type Subscription } from 'rxjs';
import { can, type Capability } from '../auth/domain/capability.policy';
import type { Principal } from '../auth/principal';
import { ScopeService } from '../auth/scope.service';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { PRIORITY_RANK, type Priority } from '../common/types';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { Backoff, systemScheduler, type Scheduler, type TimerHandle } from '../storage/timer.port';
import { ALARM_EVENT_LOG, type AlarmEventLog } from './alarm-event.log';
import { ALARM_PENDING_SPOOL, type PendingSpool } from './alarm-pending.spool';
import { ALARM_SETTINGS } from './alarm-settings.loader';
import { ALARM_STORE, type AlarmStore, type AlarmWrite } from './alarm.store';
import { AlarmForbiddenError, AlarmNotFoundError, AlarmQueryError, AlarmsNotReadyError, ReplayTooLargeError } from './alarm.errors';
import { AlarmWriteQueue, DEFAULT_WRITE_QUEUE_OPTIONS, type WriteQueueOptions, type WriteQueueState } from './alarm-write.queue';
import { alarmId } from './domain/alarm-id';
import { computeAlarmKpis, type AlarmKpis } from './domain/alarm-kpi';
import { isLatching, type AlarmSettings } from './domain/alarm-settings';
import { applyAlarmCommand, dueForRealarm, dueForUnshelve, newAlarm, toSnapshot, type AlarmCommand, type TransitionResult } from './domain/alarm-state.machine';
import { SYSTEM_ACTOR, type Actor, type AlarmEventDto, type AlarmEventType, type AlarmRecord, type AlarmSnapshot, type AlarmState } from './domain/alarm.types';
import type { ConditionChange, ConditionValue } from './domain/condition-change';
import { FloodTracker, type FloodStatus } from './domain/flood.tracker';
import { ChainVerifier, GENESIS_HASH, sealEntry, type ChainBreak, type JournalEntry } from './domain/journal-chain';
import { onlineRates, type LinkEvent, type OnlineDay, type OpenLinkAlarm } from './domain/online-rate';
import { isLinkCondition, isLinkConsequence, SITE_OFFLINE_CONDITION, siteLinkRuleId, SiteLinkSupervisor, type LinkAction, type LinkChange, type SiteVerdict } from './domain/site-link';
import { desiredSuppression, suppressionDiff } from './domain/suppression';
import { isExternalCondition } from './external-conditions';

export const ALARM_CONDITIONS = Symbol('ALARM_CONDITIONS');
export const ALARM_SCHEDULER = Symbol('ALARM_SCHEDULER');
export const ALARM_SERVICE_OPTIONS = Symbol('ALARM_SERVICE_OPTIONS');
/**
 * Hands the alarms active at start-up back to the rule engine (`RulesService.seedActive`), so a condition that ends
 * after a restart is cleared instead of staying active forever.
 */
export const ALARM_CONDITION_SEED = Symbol('ALARM_CONDITION_SEED');
export type ConditionSeed = (active: ConditionChange[]) => void;

export type AlarmServiceOptions = {
  /** Period of the timer that expires shelves, re-announces alarms and re-evaluates floods. */
  readonly tickMs: number;
  /** How long an operator action waits for its journal row to commit before answering anyway (it stays queued). */
  readonly actionCommitWaitMs: number;
  /** Committed events kept in memory for fast resume (uncommitted ones are always kept). */
  readonly recentEvents: number;
  /** Most events one resume (`eventsSince`) may return. */
  readonly maxReplay: number;
  /** Longest a graceful shutdown waits for pending alarm writes. */
  readonly shutdownDrainMs: number;
  readonly writeQueue: WriteQueueOptions;
};

export const DEFAULT_ALARM_SERVICE_OPTIONS: AlarmServiceOptions = Object.freeze({
  tickMs: 1_000,
  actionCommitWaitMs: 2_000,
  recentEvents: 10_000,
  maxReplay: 100_000,
  shutdownDrainMs: 5_000,
  writeQueue: DEFAULT_WRITE_QUEUE_OPTIONS,
});

const REPLAY_PAGE = 5_000;

export type AlarmListFilter = { state?: AlarmState; siteId?: string; priority?: Priority; from?: number; to?: number };
export type JournalFilter = { from?: number; to?: number; alarmId?: string; afterSeq?: number; limit: number };

/** What the console banner and the flood indicator need. */
export type AlarmSystemStatus = {
  readonly ready: boolean;
  readonly storageDegraded: boolean;
  readonly pendingWrites: number;
  readonly seq: number;
  /** Every event up to this seq is committed to the journal table (later ones are durable in the write-ahead log). */
  readonly journalledSeq: number;
  readonly lastError?: string;
  /** Set while alarm events cannot be made durable in the write-ahead log (they are still announced). */
  readonly walError?: string;
  readonly floods: readonly FloodStatus[];
};

/** An alarm event as announced: `journalled` is false until its journal row is committed (docs/adr/0011-journal-before-announce.md). */
export type AnnouncedAlarmEvent = AlarmEventDto & { readonly journalled: boolean };
/** An alarm as the REST API shows it: `journalled` is false while its newest event is not yet in the journal table. */
export type AlarmView = AlarmSnapshot & { readonly journalled: boolean };

export type JournalVerification = { ok: true; rowsChecked: number; lastSeq: number | null } | { ok: false; rowsChecked: number; firstBroken: ChainBreak };

const ACTION_CAPABILITY = {
  ack: 'alarm.ack',
  shelve: 'alarm.shelve',
  unshelve: 'alarm.unshelve',
  oos_set: 'alarm.out-of-service',
  oos_clear: 'alarm.out-of-service',
  reset: 'alarm.reset',
} as const satisfies Record<string, Capability>;

/** Strips what PostgreSQL jsonb/text cannot hold (NUL) and makes numbers hashable (no NaN/Infinity). */
function cleanText(s: string): string {
  // eslint-disable-next-line no-control-regex -- NUL is exactly what must go
  return s.replace(/\u0000/g, '');
}
function cleanValue(v: ConditionValue | undefined): ConditionValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'string') return cleanText(v);
  return v;
}

/** A condition change after cleaning (NUL stripped, numbers hashable). */
type CleanCondition = Omit<ConditionChange, 'value' | 'limit'> & { readonly value: ConditionValue; readonly limit: ConditionValue };

export function toEventDto(e: JournalEntry): AlarmEventDto {
  return {
    ...e.snapshot,
    event: e.event,
    at: new Date(e.at).toISOString(),
    ...(e.actorRole !== 'system' ? { actor: e.actor } : {}),
    ...(e.comment !== null ? { comment: e.comment } : {}),
  };
}

/**
 * The only writer of alarm state. Consumes the rule engine's condition changes, applies the ISA-18.2 state machine,
 * journals every event (hash-chained, strictly ordered `seq`), persists through an in-order write queue that holds
 * events in memory while the database is down, and pushes `events$` for the /ws gateway.
 *
 * Everything that changes state runs synchronously on the event loop (condition, operator action, timer tick), so the
 * order of seq, hash chain, write queue and events$ is one and the same.
 */
@Injectable()
export class AlarmService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new JsonLogger('alarms');
  private readonly alarms = new Map<string, AlarmRecord>();
  private readonly bySite = new Map<string, Set<string>>();
  private seq = 0;
  private lastHash = GENESIS_HASH;
  private ready = false;
  private closed = false;
  private readonly buffered: ConditionChange[] = [];
  private readonly recent: JournalEntry[] = [];
  private readonly maintenance: Set<string>;
  private readonly triggerConditions: ReadonlySet<string>;
  private readonly flood = new FloodTracker();
  private readonly activeByPriority: Record<Priority, number> = { critical: 0, high: 0, medium: 0, low: 0 };
  private readonly queue: AlarmWriteQueue;
  private readonly eventsSubject = new Subject<AlarmEventDto>();
  private readonly statusSubject: BehaviorSubject<AlarmSystemStatus>;
  private subscription: Subscription | undefined;
  private tickTimer: TimerHandle | undefined;
  private readyResolve!: () => void;
  private readonly readyPromise = new Promise<void>((r) => (this.readyResolve = r));
  private readonly opts: AlarmServiceOptions;
  private readonly areaByDevice = new Map<string, string>();
  /** Site link supervision (docs/alarm-lifecycle.md, "Site link"); undefined when off. */
  private readonly siteLink: SiteLinkSupervisor<CleanCondition> | undefined;
  private readonly siteSource = new Map<string, string>();
  private readonly devicesBySite = new Map<string, string[]>();
  private floodSites: string = '';
  /** Seq up to which the spooled events of the last shutdown must be committed before the spool file is removed. */
  private spoolClearAt: number | undefined;
  /** Why the last write-ahead-log append failed; undefined while appends succeed. */
  private walError: string | undefined;
  private walCompactedAt = 0;

  /** Every alarm event, live, in seq order (hot; completes on shutdown). */
  readonly events$: Observable<AlarmEventDto> = this.eventsSubject.asObservable();
  /** Readiness, storage degradation and floods; emits on change. */
  readonly status$: Observable<AlarmSystemStatus>;

  constructor(
    @Inject(ALARM_STORE) private readonly store: AlarmStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ALARM_CONDITIONS) private readonly conditions$: Observable<ConditionChange>,
    @Inject(ALARM_SETTINGS) private readonly settings: AlarmSettings,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly scope: ScopeService,
    private readonly metrics: HazwatchMetrics,
    @Optional() @Inject(ALARM_SCHEDULER) scheduler?: Scheduler,
    @Optional() @Inject(ALARM_SERVICE_OPTIONS) options?: Partial<AlarmServiceOptions>,
    @Optional() @Inject(ALARM_PENDING_SPOOL) private readonly spool?: PendingSpool,
    @Optional() @Inject(ALARM_CONDITION_SEED) private readonly seedConditions?: ConditionSeed,
    @Optional() @Inject(ALARM_EVENT_LOG) private readonly wal?: AlarmEventLog,
  ) {
    this.opts = { ...DEFAULT_ALARM_SERVICE_OPTIONS, ...options };
    this.scheduler = scheduler ?? systemScheduler;
    this.maintenance = new Set(settings.maintenanceAreas);
    this.triggerConditions = new Set(settings.suppression.flatMap((r) => (r.whileCondition !== undefined ? [r.whileCondition] : [])));
    for (const d of config.plant.deviceByKey.values()) this.areaByDevice.set(`${d.siteId}/${d.id}`, d.area);
    for (const d of config.plant.deviceByKey.values()) {
      const list = this.devicesBySite.get(d.siteId);
      if (list) list.push(d.id);
      else this.devicesBySite.set(d.siteId, [d.id]);
    }
    if (settings.siteLink) {
      const perSite = new Map<string, number>();
      for (const d of config.plant.deviceByKey.values()) perSite.set(d.siteId, (perSite.get(d.siteId) ?? 0) + 1);
      this.siteLink = new SiteLinkSupervisor<CleanCondition>(settings.siteLink, perSite);
      for (const site of config.plant.sites) this.siteSource.set(site.id, site.hazardSources[0]?.id ?? site.id);
    }
    this.queue = new AlarmWriteQueue(this.store, this.scheduler, (s) => this.onQueueState(s), this.opts.writeQueue, this.log.child('alarms.writer'));
    this.statusSubject = new BehaviorSubject<AlarmSystemStatus>(this.buildStatus());
    this.status$ = this.statusSubject.asObservable();
  }

  private readonly scheduler: Scheduler;

  // ------------------------------------------------------------------------------------------------------------------
  // lifecycle

  onModuleInit(): void {
    this.start();
  }

  /** Subscribes to conditions at once (buffering them) and loads the persisted state in the background. */
  start(): void {
    if (this.subscription) return;
    this.subscription = this.conditions$.subscribe({
      next: (c) => this.onCondition(c),
      error: (err: unknown) => this.log.error('condition stream failed; no further conditions will reach the alarm service', { err }),
    });
    void this.load();
  }

  /** Resolves once the persisted state has been rebuilt. */
  whenReady(): Promise<void> {
    return this.readyPromise;
  }

  get isReady(): boolean {
    return this.ready;
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.subscription?.unsubscribe();
    this.tickTimer?.cancel();
    if (this.buffered.length > 0) this.log.error('alarm service stopped before its state was loaded; buffered conditions were not applied', { buffered: this.buffered.length });
    if (this.seq > this.queue.committedSeq) {
      const written = await this.queue.whenWritten(this.seq, this.opts.shutdownDrainMs);
      if (!written) {
        const pending = this.queue.close();
        const range = { pending: pending.length, fromSeq: pending[0]?.entry.seq, toSeq: this.seq };
        if (this.wal && this.walError === undefined) {
          this.log.error('database unavailable at shutdown: unwritten alarm events stay in the write-ahead log; they are written at the next start', { ...range, file: this.wal.location });
        } else if (this.spool && pending.length > 0) {
          try {
            this.spool.save(pending);
            this.log.error('database unavailable at shutdown: unwritten alarm events saved; they are written at the next start', { ...range, file: this.spool.location });
          } catch (err) {
            this.log.error('database unavailable at shutdown and the alarm spool could not be written: these alarm events are lost from the journal', { ...range, err });
          }
        } else {
          this.log.error('shutting down with alarm events not written to the database (storage unavailable); they are lost from the journal', range);
        }
      }
    }
    this.queue.close();
    try {
      this.wal?.close();
    } catch (err) {
      this.log.warn('closing the alarm write-ahead log failed', { err });
    }
    this.eventsSubject.complete();
    this.statusSubject.complete();
  }

  private async load(): Promise<void> {
    const backoff = new Backoff(500, 15_000);
    for (;;) {
      if (this.closed) return;
      try {
        const state = await this.store.loadState();
        this.rebuild(state.alarms, state.lastSeq, state.lastHash);
        this.restoreSpooled();
        this.replayWal();
        break;
      } catch (err) {
        const delay = backoff.next();
        this.log.error('cannot load alarm state from the database; conditions are buffered in order until it answers', {
          err,
          buffered: this.buffered.length,
          retryInMs: delay,
        });
        await new Promise<void>((resolve) => this.scheduler.after(delay, resolve));
      }
    }
    await this.seedFlood();
    if (this.closed) return;
    this.ready = true;
    this.log.info('alarm state rebuilt', { alarms: this.alarms.size, seq: this.seq, active: this.countActive() });
    this.seedRules();
    // design suppression from configuration (e.g. areas in maintenance) and from alarms active at start
    for (const siteId of this.bySite.keys()) this.resyncSuppression(siteId);
    this.seedSiteLink();
    const buffered = this.buffered.splice(0);
    for (const c of buffered) this.onCondition(c);
    this.scheduleTick();
    this.emitStatus(true);
    this.readyResolve();
  }

  private rebuild(alarms: readonly AlarmRecord[], lastSeq: number, lastHash: string): void {
    this.alarms.clear();
    this.bySite.clear();
    for (const p of Object.keys(this.activeByPriority) as Priority[]) this.activeByPriority[p] = 0;
    for (const a of alarms) {
      const latching = isLatching(this.settings, a);
      this.put(a.latching === latching ? a : { ...a, latching });
    }
    for (const a of this.alarms.values()) if (a.active) this.activeByPriority[a.priority] += 1;
    this.seq = lastSeq;
    this.lastHash = lastHash;
    this.queue.setCommitted(lastSeq);
    this.publishActiveGauge();
  }

  /**
   * Events saved at the last shutdown because the database was down (legacy spool, written only without a write-ahead
   * log): those not yet in the journal continue the chain exactly and are queued; the file goes once they are committed.
   */
  private restoreSpooled(): void {
    if (!this.spool) return;
    let writes;
    try {
      writes = this.spool.load();
    } catch (err) {
      const to = this.spool.quarantine(err instanceof Error ? err.message : String(err));
      this.log.error('alarm spool unreadable; moved aside for manual recovery', { err, movedTo: to });
      return;
    }
    if (writes.length === 0) return;
    const r = this.adoptUnwritten(writes, 'alarm spool', (why) => this.spool?.quarantine(why) ?? '');
    if (r === 'already') this.spool.clear();
    if (r === 'adopted') {
      this.spoolClearAt = this.seq;
      this.log.warn('alarm events saved at the last shutdown restored and queued for writing', { toSeq: this.seq, file: this.spool.location });
    }
  }

  /**
   * Replays the write-ahead log right after the journal's tail is known and before anything else (buffered
   * conditions, timers): events that were announced but not yet journalled before a crash continue the chain exactly
   * and are queued for writing, and seq continues after the highest one ever announced.
   */
  private replayWal(): void {
    if (!this.wal) return;
    let writes: AlarmWrite[];
    try {
      writes = this.wal.load();
    } catch (err) {
      const to = this.wal.quarantine(err instanceof Error ? err.message : String(err));
      this.log.error('alarm write-ahead log unreadable; moved aside for manual recovery (events in it may be missing from the journal)', { err, movedTo: to });
      return;
    }
    if (writes.length === 0) return;
    const walMax = writes[writes.length - 1]?.entry.seq ?? 0;
    const r = this.adoptUnwritten(writes, 'alarm write-ahead log', (why) => this.wal?.quarantine(why) ?? '');
    if (r === 'adopted') this.log.warn('alarm events announced before the last stop but not yet journalled were restored from the write-ahead log and queued for writing', { toSeq: this.seq, file: this.wal.location });
    if (r === 'rejected' && walMax > this.seq) {
      // Those seqs were announced: never hand them out again. The journal shows the gap (rows in the moved file).
      this.log.error('seq continues after the moved-aside write-ahead log so no announced seq is reused; the journal will show a gap there', { journalSeq: this.seq, walMaxSeq: walMax });
      this.seq = walMax;
    }
  }

  /**
   * Adopts locally saved events that continue the journal: they must overlap its tail exactly (a batch in flight may
   * have committed) or start right after it. Anything else is moved aside, loudly, and nothing of it is applied.
   */
  private adoptUnwritten(writes: readonly AlarmWrite[], what: string, quarantine: (why: string) => string): 'adopted' | 'already' | 'rejected' {
    const first = writes[0];
    if (!first) return 'already';
    const reject = (why: string): 'rejected' => {
      const to = quarantine(why);
      this.log.error(`${what} does not continue the journal; moved aside for manual recovery, nothing applied`, { why, movedTo: to });
      return 'rejected';
    };
    const atTail = writes.find((w) => w.entry.seq === this.seq);
    const joins = atTail ? atTail.entry.hash === this.lastHash : first.entry.seq === this.seq + 1 && first.entry.prevHash === this.lastHash;
    if (!joins) return reject(`saved events seq ${first.entry.seq}…${writes[writes.length - 1]?.entry.seq} do not continue the journal at seq ${this.seq}`);
    const todo = writes.filter((w) => w.entry.seq > this.seq);
    if (todo.length === 0) {
      this.log.info(`events in the ${what} were already in the journal`, { events: writes.length });
      return 'already';
    }
    let seq = this.seq;
    let hash = this.lastHash;
    for (const w of todo) {
      if (w.entry.seq !== seq + 1 || w.entry.prevHash !== hash || w.alarm.seq !== w.entry.seq) return reject(`saved event seq ${w.entry.seq} does not continue the journal at seq ${seq}`);
      seq = w.entry.seq;
      hash = w.entry.hash;
    }
    for (const w of todo) {
      const prev = this.alarms.get(w.alarm.id);
      this.put(w.alarm);
      this.adjustActiveGauge(prev, w.alarm);
      this.recent.push(w.entry);
      this.queue.enqueue(w);
    }
    this.seq = seq;
    this.lastHash = hash;
    return 'adopted';
  }

  /** The rule engine starts blank: tell it which conditions were active, so it can clear them when they end. */
  private seedRules(): void {
    const active: ConditionChange[] = [];
    for (const a of this.alarms.values()) {
      // external conditions (ext:…, e.g. site_offline) belong to their producers: the rule engine would clear them
      if (!a.active || isExternalCondition(a)) continue;
      const limit = typeof a.limit === 'boolean' ? null : a.limit;
      const base = { ruleId: a.ruleId, sourceId: a.sourceId, siteId: a.siteId, condition: a.condition, active: true, priority: a.priority, value: a.value, limit, ts: a.raisedAt, message: a.message };
      active.push(a.deviceId !== undefined ? { ...base, deviceId: a.deviceId } : base);
    }
    if (!this.seedConditions) {
      if (active.length > 0) this.log.warn('no rule engine to seed: alarms active before the restart clear only when their condition is re-raised and cleared', { active: active.length });
      return;
    }
    try {
      this.seedConditions(active);
    } catch (err) {
      this.log.error('seeding the rule engine with active alarms failed', { err, active: active.length });
    }
  }

  private async seedFlood(): Promise<void> {
    const now = this.clock.now();
    try {
      const raises = await this.store.raises({ from: now - 10 * 60_000, to: now + 1 });
      for (const r of raises) this.flood.record(r.siteId, r.at);
    } catch (err) {
      this.log.warn('could not seed the flood indicator from the journal; it starts empty', { err });
    }
  }

  private scheduleTick(): void {
    if (this.closed) return;
    this.tickTimer = this.scheduler.after(this.opts.tickMs, () => {
      try {
        this.tick();
      } catch (err) {
        this.log.error('alarm timer tick failed', { err });
      }
      this.scheduleTick();
    });
  }

  /** Timer work: expired shelves, re-alarms, flood re-evaluation. Public so tests drive it with a ManualClock. */
  tick(): void {
    if (!this.ready) return;
    const now = this.clock.now();
    for (const a of [...this.alarms.values()]) {
      if (dueForUnshelve(a, now)) this.apply(a, { kind: 'shelve_expire', at: now }, SYSTEM_ACTOR, `shelf by ${a.shelf?.by ?? '?'} ended`);
      const cur = this.alarms.get(a.id);
      if (cur && dueForRealarm(cur, now, this.settings.reAlarmMs)) this.apply(cur, { kind: 'realarm', at: now }, SYSTEM_ACTOR, 'still active after ReAlarmTime');
    }
    if (this.siteLink) this.runLink(this.siteLink.advance(now));
    this.flood.tick(now);
    this.emitStatus();
  }

  // ------------------------------------------------------------------------------------------------------------------
  // conditions

  private onCondition(raw: ConditionChange): void {
    if (this.closed) return;
    if (!this.ready) {
      this.buffered.push(raw);
      return;
    }
    try {
      this.handleCondition(raw);
    } catch (err) {
      // isolate: one bad condition never stops the stream
      this.log.error('condition change could not be applied', { err, ruleId: raw.ruleId, condition: raw.condition, siteId: raw.siteId });
    }
  }

  private handleCondition(raw: ConditionChange): void {
    const c: CleanCondition = { ...raw, value: cleanValue(raw.value), limit: cleanValue(raw.limit), message: cleanText(raw.message) };
    if (this.siteLink && (isLinkCondition(c) || isLinkConsequence(c))) this.runLink(this.siteLink.input(c, this.clock.now()));
    else this.applyCondition(c);
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
        this.log.error('site link action could not be applied', { err, kind: a.kind });
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

  /** After a restart: the supervisor learns which devices are link-lost and which sites are offline. */
  private seedSiteLink(): void {
    if (!this.siteLink) return;
    const link: LinkChange[] = [];
    const offline = new Set<string>();
    for (const a of this.alarms.values()) {
      if (!a.active) continue;
      if (a.condition === SITE_OFFLINE_CONDITION && a.ruleId === siteLinkRuleId(a.siteId)) offline.add(a.siteId);
      else if (isLinkCondition(a))
        link.push({ ruleId: a.ruleId, siteId: a.siteId, deviceId: a.deviceId, condition: a.condition, active: true, ts: a.raisedAt });
    }
    this.runLink(this.siteLink.seed(link, offline, this.clock.now()));
  }

  /** Device link raises held for their site's verdict (diagnostics, tests). */
  siteLinkHeld(siteId?: string): number {
    return this.siteLink?.heldCount(siteId) ?? 0;
  }

  private applyCondition(c: CleanCondition): void {
    const id = alarmId(c);
    let alarm = this.alarms.get(id);
    if (!alarm) {
      if (!c.active) {
        this.log.debug('clear for an alarm that was never raised; ignored', { id, ruleId: c.ruleId, condition: c.condition });
        return;
      }
      alarm = newAlarm({
        id,
        siteId: c.siteId,
        sourceId: c.sourceId,
        ruleId: c.ruleId,
        ...(c.deviceId !== undefined ? { deviceId: c.deviceId } : {}),
        condition: c.condition,
        priority: c.priority,
        latching: isLatching(this.settings, c),
        at: c.ts,
      });
    }
    if (c.active) {
      // design suppression first, so a suppressed alarm is never annunciated
      alarm = this.syncSuppression(alarm, true);
      // a rise of priority of an acknowledged alarm re-announces it (`realarm`): say why in the journal
      const rose = alarm.active && PRIORITY_RANK[c.priority] > PRIORITY_RANK[alarm.priority] ? `priority rose ${alarm.priority} → ${c.priority}` : null;
      const r = this.apply(alarm, { kind: 'activate', at: c.ts, priority: c.priority, value: c.value, limit: c.limit, message: c.message }, SYSTEM_ACTOR, rose);
      if (!r.ok) this.log.warn('activation rejected', { id, code: r.error.code });
    } else {
      const r = this.apply(alarm, { kind: 'clear', at: c.ts, value: c.value }, SYSTEM_ACTOR, null);
      if (!r.ok) this.log.debug('clear ignored', { id, code: r.error.code });
      else alarm = this.syncSuppression(r.alarm, false);
    }
    if (this.triggerConditions.has(c.condition)) this.resyncSuppression(c.siteId);
  }

  private areaOf = (siteId: string, deviceId: string | undefined): string | undefined =>
    deviceId === undefined ? undefined : this.areaByDevice.get(`${siteId}/${deviceId}`);

  /** Applies suppress/unsuppress so the alarm carries exactly the design suppressions that hold now. */
  private syncSuppression(alarm: AlarmRecord, force: boolean): AlarmRecord {
    if (this.settings.suppression.length === 0) return alarm;
    if (!force && !alarm.active && alarm.suppressedBy.length === 0) return alarm;
    const siteAlarms = [...(this.bySite.get(alarm.siteId) ?? [])].flatMap((id) => {
      const a = this.alarms.get(id);
      return a ? [a] : [];
    });
    const desired = desiredSuppression(alarm, this.settings, { siteAlarms, areaOf: this.areaOf, maintenance: this.maintenance });
    const { add, remove } = suppressionDiff(alarm.suppressedBy, desired);
    let cur = alarm;
    const now = this.clock.now();
    for (const ruleId of add) {
      const r = this.apply(cur, { kind: 'suppress', at: now, ruleId }, SYSTEM_ACTOR, `design suppression '${ruleId}'`);
      if (r.ok) cur = r.alarm;
    }
    for (const ruleId of remove) {
      const r = this.apply(cur, { kind: 'unsuppress', at: now, ruleId }, SYSTEM_ACTOR, `design suppression '${ruleId}' lifted`);
      if (r.ok) cur = r.alarm;
    }
    return cur;
  }

  private resyncSuppression(siteId: string): void {
    if (this.settings.suppression.length === 0) return;
    for (const id of [...(this.bySite.get(siteId) ?? [])]) {
      const a = this.alarms.get(id);
      if (a) this.syncSuppression(a, false);
    }
  }

  // ------------------------------------------------------------------------------------------------------------------
  // the single write path

  /** Applies a command; on a journalled change assigns the next seq, seals the journal row, queues it and pushes it. */
  private apply(alarm: AlarmRecord, cmd: AlarmCommand, actor: Actor, comment: string | null): TransitionResult {
    const r = applyAlarmCommand(alarm, cmd);
    if (!r.ok || r.event === null) return r;
    return { ...r, alarm: this.commit(r.alarm, r.event, r.from, actor, comment).alarm };
  }

  /** Assigns the next seq to an alarm event, seals its journal row, queues the write and pushes it on events$. */
  private commit(alarm: AlarmRecord, event: AlarmEventType, from: AlarmState, actor: Actor, comment: string | null): { alarm: AlarmRecord; entry: JournalEntry } {
    const seq = this.seq + 1;
    const next: AlarmRecord = { ...alarm, seq };
    const entry = sealEntry(this.lastHash, {
      seq,
      at: this.clock.now(),
      alarmId: next.id,
      siteId: next.siteId,
      event,
      fromState: from,
      toState: next.state,
      actor: actor.role === 'system' ? actor.name : `${actor.name}${actor.tokenId ? ` [token ${actor.tokenId}]` : ''}`,
      actorRole: actor.role,
      comment: comment === null ? null : cleanText(comment),
      snapshot: toSnapshot(next),
    });
    this.seq = seq;
    this.lastHash = entry.hash;
    const prev = this.alarms.get(next.id);
    this.put(next);
    this.adjustActiveGauge(prev, next);
    this.recent.push(entry);
    this.trimRecent();
    this.metrics.alarmEvents.inc();
    if (event === 'raised' && next.state === 'unacknowledged' && this.flood.record(next.siteId, entry.at)) this.emitStatus();
    const write: AlarmWrite = { entry, alarm: next };
    // durable before announced (docs/adr/0011-journal-before-announce.md): the write-ahead log first, then the journal
    // queue, then events$ (WS, call-outs, feeds) with `journalled: false` until the journal row commits
    this.makeDurable(write);
    this.queue.enqueue(write);
    const announced: AnnouncedAlarmEvent = { ...toEventDto(entry), journalled: false };
    this.eventsSubject.next(announced);
    return { alarm: next, entry };
  }

  /** Appends the event to the write-ahead log (fdatasync). A failure is loud but never stops the announcement. */
  private makeDurable(w: AlarmWrite): void {
    if (!this.wal) return;
    try {
      this.wal.append(w);
      if (this.walError !== undefined) {
        this.walError = undefined;
        this.log.warn('alarm write-ahead log appends recovered', { seq: w.entry.seq });
        this.emitStatus();
      }
    } catch (err) {
      this.metrics.alarmWalErrors.inc();
      const first = this.walError === undefined;
      this.walError = err instanceof Error ? err.message : String(err);
      if (first) {
        this.log.error('alarm event could not be written to the write-ahead log; announced anyway (operators must see it) but lost if the process dies before the journal commits it', {
          err,
          seq: w.entry.seq,
          file: this.wal.location,
        });
        this.emitStatus();
      }
    }
  }

  private put(a: AlarmRecord): void {
    this.alarms.set(a.id, a);
    let ids = this.bySite.get(a.siteId);
    if (!ids) this.bySite.set(a.siteId, (ids = new Set()));
    ids.add(a.id);
  }

  private trimRecent(): void {
    const committed = this.queue.committedSeq;
    let drop = 0;
    while (this.recent.length - drop > this.opts.recentEvents && (this.recent[drop]?.seq ?? Infinity) <= committed) drop++;
    if (drop > 0) this.recent.splice(0, drop);
  }

  private adjustActiveGauge(prev: AlarmRecord | undefined, next: AlarmRecord): void {
    if (prev?.active) this.activeByPriority[prev.priority] -= 1;
    if (next.active) this.activeByPriority[next.priority] += 1;
    if (prev?.active !== next.active || prev?.priority !== next.priority) this.publishActiveGauge();
  }

  private publishActiveGauge(): void {
    for (const [p, n] of Object.entries(this.activeByPriority)) this.metrics.alarmsActive.set({ priority: p }, n);
  }

  private countActive(): number {
    let n = 0;
    for (const a of this.alarms.values()) if (a.active) n++;
    return n;
  }

  private onQueueState(s: WriteQueueState): void {
    this.metrics.alarmPendingWrites.set(s.pending);
    if (this.wal && s.writtenSeq > this.walCompactedAt) {
      this.walCompactedAt = s.writtenSeq;
      try {
        this.wal.compact(s.writtenSeq, this.queue.pendingEntries());
      } catch (err) {
        this.log.warn('could not compact the alarm write-ahead log (harmless: committed events are skipped at the next start)', { err });
      }
    }
    if (this.spoolClearAt !== undefined && s.writtenSeq >= this.spoolClearAt) {
      this.spoolClearAt = undefined;
      try {
        this.spool?.clear();
      } catch (err) {
        this.log.warn('could not remove the alarm spool file after writing its events (harmless: they are skipped next time)', { err });
      }
    }
    this.trimRecent();
    if (this.statusSubject) this.emitStatus();
  }

  private buildStatus(): AlarmSystemStatus {
    const q = this.queue.state();
    const now = this.clock.now();
    return {
      ready: this.ready,
      storageDegraded: q.degraded || this.walError !== undefined,
      pendingWrites: q.pending,
      seq: this.seq,
      journalledSeq: q.writtenSeq,
      ...(q.lastError ? { lastError: q.lastError } : {}),
      ...(this.walError !== undefined ? { walError: this.walError } : {}),
      floods: this.flood.all(now).filter((f) => f.flood),
    };
  }

  /** Emits on a change of readiness, degradation or the set of flooding sites (not on every pending count). */
  private emitStatus(force = false): void {
    const s = this.buildStatus();
    const prev = this.statusSubject.getValue();
    const sites = s.floods.map((f) => f.siteId).join(',');
    if (force || prev.ready !== s.ready || prev.storageDegraded !== s.storageDegraded || sites !== this.floodSites) {
      this.floodSites = sites;
      this.statusSubject.next(s);
    }
  }

  // ------------------------------------------------------------------------------------------------------------------
  // reads

  private requireReady(): void {
    if (!this.ready) throw new AlarmsNotReadyError();
  }

  private visible(principal: Principal): ReadonlySet<string> {
    return this.scope.visibleSiteIds(principal);
  }

  /** The alarm, or AlarmNotFoundError — also when it lies outside the principal's jurisdiction. */
  private requireVisible(id: string, principal: Principal): AlarmRecord {
    const a = this.alarms.get(id);
    if (!a || !this.visible(principal).has(a.siteId)) throw new AlarmNotFoundError(id);
    return a;
  }

  /** Alarms sorted by priority (critical first), then newest raise first. */
  list(filter: AlarmListFilter, principal: Principal): AlarmView[] {
    this.requireReady();
    const sites = this.visible(principal);
    const out: AlarmRecord[] = [];
    for (const a of this.alarms.values()) {
      if (!sites.has(a.siteId)) continue;
      if (filter.siteId !== undefined && a.siteId !== filter.siteId) continue;
      if (filter.state !== undefined && a.state !== filter.state) continue;
      if (filter.priority !== undefined && a.priority !== filter.priority) continue;
      if (filter.from !== undefined && a.raisedAt < filter.from) continue;
      if (filter.to !== undefined && a.raisedAt >= filter.to) continue;
      out.push(a);
    }
    out.sort((x, y) => PRIORITY_RANK[y.priority] - PRIORITY_RANK[x.priority] || y.raisedAt - x.raisedAt || x.id.localeCompare(y.id));
    const committed = this.queue.committedSeq;
    return out.map((a) => this.view(a, committed));
  }

  get(id: string, principal: Principal): AlarmView {
    this.requireReady();
    return this.view(this.requireVisible(id, principal), this.queue.committedSeq);
  }

  private view(a: AlarmRecord, committedSeq: number): AlarmView {
    return { ...toSnapshot(a), journalled: a.seq <= committedSeq };
  }

  /** Every event up to this seq is committed to the journal table. */
  journalledSeq(): number {
    return this.queue.committedSeq;
  }

  /** Current record (tests, diagnostics). */
  record(id: string): AlarmRecord | undefined {
    return this.alarms.get(id);
  }

  /** Every current record (restart tests). */
  records(): AlarmRecord[] {
    return [...this.alarms.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  currentSeq(): number {
    return this.seq;
  }

  storageDegraded(): boolean {
    return this.queue.state().degraded;
  }

  status(principal?: Principal): AlarmSystemStatus {
    const s = this.buildStatus();
    if (!principal) return s;
    const sites = this.visible(principal);
    return { ...s, floods: s.floods.filter((f) => sites.has(f.siteId)) };
  }

  /** Flood indicator of every visible site that raised alarms in the last 10 minutes. */
  floods(principal: Principal): FloodStatus[] {
    const sites = this.visible(principal);
    return this.flood.all(this.clock.now()).filter((f) => sites.has(f.siteId));
  }

  /**
   * Every alarm event with seq > since that the principal may see, in seq order: committed ones from the journal,
   * the rest (including events held while the database is down) from memory.
   */
  async eventsSince(since: number, principal: Principal): Promise<AlarmEventDto[]> {
    this.requireReady();
    const sites = this.visible(principal);
    const siteIds = [...sites];
    const out: AlarmEventDto[] = [];
    let cursor = Math.max(0, since);
    for (;;) {
      // memory holds every event from `first` on (all uncommitted ones included); before it, the journal has them
      const first = this.recent[0]?.seq ?? this.seq + 1;
      if (cursor >= first - 1) break;
      const page = await this.store.journal({ afterSeq: cursor, siteIds, limit: REPLAY_PAGE });
      for (const e of page) {
        if (e.seq >= first) break;
        const ev: AnnouncedAlarmEvent = { ...toEventDto(e), journalled: true };
        out.push(ev);
      }
      if (out.length > this.opts.maxReplay) throw new ReplayTooLargeError(since, this.opts.maxReplay);
      const last = page[page.length - 1]?.seq;
      // a short page covers every committed row up to `first - 1`; loop again if memory was trimmed meanwhile
      cursor = page.length === REPLAY_PAGE && last !== undefined && last < first ? last : first - 1;
    }
    const committed = this.queue.committedSeq;
    for (const e of this.recent) {
      if (e.seq <= cursor || !sites.has(e.siteId)) continue;
      const ev: AnnouncedAlarmEvent = { ...toEventDto(e), journalled: e.seq <= committed };
      out.push(ev);
    }
    if (out.length > this.opts.maxReplay) throw new ReplayTooLargeError(since, this.opts.maxReplay);
    return out;
  }

  /** Journal rows the principal may see (committed ones), ascending. */
  async journal(filter: JournalFilter, principal: Principal): Promise<AlarmEventDto[]> {
    if (filter.from !== undefined && filter.to !== undefined && filter.to <= filter.from) throw new AlarmQueryError('`to` must be after `from`');
    const rows = await this.store.journal({ ...filter, siteIds: [...this.visible(principal)] });
    return rows.map(toEventDto);
  }

  async alarmJournal(id: string, principal: Principal, limit: number): Promise<AlarmEventDto[]> {
    this.requireReady();
    this.requireVisible(id, principal);
    return this.journal({ alarmId: id, limit }, principal);
  }

  /** Walks the whole chain in seq order and reports the first broken row. */
  async verifyJournal(pageSize = 5_000): Promise<JournalVerification> {
    const v = new ChainVerifier();
    let after = 0;
    for (;;) {
      const page = await this.store.journal({ afterSeq: after, limit: pageSize });
      for (const row of page) {
        const broken = v.push(row);
        if (broken) {
          this.recordVerification(false);
          return { ok: false, rowsChecked: v.rowsChecked, firstBroken: broken };
        }
      }
      if (page.length < pageSize) break;
      after = page[page.length - 1]?.seq ?? after;
    }
    this.recordVerification(true);
    return { ok: true, rowsChecked: v.rowsChecked, lastSeq: v.lastSeq };
  }

  /** The last verification's result for /metrics (hazwatch_journal_verify_ok; alert HazwatchJournalVerifyFailed). */
  private recordVerification(ok: boolean): void {
    this.metrics.journalVerifyOk.set(ok ? 1 : 0);
    this.metrics.journalVerifyTime.set(this.clock.now() / 1000);
  }

  async kpis(from: number, to: number, principal: Principal): Promise<AlarmKpis> {
    this.requireReady();
    if (!(to > from)) throw new AlarmQueryError('`to` must be after `from`');
    const sites = this.visible(principal);
    const raises = await this.store.raises({ from, to, siteIds: [...sites] });
    const current = [...this.alarms.values()].filter((a) => sites.has(a.siteId));
    return computeAlarmKpis({ from, to, raises, current, now: this.clock.now() });
  }

  /**
   * Online rate (在线率) per visible site per local day, from the journal's device link alarms (offline / stale):
   * docs/alarm-lifecycle.md, "Online rate".
   */
  async onlineRate(from: number, to: number, principal: Principal): Promise<OnlineDay[]> {
    this.requireReady();
    if (!(to > from)) throw new AlarmQueryError('`to` must be after `from`');
    const sites = this.visible(principal);
    const siteIds = [...sites];
    const events: LinkEvent[] = [];
    let afterSeq: number | undefined;
    for (;;) {
      const page = await this.store.journal({ from, to, siteIds, limit: REPLAY_PAGE, ...(afterSeq !== undefined ? { afterSeq } : {}) });
      for (const e of page) {
        const snap = e.snapshot;
        if (snap.deviceId === undefined || !isLinkCondition(snap)) continue;
        const at = e.event === 'raised' ? Date.parse(snap.raisedAt) : e.event === 'cleared' && snap.clearedAt !== undefined ? Date.parse(snap.clearedAt) : e.at;
        events.push({ alarmId: e.alarmId, siteId: e.siteId, deviceId: snap.deviceId, event: e.event, active: snap.active, at });
      }
      if (page.length < REPLAY_PAGE) break;
      afterSeq = page[page.length - 1]?.seq;
    }
    const open: OpenLinkAlarm[] = [];
    for (const a of this.alarms.values()) {
      if (!sites.has(a.siteId) || a.deviceId === undefined || !isLinkCondition(a) || a.raisedAt >= from) continue;
      const stillLostAtTo = a.active ? true : a.clearedAt !== undefined && a.clearedAt >= to;
      if (stillLostAtTo) open.push({ alarmId: a.id, siteId: a.siteId, deviceId: a.deviceId, since: a.raisedAt });
    }
    const devices = new Map([...this.devicesBySite].filter(([siteId]) => sites.has(siteId)));
    return onlineRates({ from, to, devices, events, open });
  }

  // ------------------------------------------------------------------------------------------------------------------
  // operator actions

  private async act(id: string, principal: Principal, capability: Capability, build: (at: number, actor: Actor) => AlarmCommand, comment: string | null): Promise<AlarmSnapshot> {
    this.requireReady();
    const alarm = this.requireVisible(id, principal);
    if (!can(principal, capability)) throw new AlarmForbiddenError(principal.role, capability);
    const actor: Actor = { name: principal.name, role: principal.role, tokenId: principal.tokenId };
    const r = this.apply(alarm, build(this.clock.now(), actor), actor, comment);
    if (!r.ok) throw r.error;
    await this.queue.whenWritten(r.alarm.seq, this.opts.actionCommitWaitMs);
    return toSnapshot(this.alarms.get(id) ?? r.alarm);
  }

  /**
   * Journals a record about an alarm that changes none of its state (event `note`, same seq, hash chain and events$ as
   * every alarm event): used by other modules for the disposal closed loop (issue 7). The caller names the capability
   * that allows the record; the alarm must lie in the principal's jurisdiction. Resolves with the journalled event once
   * it is written (or after `actionCommitWaitMs`, when it stays queued like any event while the database is down).
   */
  async note(id: string, principal: Principal, capability: Capability, text: string): Promise<AlarmEventDto> {
    this.requireReady();
    const alarm = this.requireVisible(id, principal);
    if (!can(principal, capability)) throw new AlarmForbiddenError(principal.role, capability);
    if (text.trim() === '') throw new AlarmQueryError('a note needs text');
    const actor: Actor = { name: principal.name, role: principal.role, tokenId: principal.tokenId };
    const { alarm: next, entry } = this.commit(alarm, 'note', alarm.state, actor, text);
    await this.queue.whenWritten(next.seq, this.opts.actionCommitWaitMs);
    return toEventDto(entry);
  }

  ack(id: string, principal: Principal, comment?: string): Promise<AlarmSnapshot> {
    return this.act(id, principal, ACTION_CAPABILITY.ack, (at, actor) => ({ kind: 'ack', at, actor, ...(comment ? { comment } : {}) }), comment ?? null);
  }

  shelve(id: string, principal: Principal, minutes: number, reason: string): Promise<AlarmSnapshot> {
    return this.act(id, principal, ACTION_CAPABILITY.shelve, (at, actor) => ({ kind: 'shelve', at, actor, minutes, reason }), `${reason} (${minutes} min)`);
  }

  unshelve(id: string, principal: Principal, comment?: string): Promise<AlarmSnapshot> {
    return this.act(id, principal, ACTION_CAPABILITY.unshelve, (at, actor) => ({ kind: 'unshelve', at, actor, ...(comment ? { comment } : {}) }), comment ?? null);
  }

  setOutOfService(id: string, principal: Principal, reason: string): Promise<AlarmSnapshot> {
    return this.act(id, principal, ACTION_CAPABILITY.oos_set, (at, actor) => ({ kind: 'oos_set', at, actor, reason }), reason);
  }

  returnToService(id: string, principal: Principal, comment?: string): Promise<AlarmSnapshot> {
    return this.act(id, principal, ACTION_CAPABILITY.oos_clear, (at, actor) => ({ kind: 'oos_clear', at, actor, ...(comment ? { comment } : {}) }), comment ?? null);
  }

  reset(id: string, principal: Principal, comment?: string): Promise<AlarmSnapshot> {
    return this.act(id, principal, ACTION_CAPABILITY.reset, (at, actor) => ({ kind: 'reset', at, actor, ...(comment ? { comment } : {}) }), comment ?? null);
  }

  /** Puts an area into (or out of) maintenance: design suppression rules with whileAreaInMaintenance follow. */
  setAreaMaintenance(siteId: string, area: string, on: boolean): void {
    const key = `${siteId}/${area}`;
    if (on) this.maintenance.add(key);
    else this.maintenance.delete(key);
    if (this.ready) this.resyncSuppression(siteId);
  }
}
