import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Observable, Subscription } from 'rxjs';
import type { Capability } from '../auth/domain/capability.policy';
import type { Principal } from '../auth/principal';
import { ScopeService } from '../auth/scope.service';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { systemScheduler, type Scheduler, type TimerHandle } from '../common/timer.port';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { ALARM_EVENT_LOG, type AlarmEventLog } from './alarm-event.log';
import { ALARM_PENDING_SPOOL, type PendingSpool } from './alarm-pending.spool';
import { ALARM_SETTINGS } from './alarm-settings.loader';
import { ALARM_STORE, type AlarmStore } from './alarm.store';
import { AlarmActionNotJournalledError } from './alarm.errors';
import { ALARM_CLUSTER, type AlarmClusterPort } from './cluster/alarm-cluster.port';
import { ClusterJournalStore } from './cluster/cluster-journal.store';
import { ClusterSites } from './cluster/cluster-sites';
import { AlarmCommands } from './core/alarm-commands';
import { AlarmConditionIntake } from './core/alarm-intake';
import { AlarmJournalWriter } from './core/alarm-journal.writer';
import { AlarmAccess, AlarmQueries } from './core/alarm-queries';
import { AlarmRecovery } from './core/alarm-recovery';
import { AlarmRegistry } from './core/alarm-registry';
import {
  ALARM_CONDITION_SEED,
  ALARM_CONDITIONS,
  ALARM_SCHEDULER,
  ALARM_SERVICE_OPTIONS,
  DEFAULT_ALARM_SERVICE_OPTIONS,
  type AlarmListFilter,
  type AlarmServiceOptions,
  type AlarmSystemStatus,
  type AlarmView,
  type ConditionSeed,
  type JournalFilter,
  type JournalVerification,
} from './core/alarm-service.types';
import { AlarmStatusTracker } from './core/alarm-status';
import type { AlarmKpis } from './domain/alarm-kpi';
import type { AlarmSettings } from './domain/alarm-settings';
import type { AlarmEventDto, AlarmRecord, AlarmSnapshot } from './domain/alarm.types';
import type { ConditionChange } from './domain/condition-change';
import { FloodTracker, type FloodStatus } from './domain/flood.tracker';
import type { OnlineDay } from './domain/online-rate';

export * from './core/alarm-service.types';
export { toEventDto } from './domain/journal-chain';

/**
 * The alarm module's public face (docs/architecture.md, "Inside the alarm module"): other modules, controllers and
 * tests use only this class. It owns the lifecycle (start, recovery, timer, stop) and delegates the rest:
 *
 * - `AlarmJournalWriter` — the single write path and its ordering invariant (seq, hash chain, write-ahead log before
 *   the journal queue before `events$`);
 * - `AlarmRecovery` — rebuild at start from the journal, the legacy spool and the write-ahead log;
 * - `AlarmConditionIntake` — condition changes, site link supervision, design suppression, timer work;
 * - `AlarmQueries` / `AlarmCommands` — scoped reads and operator commands.
 *
 * Everything that changes state runs synchronously on the event loop (condition, operator action, timer tick), so the
 * order of seq, hash chain, write queue and events$ is one and the same.
 */
@Injectable()
export class AlarmService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new JsonLogger('alarms');
  private ready = false;
  private closed = false;
  private stopping = false;
  private subscription: Subscription | undefined;
  private tickTimer: TimerHandle | undefined;
  private readyResolve!: () => void;
  private readonly readyPromise = new Promise<void>((r) => (this.readyResolve = r));
  private readonly opts: AlarmServiceOptions;
  private readonly scheduler: Scheduler;
  private readonly registry: AlarmRegistry;
  private readonly writer: AlarmJournalWriter;
  private readonly statusTracker: AlarmStatusTracker;
  private readonly recovery: AlarmRecovery;
  private readonly intake: AlarmConditionIntake;
  private readonly queries: AlarmQueries;
  private readonly commands: AlarmCommands;
  /** Cluster node: the sites whose alarms run here (docs/adr/0025-cluster-alarm-state.md); undefined on a single node. */
  private readonly clusterSites: ClusterSites | undefined;
  private readonly nodeId: string | undefined;
  private readonly wal: AlarmEventLog | undefined;

  /** Every alarm event, live, in seq order (hot; completes on shutdown). */
  readonly events$: Observable<AlarmEventDto>;
  /** Readiness, storage degradation and floods; emits on change. */
  readonly status$: Observable<AlarmSystemStatus>;

  constructor(
    @Inject(ALARM_STORE) store: AlarmStore,
    @Inject(CLOCK) clock: Clock,
    @Inject(ALARM_CONDITIONS) private readonly conditions$: Observable<ConditionChange>,
    @Inject(ALARM_SETTINGS) settings: AlarmSettings,
    @Inject(APP_CONFIG) config: AppConfig,
    scope: ScopeService,
    metrics: HazwatchMetrics,
    @Optional() @Inject(ALARM_SCHEDULER) scheduler?: Scheduler,
    @Optional() @Inject(ALARM_SERVICE_OPTIONS) options?: Partial<AlarmServiceOptions>,
    @Optional() @Inject(ALARM_PENDING_SPOOL) spool?: PendingSpool,
    @Optional() @Inject(ALARM_CONDITION_SEED) seedConditions?: ConditionSeed,
    @Optional() @Inject(ALARM_EVENT_LOG) walFile?: AlarmEventLog,
    @Optional() @Inject(ALARM_CLUSTER) cluster?: AlarmClusterPort | null,
  ) {
    this.opts = { ...DEFAULT_ALARM_SERVICE_OPTIONS, ...options };
    const clustered = cluster?.ownership.clustered === true ? cluster : undefined;
    this.nodeId = clustered?.ownership.nodeId;
    this.wal = walFile;
    // A cluster node announces only what the fenced site journal committed: no write-ahead log, no spool (ADR 0025).
    const wal = clustered ? undefined : walFile;
    if (clustered) spool = undefined;
    let sites: ClusterSites | undefined;
    this.scheduler = scheduler ?? systemScheduler;
    const isReady = (): boolean => this.ready;
    const statusChanged = (): void => this.statusTracker?.emit();
    const flood = new FloodTracker();
    this.registry = new AlarmRegistry(metrics);
    const writeStore: AlarmStore = clustered
      ? clusterWriteStore(
          store,
          new ClusterJournalStore(clustered.siteJournal, {
            tokenFor: (siteId) => clustered.ownership.tokenFor(siteId),
            journalled: (_siteId, rows) => {
              for (const r of rows) this.writer.announceJournalled(r.row, r.origin.seq);
            },
            refused: (siteId, writes, reason, err) => sites?.refused(siteId, writes, reason, err),
          }),
        )
      : store;
    this.writer = new AlarmJournalWriter({
      store: writeStore,
      ...(clustered ? { announce: 'journalled' as const } : {}),
      registry: this.registry,
      clock,
      scheduler: this.scheduler,
      metrics,
      log: this.log,
      ...(wal ? { wal } : {}),
      ...(spool ? { spool } : {}),
      recentEvents: this.opts.recentEvents,
      writeQueue: this.opts.writeQueue,
      onRaised: (siteId, at) => {
        if (flood.record(siteId, at)) statusChanged();
      },
      onStatusChange: statusChanged,
    });
    this.statusTracker = new AlarmStatusTracker(clock, flood, this.writer, isReady);
    this.intake = new AlarmConditionIntake({
      registry: this.registry,
      writer: this.writer,
      settings,
      config,
      clock,
      flood,
      log: this.log,
      isReady,
      isClosed: () => this.closed,
      statusChanged,
      ...(clustered ? { accepts: (siteId: string) => sites?.accepts(siteId) === true } : {}),
    });
    this.recovery = new AlarmRecovery({
      store,
      registry: this.registry,
      writer: this.writer,
      settings,
      clock,
      scheduler: this.scheduler,
      flood,
      log: this.log,
      ...(wal ? { wal } : {}),
      ...(spool ? { spool } : {}),
      ...(seedConditions ? { seedConditions } : {}),
      closed: () => this.closed,
      buffered: () => this.intake.buffered,
    });
    const access = new AlarmAccess(this.registry, scope, isReady);
    this.queries = new AlarmQueries({
      registry: this.registry,
      writer: this.writer,
      store,
      access,
      status: this.statusTracker,
      flood,
      clock,
      config,
      maxReplay: this.opts.maxReplay,
      recordVerification: (ok) => {
        metrics.journalVerifyOk.set(ok ? 1 : 0);
        metrics.journalVerifyTime.set(clock.now() / 1000);
      },
    });
    if (clustered)
      sites = new ClusterSites({
        ownership: clustered.ownership,
        registry: this.registry,
        writer: this.writer,
        intake: this.intake,
        settings,
        flood,
        clock,
        scheduler: this.scheduler,
        log: this.log,
        metrics,
        loadSite: (siteId) => clustered.loadSite(siteId),
        raises: (siteId, from, to) => store.raises({ from, to, siteIds: [siteId] }),
        ...(clustered.rules ? { rules: clustered.rules } : {}),
        releaseWaitMs: this.opts.siteReleaseWaitMs,
        isClosed: () => this.closed,
        statusChanged,
      });
    this.clusterSites = sites;
    this.commands = new AlarmCommands({
      registry: this.registry,
      writer: this.writer,
      access,
      clock,
      actionCommitWaitMs: this.opts.actionCommitWaitMs,
      ...(sites
        ? {
            confirm: (alarmId: string, seq: number, written: boolean) => {
              const refused = sites.wasRefused(seq);
              if (refused || !written) throw new AlarmActionNotJournalledError(alarmId, refused);
            },
          }
        : {}),
    });
    this.events$ = this.writer.events$;
    this.status$ = this.statusTracker.status$;
  }

  // ------------------------------------------------------------------------------------------------------------------
  // lifecycle

  onModuleInit(): void {
    this.start();
  }

  /** Subscribes to conditions at once (buffering them) and loads the persisted state in the background. */
  start(): void {
    if (this.subscription) return;
    const sites = this.clusterSites;
    this.subscription = this.conditions$.subscribe({
      next: sites ? (c) => sites.onCondition(c) : (c) => this.intake.onCondition(c),
      error: (err: unknown) =>
        this.log.error('condition stream failed; no further conditions will reach the alarm service', {
          err,
        }),
    });
    if (sites) this.startClustered(sites);
    else void this.load();
  }

  /**
   * Cluster node (docs/adr/0025-cluster-alarm-state.md): nothing is loaded for all sites. The writer's chain is local
   * to this process (its seqs never reach clients; the journal gives each event its global seq and site chain), and
   * each site's alarms are restored when the node takes the site and dropped when it gives it up.
   */
  private startClustered(sites: ClusterSites): void {
    this.warnAboutSingleNodeWal();
    const genesis = createHash('sha256')
      .update(`hazwatch-node-chain|${this.nodeId ?? ''}|${randomUUID()}`)
      .digest('hex');
    this.writer.startAt(0, genesis);
    this.ready = true;
    this.log.info('cluster node: alarms follow site ownership', { node: this.nodeId });
    sites.start();
    this.scheduleTick();
    this.statusTracker.emit(true);
    this.readyResolve();
  }

  /** A write-ahead log left by this data directory's single-node past is not replayed by a cluster node: say so. */
  private warnAboutSingleNodeWal(): void {
    try {
      const left = this.wal?.load() ?? [];
      if (left.length > 0)
        this.log.error(
          'the alarm write-ahead log holds events of a single-node run that are not in the journal; a cluster node does not replay it: start this data directory once without HAZWATCH_NODE_ID to journal them',
          { events: left.length, file: this.wal?.location, fromSeq: left[0]?.entry.seq },
        );
    } catch (err) {
      this.log.error('the alarm write-ahead log could not be read (left as it is)', { err });
    }
  }

  /** Cluster node: sites whose alarms run here now (undefined on a single node). */
  clusterOwnedSites(): string[] | undefined {
    return this.clusterSites?.ownedSites();
  }

  /** Cluster node: resolves once pending site take-overs and releases have run (tests). */
  async clusterSettled(): Promise<void> {
    await this.clusterSites?.settled();
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
    if (this.closed || this.stopping) return;
    this.stopping = true;
    // cluster node: take-overs still loading finish first (their conditions come from readings already acknowledged)
    if (this.clusterSites) await this.clusterSites.stop(Math.min(this.opts.shutdownDrainMs, 2_000));
    this.closed = true;
    this.subscription?.unsubscribe();
    this.tickTimer?.cancel();
    if (this.intake.buffered > 0)
      this.log.error(
        'alarm service stopped before its state was loaded; buffered conditions were not applied',
        { buffered: this.intake.buffered },
      );
    await this.writer.close(this.opts.shutdownDrainMs);
    this.statusTracker.complete();
  }

  private async load(): Promise<void> {
    if (!(await this.recovery.recover())) return;
    this.ready = true;
    this.log.info('alarm state rebuilt', {
      alarms: this.registry.size,
      seq: this.writer.seq,
      active: this.registry.countActive(),
    });
    this.recovery.seedRules();
    this.intake.afterRecovery();
    this.scheduleTick();
    this.statusTracker.emit(true);
    this.readyResolve();
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
    this.intake.tick();
  }

  /** Device link raises held for their site's verdict (diagnostics, tests). */
  siteLinkHeld(siteId?: string): number {
    return this.intake.siteLinkHeld(siteId);
  }

  /** Puts an area into (or out of) maintenance: design suppression rules with whileAreaInMaintenance follow. */
  setAreaMaintenance(siteId: string, area: string, on: boolean): void {
    this.intake.setAreaMaintenance(siteId, area, on);
  }

  // ------------------------------------------------------------------------------------------------------------------
  // reads (AlarmQueries)

  /** Alarms sorted by priority (critical first), then newest raise first. */
  list(filter: AlarmListFilter, principal: Principal): AlarmView[] {
    return this.queries.list(filter, principal);
  }

  get(id: string, principal: Principal): AlarmView {
    return this.queries.get(id, principal);
  }

  /** Every event up to this seq is committed to the journal table. */
  journalledSeq(): number {
    return this.writer.committedSeq;
  }

  /** Current record (tests, diagnostics). */
  record(id: string): AlarmRecord | undefined {
    return this.registry.get(id);
  }

  /** Every current record (restart tests). */
  records(): AlarmRecord[] {
    return [...this.registry.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  currentSeq(): number {
    return this.writer.seq;
  }

  storageDegraded(): boolean {
    return this.writer.queueState().degraded;
  }

  status(principal?: Principal): AlarmSystemStatus {
    return this.queries.status(principal);
  }

  /** Flood indicator of every visible site that raised alarms in the last 10 minutes. */
  floods(principal: Principal): FloodStatus[] {
    return this.queries.floods(principal);
  }

  /** Every alarm event with seq > since that the principal may see, in seq order (journal, then memory). */
  eventsSince(since: number, principal: Principal): Promise<AlarmEventDto[]> {
    return this.queries.eventsSince(since, principal);
  }

  /** Journal rows the principal may see (committed ones), ascending. */
  journal(filter: JournalFilter, principal: Principal): Promise<AlarmEventDto[]> {
    return this.queries.journal(filter, principal);
  }

  alarmJournal(id: string, principal: Principal, limit: number): Promise<AlarmEventDto[]> {
    return this.queries.alarmJournal(id, principal, limit);
  }

  /** Walks the whole chain in seq order and reports the first broken row. */
  verifyJournal(pageSize = 5_000): Promise<JournalVerification> {
    return this.queries.verifyJournal(pageSize);
  }

  kpis(from: number, to: number, principal: Principal): Promise<AlarmKpis> {
    return this.queries.kpis(from, to, principal);
  }

  /** Online rate (在线率) per visible site per local day: docs/alarm-lifecycle.md, "Online rate". */
  onlineRate(from: number, to: number, principal: Principal): Promise<OnlineDay[]> {
    return this.queries.onlineRate(from, to, principal);
  }

  // ------------------------------------------------------------------------------------------------------------------
  // operator commands (AlarmCommands)

  /** Journals a record about an alarm that changes none of its state (event `note`); see `AlarmCommands.note`. */
  note(id: string, principal: Principal, capability: Capability, text: string): Promise<AlarmEventDto> {
    return this.commands.note(id, principal, capability, text);
  }

  ack(id: string, principal: Principal, comment?: string): Promise<AlarmSnapshot> {
    return this.commands.ack(id, principal, comment);
  }

  shelve(id: string, principal: Principal, minutes: number, reason: string): Promise<AlarmSnapshot> {
    return this.commands.shelve(id, principal, minutes, reason);
  }

  unshelve(id: string, principal: Principal, comment?: string): Promise<AlarmSnapshot> {
    return this.commands.unshelve(id, principal, comment);
  }

  setOutOfService(id: string, principal: Principal, reason: string): Promise<AlarmSnapshot> {
    return this.commands.setOutOfService(id, principal, reason);
  }

  returnToService(id: string, principal: Principal, comment?: string): Promise<AlarmSnapshot> {
    return this.commands.returnToService(id, principal, comment);
  }

  reset(id: string, principal: Principal, comment?: string): Promise<AlarmSnapshot> {
    return this.commands.reset(id, principal, comment);
  }
}

/** The write queue's store on a cluster node: persist goes through the fenced site journal, reads stay as they are. */
function clusterWriteStore(store: AlarmStore, cluster: ClusterJournalStore): AlarmStore {
  return {
    loadState: () => store.loadState(),
    persist: (batch) => cluster.persist(batch),
    journal: (q) => store.journal(q),
    raises: (q) => store.raises(q),
  };
}
