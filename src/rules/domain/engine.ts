/**
 * The rule engine as one RxJS graph (pure: no I/O, time from the injected scheduler and the readings' event time).
 *
 *   telemetry$ ─┬─ groupBy(device, idle) → lateness gate → the device's rules in one loop: device rules (quality,
 *               │     valve) and channel rules (limit, range, fault flag, rate of change, overfill, safety system),
 *               │     each channel rule seeing only its channel

 *               ├─ stale (one fleet machine, arrival time)
 *   clock$ ─ clock_fault (one fleet machine over ingest's clock changes)
 *               └─ cross readings (valve positions, composite channels, tank levels) ─┐
 *   deviceState$ ─ groupBy(device) → offline                                          │
 *   stage 1 conditions ─→ votes ─→ interlocks (+ valve positions) ─→ composites (+ channels) ─→ hazard grading
 *
 * One group per device rather than per device/channel: device rules need all channels (valve position + demand,
 * message quality), the channels of one message share its event time, and one group per device measured about twice
 * as fast as nested device → channel groups at 1000 devices (bench/rules.bench.ts). Inside a group every rule is its
 * own machine with its own try/catch: an exception in one rule is reported and that rule alone restarts from the
 * condition store; the stream goes on. The output passes the condition store, so only real changes leave.
 */
import {
  EMPTY,
  Observable,
  filter,
  groupBy,
  ignoreElements,
  merge,
  mergeMap,
  share,
  Subject,
  takeUntil,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';
import { firstReading, type ClockChange, type Reading, type ReadingInput } from '../../common/types';
import { type ConditionChange, type SeedLookup } from './condition';
import type { ConditionStore } from './condition-store';
import { createCompositeMachine } from './composite.rule';
import { lastDeviceLookup } from './device-lookup';
import { createClockMachine } from './clock.rule';
import { createFlagMachine } from './flag.rule';
import { hazardGrading, computeHazard, LEVEL_HEALTH_CONDITIONS, type HazardStatus } from './hazard-grading';
import { createInterlockMachine } from './interlock.rule';
import { GroupSubject } from './group-subject';
import { lateGate } from './late-readings.operator';
import { createLimitMachine } from './limit.rule';
import { createOfflineMachine, type DeviceStateEvent } from './offline.rule';
import { createOverfillMachine } from './overfill.rule';
import { createQualityMachine } from './quality.rule';
import { createRangeMachine } from './range.rule';
import { createRocMachine } from './rate-of-change.rule';
import { runMachine, runMachines, type MachineEntry, type RuleMachine } from './rule-machine';
import type { ChannelRule, ClockRule, CompiledRules, DeviceRule, DeviceRules, StaleRule } from './rule-spec';
import { createSafetySystemMachine } from './safety-system.rule';
import { createStaleMachine } from './stale.rule';
import { createValveMachine } from './valve.rule';
import { createVoteMachine } from './vote.rule';

export type EngineInputs = {
  /** Readings, or whole messages (ingest sends messages: one device, one event time, in message order). */
  readonly telemetry$: Observable<ReadingInput>;
  readonly deviceState$: Observable<DeviceStateEvent>;
  /** Device clock health changes (ingest's clock tracker): raise and clear `clock_fault`. */
  readonly clock$?: Observable<ClockChange>;
};

export type EngineHooks = {
  /** A rule threw; it was restarted. */
  onRuleError(kind: string, ruleId: string, err: unknown): void;
  /** A reading older than the lateness tolerance was not evaluated. */
  onLate(r: Reading, lagMs: number): void;
};

export type EngineOptions = {
  readonly scheduler: SchedulerLike;
  readonly store: ConditionStore;
  readonly hooks: EngineHooks;
  /**
   * A reading's time counts at most this far ahead of its arrival (`receivedAt`); beyond, it is evaluated at arrival,
   * so a device's claim can never move the engine's clock for that device ahead of the server's (default 5000 ms,
   * ingest's INGEST_FUTURE_TOLERANCE_S). Ingest already times such readings at arrival; this is the engine's own guard.
   */
  readonly futureToleranceMs?: number;
};

export const DEFAULT_FUTURE_TOLERANCE_MS = 5000;

/**
 * The time the engine evaluates a reading at: its `ts`, unless that is more than `futureToleranceMs` ahead of its
 * arrival, then the arrival time. Never later than arrival + tolerance.
 */
export function evaluationTime(futureToleranceMs: number): (r: Reading) => number {
  return (r) => (r.ts - r.receivedAt > futureToleranceMs ? r.receivedAt : r.ts);
}

export type Engine = {
  /** Condition changes (de-duplicated through the store). Cold until subscribed; subscribe once. */
  readonly conditions$: Observable<ConditionChange>;
  /** Recomputed hazard status of a source after each accepted tank level reading. */
  readonly hazard$: Observable<HazardStatus>;
  /** Wind readings of the sites' weather stations (attached to alarms of the site). */
  readonly weather$: Observable<Reading>;
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

/** Activity flag of one device group, set by the group's own pipeline (no extra observer per element). */
export type GroupActivity = { seen: boolean };

/**
 * Group duration: emits once the group saw no element for a whole check period (released after idleMs…2·idleMs).
 * Reads the flag the group's pipeline sets per element (one write, no clock read); one timer per group per period.
 */
export function idleFor(idleMs: number, scheduler: SchedulerLike, activity: GroupActivity): Observable<true> {
  return new Observable<true>((subscriber) => {
    const check = scheduler.schedule(function (this: { schedule(state?: unknown, delay?: number): void }) {
      if (!activity.seen) {
        subscriber.next(true);
        return;
      }
      activity.seen = false;
      this.schedule(undefined, idleMs);
    }, idleMs);
    return () => check.unsubscribe();
  });
}

const channelOf = (r: Reading): string => r.channel;

/** Flattens readings and message batches into single readings, keeping those that pass `keep`. */
export function eachReading(keep: (r: Reading) => boolean): OperatorFunction<ReadingInput, Reading> {
  return (source) =>
    new Observable<Reading>((subscriber) =>
      source.subscribe({
        next: (x) => {
          if (Array.isArray(x)) {
            const batch = x as readonly Reading[];
            for (let i = 0; i < batch.length; i++) if (keep(batch[i]!)) subscriber.next(batch[i]!);
          } else if (keep(x as Reading)) {
            subscriber.next(x as Reading);
          }
        },
        error: (e: unknown) => subscriber.error(e),
        complete: () => subscriber.complete(),
      }),
    );
}

const NO_DEVICE: DeviceRules = {
  siteId: '',
  deviceId: '',
  sourceId: '',
  kind: 'tank',
  channels: new Map(),
  deviceRules: [],
  stale: null,
  offline: null,
  clock: null,
};

export function buildEngine(rules: CompiledRules, inputs: EngineInputs, opts: EngineOptions): Engine {
  const { scheduler, store, hooks } = opts;
  const timeOf = evaluationTime(opts.futureToleranceMs ?? DEFAULT_FUTURE_TOLERANCE_MS);
  const seed: SeedLookup = (key) => store.get(key);
  const { lateToleranceMs, groupIdleMs } = rules.settings;
  const onLate = (r: Reading, lag: number): void => hooks.onLate(r, lag);
  const run = <I>(kind: string, ruleId: string, create: () => RuleMachine<I>, timeOf?: (i: I) => number) =>
    runMachine<I>(create, {
      scheduler,
      onError: (err) => hooks.onRuleError(kind, ruleId, err),
      ...(timeOf ? { timeOf } : {}),
    });
  const runMany = (entries: MachineEntry<Reading>[], gate?: () => (r: Reading) => boolean) =>
    runMachines<Reading>(entries, {
      scheduler,
      timeOf,
      ...(gate ? { gate } : {}),
      // Channel rules see only their channel's readings; device rules (no key) see every reading of the device.
      keyOf: channelOf,
      onError: (id, err) => {
        const bar = id.indexOf('|');
        hooks.onRuleError(id.slice(0, bar), id.slice(bar + 1), err);
      },
    });
  // Two lookups rather than one over both shapes: each call site stays monomorphic (hot path, once per reading).
  const lookup = (x: ReadingInput): DeviceRules => {
    const r = firstReading(x);
    return rules.devices.get(r.siteId)?.get(r.deviceId) ?? NO_DEVICE;
  };
  const lookupState = (e: DeviceStateEvent): DeviceRules =>
    rules.devices.get(e.siteId)?.get(e.deviceId) ?? NO_DEVICE;
  const stop$ = new Subject<void>();
  // One upstream subscription fanned out to the device groups, the stale watcher and the cross-device readings (three
  // separate subscriptions would run the upstream's per-reading plumbing three times).
  const tel$ = inputs.telemetry$.pipe(takeUntil(stop$), share());

  // ---- stage 1: per device / per channel
  const activity = new Map<DeviceRules, GroupActivity>(); // bounded by the configured devices (+ NO_DEVICE)
  const deviceStage$ = tel$.pipe(
    // groupBy subscribes the group's pipeline (mergeMap below) before it asks for the group's duration.
    groupBy(lookup, {
      duration: (g) => idleFor(groupIdleMs, scheduler, activity.get(g.key) ?? { seen: false }),
      connector: () => new GroupSubject<ReadingInput>(),
    }),
    mergeMap((dev$) => {
      const d = dev$.key;
      const state: GroupActivity = { seen: true };
      activity.set(d, state);
      const entries: MachineEntry<Reading>[] = d.deviceRules.map((rule) => ({
        id: `${rule.kind}|${rule.ruleId}`,
        create: () => deviceMachine(rule, seed),
      }));
      for (const cr of d.channels.values())
        for (const rule of cr.rules)
          entries.push({
            id: `${rule.kind}|${rule.ruleId}`,
            key: cr.channel,
            create: () => channelMachine(rule, seed),
          });
      if (d === NO_DEVICE || entries.length === 0) return dev$.pipe(ignoreElements());
      // The lateness gate runs inside the machines' loop (one stream hop less per message than a dropLate operator).
      return dev$.pipe(runMany(entries, () => lateGate(lateToleranceMs, onLate, state, timeOf)));
    }),
  );

  const staleRules: StaleRule[] = [];
  for (const site of rules.devices.values())
    for (const d of site.values()) if (d.stale) staleRules.push(d.stale);
  const stale$ = staleRules.length
    ? tel$.pipe(
        run(
          'stale',
          'stale',
          () => createStaleMachine(staleRules, scheduler.now(), seed),
          (r: Reading) => r.receivedAt,
        ),
      )
    : EMPTY;

  // Machines fed conditions and readings: a reading counts at its evaluation time, a condition at its own.
  const mixedTimeOf = (x: ConditionChange | Reading): number => ('receivedAt' in x ? timeOf(x) : x.ts);
  const clockRules: ClockRule[] = [];
  for (const site of rules.devices.values())
    for (const d of site.values()) if (d.clock) clockRules.push(d.clock);
  const clock$ =
    inputs.clock$ && clockRules.length
      ? inputs.clock$.pipe(
          takeUntil(stop$),
          run('clock', 'clock', () => createClockMachine(clockRules, seed)),
        )
      : EMPTY;

  const offline$ = inputs.deviceState$.pipe(
    takeUntil(stop$),
    groupBy(lookupState),
    mergeMap((g) => {
      const rule = g.key.offline;
      if (!rule) return g.pipe(ignoreElements());
      return g.pipe(run('offline', rule.ruleId, () => createOfflineMachine(rule, seed)));
    }),
  );

  const stage1$ = merge(deviceStage$, stale$, offline$, clock$).pipe(share());

  // ---- stage 2: votes over stage-1 conditions
  const activeNow = (): ConditionChange[] => store.active();
  const voteConditions = new Set(rules.votes.flatMap((v) => [v.memberCondition, ...v.faultConditions]));
  const voteInput$ = stage1$.pipe(filter((c) => voteConditions.has(c.condition)));
  const votes$ = rules.votes.length
    ? merge(
        ...rules.votes.map((v) =>
          voteInput$.pipe(run('vote', v.ruleId, () => createVoteMachine(v, seed, activeNow()))),
        ),
      ).pipe(share())
    : EMPTY;
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
  for (const c of rules.composites)
    for (const t of c.terms) if (t.kind === 'channel') want(t.siteId, t.deviceId, t.channel);
  for (const h of rules.hazardSources) for (const t of h.tanks) want(h.siteId, t.deviceId, t.channel);
  for (const site of rules.devices.values())
    for (const d of site.values())
      if (d.kind === 'weather') {
        want(d.siteId, d.deviceId, 'wind_speed_ms');
        want(d.siteId, d.deviceId, 'wind_dir_deg');
      }
  const crossChannelsOf = lastDeviceLookup(cross);
  const crossReadings$ = tel$.pipe(
    eachReading((r) => crossChannelsOf(r.siteId, r.deviceId)?.has(r.channel) === true),
    share(),
  );

  // ---- stage 3: interlocks and composites
  const interlocks$ = rules.interlocks.length
    ? merge(
        ...rules.interlocks.map((il) => {
          const valves = new Set(il.valves.map((v) => v.deviceId));
          const positions$ = crossReadings$.pipe(
            filter((r) => r.channel === 'position' && r.siteId === il.siteId && valves.has(r.deviceId)),
          );
          return merge(cond12$, positions$).pipe(
            run(
              'interlock',
              il.ruleId,
              () => createInterlockMachine(il, seed, activeNow(), scheduler.now()),
              mixedTimeOf,
            ),
          );
        }),
      ).pipe(share())
    : EMPTY;
  const composites$ = rules.composites.length
    ? merge(
        ...rules.composites.map((c) => {
          const channels = new Set(
            c.terms.flatMap((t) => (t.kind === 'channel' ? [`${t.siteId}/${t.deviceId}/${t.channel}`] : [])),
          );
          const terms$ = channels.size
            ? crossReadings$.pipe(filter((r) => channels.has(`${r.siteId}/${r.deviceId}/${r.channel}`)))
            : EMPTY;
          return merge(cond12$, interlocks$, terms$).pipe(
            run('composite', c.ruleId, () => createCompositeMachine(c, seed, activeNow()), mixedTimeOf),
          );
        }),
      )
    : EMPTY;

  const conditions$ = merge(stage1$, votes$, interlocks$, composites$).pipe(filter((c) => store.apply(c)));

  const tankLevels = new Set(
    rules.hazardSources.flatMap((h) => h.tanks.map((t) => `${h.siteId}/${t.deviceId}`)),
  );
  const hazard$ = merge(
    crossReadings$.pipe(
      filter((r) => r.channel === 'level_pct' && tankLevels.has(`${r.siteId}/${r.deviceId}`)),
    ),
    // Stale / offline / bad-quality tanks make the grading uncertain (never R from a frozen level).
    stage1$.pipe(
      filter(
        (c) => LEVEL_HEALTH_CONDITIONS.has(c.condition) && tankLevels.has(`${c.siteId}/${c.deviceId ?? ''}`),
      ),
    ),
  ).pipe(hazardGrading(rules.hazardSources, timeOf));

  const weather$ = crossReadings$.pipe(
    filter((r) => r.channel === 'wind_speed_ms' || r.channel === 'wind_dir_deg'),
  );

  return {
    conditions$,
    hazard$,
    weather$,
    initialHazard: (ts) => rules.hazardSources.map((h) => computeHazard(h, new Map(), ts)),
    dispose: () => {
      stop$.next();
      stop$.complete();
    },
  };
}
