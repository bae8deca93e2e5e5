/**
 * The rule engine as one RxJS graph (pure: no I/O, time from the injected scheduler and the readings' event time).
 *
 *   telemetry$ ─┬─ groupBy(device, idle) ─┬─ device rules (quality, valve)
 *               │                         └─ groupBy(channel, idle) → lateness gate → channel rules (limit, range,
 *               │                             fault flag, rate of change, overfill, safety system)
 *               ├─ stale (one fleet machine, arrival time)
 *               └─ cross readings (valve positions, composite channels, tank levels) ─┐
 *   deviceState$ ─ groupBy(device) → offline                                          │
 *   stage 1 conditions ─→ votes ─→ interlocks (+ valve positions) ─→ composites (+ channels) ─→ hazard grading
 *
 * Every rule runs in its own `runMachine`: an exception in one rule is reported and that rule restarts from the
 * condition store; the stream goes on. The output passes the condition store, so only real changes leave.
 */
import { debounceTime, EMPTY, filter, groupBy, ignoreElements, merge, mergeMap, share, Subject, takeUntil, type Observable, type SchedulerLike } from 'rxjs';
import type { Reading } from '../../common/types';
import { type ConditionChange, type SeedLookup } from './condition';
import type { ConditionStore } from './condition-store';
import { createCompositeMachine } from './composite.rule';
import { createFlagMachine } from './flag.rule';
import { hazardGrading, computeHazard, type HazardStatus } from './hazard-grading';
import { createInterlockMachine } from './interlock.rule';
import { dropLate } from './late-readings.operator';
import { createLimitMachine } from './limit.rule';
import { createOfflineMachine, type DeviceStateEvent } from './offline.rule';
import { createOverfillMachine } from './overfill.rule';
import { createQualityMachine } from './quality.rule';
import { createRangeMachine } from './range.rule';
import { createRocMachine } from './rate-of-change.rule';
import { runMachine, type RuleMachine } from './rule-machine';
import type { ChannelRule, CompiledRules, DeviceRule, DeviceRules, StaleRule } from './rule-spec';
import { createSafetySystemMachine } from './safety-system.rule';
import { createStaleMachine } from './stale.rule';
import { createValveMachine } from './valve.rule';
import { createVoteMachine } from './vote.rule';

export type EngineInputs = { readonly telemetry$: Observable<Reading>; readonly deviceState$: Observable<DeviceStateEvent> };

export type EngineHooks = {
  /** A rule threw; it was restarted. */
  onRuleError(kind: string, ruleId: string, err: unknown): void;
  /** A reading older than the lateness tolerance was not evaluated. */
  onLate(r: Reading, lagMs: number): void;
};

export type EngineOptions = { readonly scheduler: SchedulerLike; readonly store: ConditionStore; readonly hooks: EngineHooks };

export type Engine = {
  /** Condition changes (de-duplicated through the store). Cold until subscribed; subscribe once. */
  readonly conditions$: Observable<ConditionChange>;
  /** Recomputed hazard status of a source after each accepted tank level reading. */
  readonly hazard$: Observable<HazardStatus>;
  /** Status of every source before any level is known (design inventory). */
  initialHazard(ts: number): HazardStatus[];
  /**
   * Completes the engine's view of its inputs, so every group, timer and idle watcher ends. Call it before dropping
   * the subscriptions (groupBy keeps its source while group duration watchers are subscribed).
   */
  dispose(): void;
};

export function channelMachine(rule: ChannelRule, seed: SeedLookup): RuleMachine<Reading> {
  switch (rule.kind) {
    case 'limit':
      return createLimitMachine(rule, seed);
    case 'range':
      return createRangeMachine(rule, seed);
    case 'flag':
      return createFlagMachine(rule, seed);
    case 'roc':
      return createRocMachine(rule, seed);
    case 'overfill':
      return createOverfillMachine(rule, seed);
    case 'safety_system':
      return createSafetySystemMachine(rule, seed);
  }
}

export function deviceMachine(rule: DeviceRule, seed: SeedLookup): RuleMachine<Reading> {
  switch (rule.kind) {
    case 'quality':
      return createQualityMachine(rule, seed);
    case 'valve':
      return createValveMachine(rule, seed);
  }
}

const NO_DEVICE: DeviceRules = { siteId: '', deviceId: '', sourceId: '', kind: 'tank', channels: new Map(), deviceRules: [], stale: null, offline: null };

export function buildEngine(rules: CompiledRules, inputs: EngineInputs, opts: EngineOptions): Engine {
  const { scheduler, store, hooks } = opts;
  const seed: SeedLookup = (key) => store.get(key);
  const { lateToleranceMs, groupIdleMs } = rules.settings;
  const onLate = (r: Reading, lag: number): void => hooks.onLate(r, lag);
  const run = <I>(kind: string, ruleId: string, create: () => RuleMachine<I>, timeOf?: (i: I) => number) =>
    runMachine<I>(create, { scheduler, onError: (err) => hooks.onRuleError(kind, ruleId, err), ...(timeOf ? { timeOf } : {}) });
  const lookup = (x: { siteId: string; deviceId: string }): DeviceRules => rules.devices.get(x.siteId)?.get(x.deviceId) ?? NO_DEVICE;
  const stop$ = new Subject<void>();
  const tel$ = inputs.telemetry$.pipe(takeUntil(stop$));

  // ---- stage 1: per device / per channel
  const deviceStage$ = tel$.pipe(
    groupBy((r: Reading) => lookup(r), { duration: (g) => g.pipe(debounceTime(groupIdleMs, scheduler)) }),
    mergeMap((dev$) => {
      const d = dev$.key;
      if (d === NO_DEVICE) return dev$.pipe(ignoreElements());
      const deviceLevel$ = d.deviceRules.length
        ? (() => {
            const gated$ = dev$.pipe(dropLate(lateToleranceMs, onLate), share());
            return merge(...d.deviceRules.map((rule) => gated$.pipe(run(rule.kind, rule.ruleId, () => deviceMachine(rule, seed)))));
          })()
        : EMPTY;
      const channelLevel$ = dev$.pipe(
        groupBy((r) => r.channel, { duration: (g) => g.pipe(debounceTime(groupIdleMs, scheduler)) }),
        mergeMap((ch$) => {
          const cr = d.channels.get(ch$.key);
          if (!cr || cr.rules.length === 0) return ch$.pipe(ignoreElements());
          // Late readings beyond the tolerance are reported once per channel by the device gate above when it exists.
          const gated$ = ch$.pipe(dropLate(lateToleranceMs, d.deviceRules.length ? () => undefined : onLate), share());
          return merge(...cr.rules.map((rule) => gated$.pipe(run(rule.kind, rule.ruleId, () => channelMachine(rule, seed)))));
        }),
      );
      return merge(deviceLevel$, channelLevel$);
    }),
  );

  const staleRules: StaleRule[] = [];
  for (const site of rules.devices.values()) for (const d of site.values()) if (d.stale) staleRules.push(d.stale);
  const stale$ = staleRules.length
    ? tel$.pipe(
        run('stale', 'stale', () => createStaleMachine(staleRules, scheduler.now(), seed), (r: Reading) => r.receivedAt),
      )
    : EMPTY;

  const offline$ = inputs.deviceState$.pipe(
    takeUntil(stop$),
    groupBy((e: DeviceStateEvent) => lookup(e)),
    mergeMap((g) => {
      const rule = g.key.offline;
      if (!rule) return g.pipe(ignoreElements());
      return g.pipe(run('offline', rule.ruleId, () => createOfflineMachine(rule, seed)));
    }),
  );

  const stage1$ = merge(deviceStage$, stale$, offline$).pipe(share());

  // ---- stage 2: votes over stage-1 conditions
  const activeNow = (): ConditionChange[] => store.active();
  const voteConditions = new Set(rules.votes.flatMap((v) => [v.memberCondition, ...v.faultConditions]));
  const voteInput$ = stage1$.pipe(filter((c) => voteConditions.has(c.condition)));
  const votes$ = rules.votes.length ? merge(...rules.votes.map((v) => voteInput$.pipe(run('vote', v.ruleId, () => createVoteMachine(v, seed, activeNow()))))).pipe(share()) : EMPTY;
  const cond12$ = merge(stage1$, votes$);

  // ---- readings needed across devices: valve positions, composite channels, tank levels
  const cross = new Map<string, Map<string, Set<string>>>();
  const want = (siteId: string, deviceId: string, channel: string): void => {
    let s = cross.get(siteId);
    if (!s) cross.set(siteId, (s = new Map<string, Set<string>>()));
    let d = s.get(deviceId);
    if (!d) s.set(deviceId, (d = new Set<string>()));
    d.add(channel);
  };
  for (const il of rules.interlocks) for (const v of il.valves) want(il.siteId, v.deviceId, 'position');
  for (const c of rules.composites) for (const t of c.terms) if (t.kind === 'channel') want(t.siteId, t.deviceId, t.channel);
  for (const h of rules.hazardSources) for (const t of h.tanks) want(h.siteId, t.deviceId, t.channel);
  const crossReadings$ = tel$.pipe(
    filter((r) => cross.get(r.siteId)?.get(r.deviceId)?.has(r.channel) === true),
    share(),
  );

  // ---- stage 3: interlocks and composites
  const interlocks$ = rules.interlocks.length
    ? merge(...rules.interlocks.map((il) => merge(cond12$, crossReadings$).pipe(run('interlock', il.ruleId, () => createInterlockMachine(il, seed, activeNow(), scheduler.now()))))).pipe(share())
    : EMPTY;
  const composites$ = rules.composites.length
    ? merge(...rules.composites.map((c) => merge(cond12$, interlocks$, crossReadings$).pipe(run('composite', c.ruleId, () => createCompositeMachine(c, seed, activeNow())))))
    : EMPTY;

  const conditions$ = merge(stage1$, votes$, interlocks$, composites$).pipe(filter((c) => store.apply(c)));

  const tankLevels = new Set(rules.hazardSources.flatMap((h) => h.tanks.map((t) => `${h.siteId}/${t.deviceId}`)));
  const hazard$ = crossReadings$.pipe(
    filter((r) => r.channel === 'level_pct' && tankLevels.has(`${r.siteId}/${r.deviceId}`)),
    hazardGrading(rules.hazardSources),
  );

  return {
    conditions$,
    hazard$,
    initialHazard: (ts) => rules.hazardSources.map((h) => computeHazard(h, new Map(), ts)),
    dispose: () => {
      stop$.next();
      stop$.complete();
    },
  };
}
