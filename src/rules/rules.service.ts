import { Inject, Injectable, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { asyncScheduler, Observable, Subject, type SchedulerLike, type Subscription } from 'rxjs';
import { CLOCK, type Clock } from '../common/clock';
import { ConfigError } from '../common/errors';
import { JsonLogger } from '../common/logger';
import { firstReading, type ClockChange, type ReadingInput } from '../common/types';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { IngestService } from '../ingest/ingest.service';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import type { ConditionChange } from './domain/condition';
import { ConditionStore } from './domain/condition-store';
import { buildEngine, type EngineInputs } from './domain/engine';
import type { HazardStatus } from './domain/hazard-grading';
import type { DeviceStateEvent } from './domain/offline.rule';
import type { CompiledRules } from './domain/rule-spec';
import { describeWind, WeatherBook } from './domain/weather-book';
import { RulesFileWatcher } from './rules-file.watcher';
import { loadRules, rulesFilePath } from './rules.loader';

/** RxJS scheduler for rule timers (tests inject a TestScheduler or a virtual one). */
export const RULES_SCHEDULER = Symbol('RULES_SCHEDULER');
/** `false` switches off the rules.yaml file watcher (tests that call `reload()` themselves). */
export const RULES_WATCH = Symbol('RULES_WATCH');

/**
 * Wires the pure rule engine to ingest's streams: loads and compiles the rules (fail fast at start), publishes
 * condition changes (`conditions$`, consumed by the alarm module; logged and counted here) and live hazard grading
 * (`hazard$` on a grade change or an S ≥ 1 crossing, `hazardSnapshot()` for the API), and hot-reloads rules.yaml.
 */
@Injectable()
export class RulesService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new JsonLogger('rules');
  private readonly store = new ConditionStore();
  private readonly changes = new Subject<ConditionChange>();
  private readonly hazards = new Subject<HazardStatus>();
  private readonly hazardBySource = new Map<string, HazardStatus>();
  /** Latest wind per site (weather stations), attached to the conditions raised there. */
  private readonly weather = new WeatherBook();
  private readonly scheduler: SchedulerLike;
  private rules?: CompiledRules;
  private inputs?: EngineInputs;
  private engineSub?: Subscription;
  private disposeEngine?: () => void;
  private watcher?: RulesFileWatcher;
  /** receivedAt of the reading being dispatched right now (NaN outside a dispatch): measures condition latency. */
  private dispatching = NaN;

  /** Every condition change (raise, clear, priority change). Hot; never completes while the app runs. */
  readonly conditions$: Observable<ConditionChange> = this.changes.asObservable();
  /** A hazard source whose live grade (or S ≥ 1 identification) changed. */
  readonly hazard$: Observable<HazardStatus> = this.hazards.asObservable();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly metrics: HazwatchMetrics,
    @Optional() @Inject(RULES_SCHEDULER) scheduler?: SchedulerLike,
    @Optional() @Inject(RULES_WATCH) private readonly watchFile?: boolean,
    @Optional() private readonly ingest?: IngestService,
  ) {
    this.scheduler = scheduler ?? asyncScheduler;
    for (const result of ['ok', 'invalid']) this.metrics.ruleReloads.inc({ result }, 0);
  }

  onModuleInit(): void {
    const loaded = loadRules(this.config.configDir, this.config.plant); // a ConfigError stops start-up
    this.rules = loaded.rules;
    this.log.info('rules loaded', {
      file: loaded.fromFile ? loaded.file : '(defaults only: no rules.yaml)',
      rules: loaded.rules.ruleCount,
      votes: loaded.rules.votes.length,
      interlocks: loaded.rules.interlocks.length,
      composites: loaded.rules.composites.length,
    });
    if (this.ingest) this.start(this.ingest.messages$, this.ingest.deviceState$, this.ingest.clock$);
    if (this.watchFile !== false) {
      this.watcher = new RulesFileWatcher(rulesFilePath(this.config.configDir), () => this.reload());
      this.watcher.start();
    }
  }

  onModuleDestroy(): void {
    this.watcher?.stop();
    this.stopEngine();
  }

  private stopEngine(): void {
    this.disposeEngine?.();
    this.disposeEngine = undefined;
    this.engineSub?.unsubscribe();
    this.engineSub = undefined;
  }

  /** Connects the engine to the reading and device-state streams (done by onModuleInit when ingest is present). */
  start(
    telemetry$: Observable<ReadingInput>,
    deviceState$: Observable<DeviceStateEvent>,
    clock$?: Observable<ClockChange>,
  ): void {
    if (!this.rules) throw new Error('RulesService.start before onModuleInit');
    this.inputs = { telemetry$: this.measured(telemetry$), deviceState$, ...(clock$ ? { clock$ } : {}) };
    this.swapEngine(this.rules);
  }

  /** Re-reads rules.yaml; an invalid file is logged with its reason and the running rules stay. Returns success. */
  reload(): boolean {
    let next: CompiledRules;
    try {
      next = loadRules(this.config.configDir, this.config.plant).rules;
    } catch (err) {
      this.metrics.ruleReloads.inc({ result: 'invalid' });
      const message =
        err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err);
      this.log.error('rules reload rejected; the previous rules keep running', { reason: message });
      return false;
    }
    this.rules = next;
    for (const c of this.store.clearOrphans(next.producible, this.clock.now())) this.publish(c);
    if (this.inputs) this.swapEngine(next);
    this.metrics.ruleReloads.inc({ result: 'ok' });
    this.log.info('rules reloaded', { rules: next.ruleCount, activeConditions: this.store.size });
    return true;
  }

  /** Live grading of every hazard source (design inventory until a tank level is known). */
  hazardSnapshot(): HazardStatus[] {
    return [...this.hazardBySource.values()];
  }

  /** Conditions active right now. */
  activeConditions(): ConditionChange[] {
    return this.store.active();
  }

  /**
   * Seeds conditions that were active before a restart (the alarm service's persisted active alarms, docs/alarm-lifecycle.md), so
   * their rules resume from that state and emit a clear when the condition ends — otherwise such an alarm would stay
   * active forever. Running rule instances restart from the seeded store; seeded conditions that no current rule can
   * produce are cleared at once. (Added by the alarms helper.)
   */
  seedActive(active: readonly ConditionChange[]): void {
    let seeded = 0;
    for (const c of active) if (c.active && this.store.apply(c)) seeded++;
    if (seeded === 0) return;
    if (this.rules) {
      for (const c of this.store.clearOrphans(this.rules.producible, this.clock.now())) this.publish(c);
      if (this.inputs) this.swapEngine(this.rules);
    }
    this.log.info('rule conditions seeded from persisted alarms', {
      seeded,
      activeConditions: this.store.size,
    });
  }

  /**
   * Cluster node taking a site over (docs/adr/0025-cluster-alarm-state.md): the site's conditions become what `changes`
   * leave, in order (its alarms active in the journal, then the changes this node produced while they loaded), and
   * the rule instances restart from that state, so a condition the previous owner raised clears here when it ends and
   * is not raised twice. The restart also restarts running on/off-delays of the other sites' rules (a pending raise or
   * clear comes at most one delay later, never earlier).
   */
  seedSite(siteId: string, changes: readonly ConditionChange[]): void {
    this.store.forgetSite(siteId);
    for (const c of changes) if (c.siteId === siteId) this.store.apply(c);
    const seeded = this.store.active().filter((c) => c.siteId === siteId).length;
    if (this.rules) {
      for (const c of this.store.clearOrphans(this.rules.producible, this.clock.now()))
        if (c.siteId === siteId) this.publish(c);
      if (this.inputs) this.swapEngine(this.rules);
    }
    this.log.info('rule conditions of a site taken over', { siteId, seeded });
  }

  /**
   * Cluster node giving a site up: its conditions are forgotten (nothing published; the next owner seeds them from the
   * journal). Its rule instances keep running on no input until the site is taken again, which reseeds them.
   */
  forgetSite(siteId: string): void {
    const n = this.store.forgetSite(siteId);
    if (n > 0) this.log.info('rule conditions of a site given up forgotten', { siteId, conditions: n });
  }

  private swapEngine(rules: CompiledRules): void {
    const inputs = this.inputs;
    if (!inputs) return;
    this.stopEngine();
    const engine = buildEngine(rules, inputs, {
      scheduler: this.scheduler,
      store: this.store,
      futureToleranceMs: this.config.env.INGEST_FUTURE_TOLERANCE_S * 1000,
      hooks: {
        onRuleError: (kind, ruleId, err) => {
          this.metrics.ruleErrors.inc({ kind });
          this.log.error('rule failed; restarted from its last state', { kind, ruleId, err });
        },
        onLate: (r, lagMs) => {
          this.metrics.ruleLateReadings.inc();
          this.log.debug('reading beyond the lateness tolerance not evaluated', {
            siteId: r.siteId,
            deviceId: r.deviceId,
            channel: r.channel,
            ts: r.ts,
            lagMs,
          });
        },
      },
    });
    const now = this.clock.now();
    for (const h of engine.initialHazard(now))
      if (!this.hazardBySource.has(h.sourceId)) this.hazardBySource.set(h.sourceId, h);
    const sub = engine.conditions$.subscribe({
      next: (c) => this.publish(c),
      error: (err: unknown) => this.engineFailed(err),
    });
    sub.add(engine.weather$.subscribe((r) => this.weather.update(r)));
    sub.add(
      engine.hazard$.subscribe({
        next: (h) => this.updateHazard(h),
        error: (err: unknown) => this.engineFailed(err),
      }),
    );
    this.engineSub = sub;
    this.disposeEngine = () => engine.dispose();
  }

  private engineFailed(err: unknown): void {
    this.metrics.ruleErrors.inc({ kind: 'engine' });
    this.log.error('rule engine stream failed; restarting it in 1 s', { err });
    this.scheduler.schedule(() => {
      if (this.rules) this.swapEngine(this.rules);
    }, 1000);
  }

  private publish(raw: ConditionChange): void {
    const w = raw.active ? this.weather.at(raw.siteId, this.clock.now()) : undefined;
    const c: ConditionChange = w
      ? { ...raw, weather: w, message: `${raw.message} · ${describeWind(w)}` }
      : raw;
    this.metrics.ruleConditions.inc({ active: String(c.active), priority: c.priority });
    if (this.dispatching === this.dispatching)
      this.metrics.ruleConditionLatency.observe(Math.max(0, this.clock.now() - this.dispatching) / 1000);
    this.log.info(c.active ? 'condition raised' : 'condition cleared', {
      ruleId: c.ruleId,
      siteId: c.siteId,
      sourceId: c.sourceId,
      deviceId: c.deviceId,
      condition: c.condition,
      priority: c.priority,
      value: c.value,
      limit: c.limit,
      ts: c.ts,
      message: c.message,
      ...(c.weather ? { weather: c.weather } : {}),
    });
    this.changes.next(c);
  }

  private updateHazard(h: HazardStatus): void {
    const prev = this.hazardBySource.get(h.sourceId);
    this.hazardBySource.set(h.sourceId, h);
    const crossed = prev !== undefined && prev.S >= 1 !== h.S >= 1;
    const uncertainChanged = prev !== undefined && prev.uncertain !== h.uncertain;
    if (uncertainChanged)
      this.log.warn(
        h.uncertain ? 'hazard grading uncertain: tank level stale or bad' : 'hazard grading certain again',
        {
          sourceId: h.sourceId,
          uncertainTanks: h.uncertainTanks,
          R: h.R,
        },
      );
    if (prev && prev.grade === h.grade && !crossed && !uncertainChanged) return;
    if (crossed)
      this.log.info(
        h.S >= 1 ? 'hazard source identified: S ≥ 1' : 'hazard source below identification: S < 1',
        { sourceId: h.sourceId, S: h.S },
      );
    this.log.info('hazard grade changed', {
      sourceId: h.sourceId,
      from: prev?.grade,
      to: h.grade,
      R: h.R,
      filedGrade: h.filedGrade,
    });
    this.hazards.next(h);
  }

  /** Marks the dispatch window of each reading (synchronous), so conditions it raises get a latency. */
  private measured(telemetry$: Observable<ReadingInput>): Observable<ReadingInput> {
    return new Observable<ReadingInput>((subscriber) =>
      telemetry$.subscribe({
        next: (x) => {
          this.dispatching = firstReading(x).receivedAt;
          try {
            subscriber.next(x);
          } finally {
            this.dispatching = NaN;
          }
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      }),
    );
  }
}
