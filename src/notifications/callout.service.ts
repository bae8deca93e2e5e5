import { Inject, Injectable, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { AlarmService } from '../alarms/alarm.service';
import { HIDDEN_STATES, type AlarmEventDto, type AlarmRecord } from '../alarms/domain/alarm.types';
import { ANNOUNCING_EVENTS } from '../alarms/domain/announcing-events';
import { sitePath, type Principal } from '../auth/principal';
import { CLOCK, type Clock } from '../common/clock';
import { FencedError } from '../cluster/fence';
import {
  SingleNodeOwnership,
  SiteOwnership,
  type SiteFenceToken,
  type SiteOwnershipChange,
} from '../common/site-ownership';
import { JsonLogger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { Backoff, systemScheduler, type Scheduler, type TimerHandle } from '../common/timer.port';
import { createCallRunner, voiceRequest, type CallRunner } from './call.runner';
import type { CalloutsConfig } from './callouts.loader';
import { CALLOUT_STORE, type CalloutStore } from './callout.store';
import { ROLE_LABEL_ZH } from './domain/callout.types';
import {
  EscalationMachine,
  calloutId,
  type CallAttempt,
  type CalloutEffect,
  type CalloutSubject,
  type CalleeResolver,
  type StopReason,
} from './domain/escalation.machine';
import { alarmPrompt } from './domain/prompt';
import { dutyDeskCalled, isQuiet, localTime, resolveCallee } from './domain/roster';
import { CALLOUTS_CONFIG, NOTIFY_SCHEDULER } from './notifications.tokens';
import { VOICE_FAILURE_RULE_ID, VoiceHealth } from './voice-health.service';
import { VOICE_PORT, type VoiceCall, type VoicePort } from './voice/voice.port';

/** Alarms raised longer ago than this get no call-out when found unannounced at start-up (e.g. an old database). */
const RECOVERY_WINDOW_MS = 60 * 60_000;

type Entry = {
  machine: EscalationMachine;
  timer?: TimerHandle;
  calls: Map<string, VoiceCall>;
  saving: Promise<void>;
  /** Cluster mode: the site's lease this call-out runs under; every step write carries it. */
  fence?: SiteFenceToken;
  /** Set when the node gave the site up (or a write was fenced): nothing more is written, dialled or acknowledged. */
  dropped?: boolean;
};

/** Cluster mode: a site whose call-outs this node runs, under which lease, and its alarm events held while resuming. */
type OwnedSite = { readonly fence: SiteFenceToken; held: AlarmEventDto[] | undefined };

/** The name written to the alarm journal for an acknowledgement by key press: who, which role, which number. */
export const phoneAckName = (a: Pick<CallAttempt, 'callee'>): string =>
  `电话确认 ${a.callee.name} ${ROLE_LABEL_ZH[a.callee.role]} ${a.callee.number}`;

/**
 * Alarm call-outs: an alarm of a configured priority starts an escalation (control room, then the responsible persons,
 * then the duty desk); a key press acknowledges the alarm in the journal under the callee's name; a console
 * acknowledgement, a clear or hiding the alarm stops it. State is persisted after every change and resumed at start.
 */
@Injectable()
export class CalloutService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new JsonLogger('notifications.callouts');
  /** By call-out id: every machine with work left (active, or with calls still ending). */
  private readonly entries = new Map<string, Entry>();
  /** Alarm id → call-out id of its active call-out. */
  private readonly activeByAlarm = new Map<string, string>();
  private subscription: Subscription | undefined;
  private recovering = true;
  private readonly buffered: AlarmEventDto[] = [];
  private closed = false;
  private readonly runner: CallRunner | undefined;
  private readonly scheduler: Scheduler;
  private recovered!: () => void;
  private readonly recoveredPromise = new Promise<void>((r) => (this.recovered = r));
  private readonly ownership: SiteOwnership;
  /** Cluster mode: the sites owned now (call-outs of other sites are their owners' work). */
  private readonly owned = new Map<string, OwnedSite>();
  /** Cluster mode: ownership changes of a site are handled one after another. */
  private readonly siteOps = new Map<string, Promise<void>>();
  private ownershipSub: Subscription | undefined;

  constructor(
    private readonly alarms: AlarmService,
    @Inject(CALLOUTS_CONFIG) private readonly config: CalloutsConfig | null,
    @Inject(CALLOUT_STORE) private readonly store: CalloutStore,
    @Inject(VOICE_PORT) voice: VoicePort,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly app: AppConfig,
    private readonly metrics: HazwatchMetrics,
    @Optional() @Inject(NOTIFY_SCHEDULER) scheduler?: Scheduler,
    @Optional() health?: VoiceHealth,
    /** Cluster mode: call-outs of a site run on its owner only (docs/adr/0026-cluster-callouts-feeds.md). */
    @Optional() ownership?: SiteOwnership,
  ) {
    this.ownership = ownership ?? new SingleNodeOwnership();
    this.scheduler = scheduler ?? systemScheduler;
    this.runner = config ? createCallRunner(store, voice, clock, metrics, this.log, health) : undefined;
  }

  onModuleInit(): void {
    if (!this.config) {
      this.log.warn('config/callouts.yaml not found: alarm call-outs are OFF');
      this.recovering = false;
      this.recovered();
      return;
    }
    if (this.ownership.clustered) {
      this.startClustered();
      return;
    }
    this.subscription = this.alarms.events$.subscribe({
      next: (e) => {
        if (this.recovering) this.buffered.push(e);
        else this.onAlarmEvent(e);
      },
      error: (err: unknown) =>
        this.log.error('alarm event stream failed: no further call-outs will start', { err }),
    });
    void this.recover();
  }

  /** Resolves once persisted call-outs have been resumed (tests, diagnostics). */
  whenRecovered(): Promise<void> {
    return this.recoveredPromise;
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    this.subscription?.unsubscribe();
    this.ownershipSub?.unsubscribe();
    for (const e of this.entries.values()) e.timer?.cancel();
    // calls in flight are left to end by themselves; on restart they are closed as interrupted, never repeated
    await Promise.all([...this.entries.values()].map((e) => e.saving));
  }

  /** Active call-outs (tests, diagnostics). */
  active(): EscalationMachine[] {
    return [...this.activeByAlarm.values()].flatMap((id) => {
      const e = this.entries.get(id);
      return e ? [e.machine] : [];
    });
  }

  // ------------------------------------------------------------------------------------------------------------------
  // Cluster mode (docs/adr/0026-cluster-callouts-feeds.md): the owner of a site runs its call-outs. On acquiring the
  // site it resumes them from the last committed step; on losing it, it stops them at once (timers, calls in flight)
  // and writes nothing more; every step write carries the lease epoch and the database refuses a stale one.

  private startClustered(): void {
    this.subscription = this.alarms.events$.subscribe({
      next: (e) => {
        const site = this.owned.get(e.siteId);
        if (!site) return; // another node's site: its owner calls
        if (site.held) site.held.push(e);
        else this.onAlarmEvent(e);
      },
      error: (err: unknown) =>
        this.log.error('alarm event stream failed: no further call-outs will start', { err }),
    });
    void this.alarms.whenReady().then(() => {
      if (this.closed) return;
      this.recovering = false;
      this.ownershipSub = this.ownership.ownership$.subscribe((c) => this.onOwnership(c));
      this.recovered();
    });
  }

  private onOwnership(c: SiteOwnershipChange): void {
    if (this.closed) return;
    const prev = this.siteOps.get(c.siteId) ?? Promise.resolve();
    const next = prev
      .then(() => (c.owned ? this.acquireSite(c.siteId, c.epoch) : this.dropSite(c.siteId, c.reason)))
      .catch((err: unknown) =>
        this.log.error('call-out handling of a site ownership change failed', { siteId: c.siteId, err }),
      );
    this.siteOps.set(c.siteId, next);
  }

  /** Resolves once every ownership change received so far has been handled (tests). */
  async whenSitesSettled(): Promise<void> {
    await Promise.all([...this.siteOps.values()]);
  }

  private async acquireSite(siteId: string, epoch: number): Promise<void> {
    const nodeId = this.ownership.nodeId;
    if (nodeId === undefined || !this.config) return;
    const current = this.owned.get(siteId);
    if (current?.fence.epoch === epoch) return; // the same lease told twice ('current', then 'acquired')
    if (current) this.dropSite(siteId, 'lost');
    const site: OwnedSite = { fence: { siteId, nodeId, epoch }, held: [] };
    this.owned.set(siteId, site);
    const backoff = new Backoff(500, 15_000);
    const stillOwned = (): boolean =>
      !this.closed && this.owned.get(siteId) === site && this.ownership.epochOf(siteId) === epoch;
    while (stillOwned()) {
      try {
        const active = await this.store.activeCallouts(siteId);
        if (!stillOwned()) return;
        const now = this.clock.now();
        let resumed = 0;
        for (const persisted of active) {
          if (this.entries.has(persisted.id)) continue;
          this.resume(persisted, now, site.fence);
          resumed++;
        }
        this.log.info('site acquired: its call-outs run on this node', { siteId, epoch, resumed });
        break;
      } catch (err) {
        const delay = backoff.next();
        this.log.error(
          'cannot load the call-outs of an acquired site; retrying (its alarm events are held)',
          {
            siteId,
            err,
            retryInMs: delay,
          },
        );
        await new Promise<void>((r) => this.scheduler.after(delay, r));
      }
    }
    if (!stillOwned()) return;
    for (const e of (site.held ?? []).splice(0)) this.onAlarmEvent(e);
    site.held = undefined;
    await this.startUnannounced(siteId);
  }

  /** Stops every call-out of a site this node no longer owns: nothing more is written, dialled or acknowledged. */
  private dropSite(siteId: string, reason: string): void {
    const site = this.owned.get(siteId);
    this.owned.delete(siteId);
    let stopped = 0;
    for (const [id, entry] of this.entries) {
      if (entry.machine.state.siteId !== siteId) continue;
      entry.dropped = true;
      entry.timer?.cancel();
      entry.timer = undefined;
      // a call in flight is hung up: its end could not be recorded; the new owner closes it as interrupted
      for (const call of entry.calls.values()) call.cancel();
      this.entries.delete(id);
      if (this.activeByAlarm.get(entry.machine.state.alarmId) === id)
        this.activeByAlarm.delete(entry.machine.state.alarmId);
      stopped++;
    }
    this.metrics.calloutsActive.set(this.activeByAlarm.size);
    if (site || stopped > 0)
      (stopped > 0 ? this.log.warn.bind(this.log) : this.log.info.bind(this.log))(
        'site given up: its call-outs stop here and continue on its new owner',
        { siteId, reason, epoch: site?.fence.epoch, stopped },
      );
  }

  /** A step write refused by the database: another node holds the site's lease now. */
  private fenced(entry: Entry, err: FencedError): void {
    if (entry.dropped) return;
    this.log.error(
      'call-out step write refused: this node no longer owns the site; stopping its call-outs here',
      {
        calloutId: entry.machine.id,
        siteId: entry.machine.state.siteId,
        epoch: entry.fence?.epoch,
        err: err.message,
      },
    );
    this.dropSite(entry.machine.state.siteId, 'fenced');
  }

  /** Whether this node may still act on the entry's call-out (always on a single node). */
  private mayAct(entry: Entry): boolean {
    if (entry.dropped) return false;
    const f = entry.fence;
    if (!f) return true;
    if (this.ownership.epochOf(f.siteId) === f.epoch) return true;
    this.dropSite(f.siteId, 'fenced');
    return false;
  }

  // ------------------------------------------------------------------------------------------------------------------

  private async recover(): Promise<void> {
    const backoff = new Backoff(500, 15_000);
    await this.alarms.whenReady();
    for (;;) {
      if (this.closed) return;
      try {
        const now = this.clock.now();
        for (const persisted of await this.store.activeCallouts()) this.resume(persisted, now);
        break;
      } catch (err) {
        const delay = backoff.next();
        this.log.error(
          'cannot load active call-outs from the database; retrying (new alarms are buffered meanwhile)',
          { err, retryInMs: delay },
        );
        await new Promise<void>((r) => this.scheduler.after(delay, r));
      }
    }
    this.recovering = false;
    for (const e of this.buffered.splice(0)) this.onAlarmEvent(e);
    await this.startUnannounced();
    this.recovered();
  }

  private resume(
    persisted: Parameters<typeof EscalationMachine.restore>[0],
    now: number,
    fence?: SiteFenceToken,
  ): void {
    const config = this.config;
    if (!config) return;
    if (!config.sites.has(persisted.siteId)) {
      this.log.warn('active call-out of a site without call-out contacts in callouts.yaml: left as it is', {
        calloutId: persisted.id,
        siteId: persisted.siteId,
      });
      return;
    }
    const { machine, interrupted } = EscalationMachine.restore(
      persisted,
      config.policy,
      this.resolverFor(persisted),
      now,
    );
    const entry = this.track(machine, fence);
    for (const a of interrupted) {
      this.log.warn('call interrupted by a restart: recorded as FAILED and not repeated', {
        calloutId: machine.id,
        attemptId: a.id,
        number: a.callee.number,
      });
      void this.store
        .finishAttempt(
          a.id,
          {
            outcome: 'FAILED',
            endedAt: now,
            digits: '',
            detail: fence
              ? 'interrupted: the site moved to another node during the call; not repeated'
              : 'interrupted: the server stopped during the call; not repeated',
          },
          fence,
        )
        .catch((err: unknown) =>
          err instanceof FencedError
            ? this.fenced(entry, err)
            : this.log.error('could not record an interrupted call', { attemptId: a.id, err }),
        );
    }
    this.log.info('call-out resumed after restart', {
      calloutId: machine.id,
      alarmId: machine.state.alarmId,
      loop: machine.state.loop + 1,
      step: machine.state.step + 1,
    });
    const rec = this.alarms.record(machine.state.alarmId);
    const stop = this.stopReasonFor(rec);
    this.apply(entry, stop ? machine.stop(stop, now) : machine.tick(now));
  }

  /** Alarms that qualify and have no call-out (their start was not recorded, e.g. the database was down). */
  private async startUnannounced(siteId?: string): Promise<void> {
    const now = this.clock.now();
    for (const rec of this.alarms.records()) {
      if (
        this.closed ||
        (siteId !== undefined && (rec.siteId !== siteId || !this.owned.has(siteId))) ||
        !this.qualifies(rec) ||
        this.activeByAlarm.has(rec.id) ||
        now - rec.raisedAt > RECOVERY_WINDOW_MS
      )
        continue;
      try {
        if (await this.store.hasCallout(rec.id, rec.raisedAt)) continue;
      } catch (err) {
        this.log.error('cannot check for an earlier call-out; starting one', { alarmId: rec.id, err });
      }
      if (!this.activeByAlarm.has(rec.id) && (siteId === undefined || this.owned.has(siteId)))
        this.startFor(rec, rec.raisedAt, rec.seq);
    }
  }

  private qualifies(a: Pick<AlarmRecord, 'active' | 'acked' | 'state' | 'priority' | 'ruleId'>): boolean {
    return (
      !!this.config &&
      // phones failing: calling about it would fail too (and feed the alarm); the console shows it
      a.ruleId !== VOICE_FAILURE_RULE_ID &&
      a.active &&
      !a.acked &&
      a.state === 'unacknowledged' &&
      this.config.policy.triggerPriorities.includes(a.priority)
    );
  }

  private stopReasonFor(
    rec: AlarmRecord | undefined,
  ): Exclude<StopReason, 'key_ack' | 'exhausted'> | undefined {
    if (!rec || !rec.active) return 'cleared';
    if (rec.acked) return 'console_ack';
    if (HIDDEN_STATES.has(rec.state)) return 'hidden';
    return undefined;
  }

  private onAlarmEvent(e: AlarmEventDto): void {
    if (this.closed) return;
    try {
      const id = this.activeByAlarm.get(e.id);
      const entry = id ? this.entries.get(id) : undefined;
      const now = this.clock.now();
      if (entry?.machine.active) {
        const reason = e.acked
          ? 'console_ack'
          : !e.active
            ? 'cleared'
            : HIDDEN_STATES.has(e.state)
              ? 'hidden'
              : undefined;
        if (reason) {
          this.log.info('call-out stopped', {
            calloutId: entry.machine.id,
            alarmId: e.id,
            reason,
            by: e.actor,
          });
          this.apply(entry, entry.machine.stop(reason, now));
        }
        return;
      }
      if (ANNOUNCING_EVENTS.has(e.event) && this.qualifies(e)) {
        this.startFor(e, e.event === 'raised' ? Date.parse(e.raisedAt) : Date.parse(e.at), e.seq);
      }
    } catch (err) {
      this.log.error('call-out handling of an alarm event failed', { alarmId: e.id, event: e.event, err });
    }
  }

  private startFor(
    a: Pick<AlarmRecord, 'id' | 'siteId' | 'sourceId' | 'ruleId' | 'priority' | 'message'>,
    at: number,
    seq: number,
  ): void {
    const config = this.config;
    if (!config) return;
    if (!config.sites.has(a.siteId)) {
      this.log.error(
        'alarm qualifies for a call-out but its site has no call-out contacts in callouts.yaml',
        { alarmId: a.id, siteId: a.siteId },
      );
      return;
    }
    const subject: CalloutSubject = {
      alarmId: a.id,
      siteId: a.siteId,
      sourceId: a.sourceId,
      ruleId: a.ruleId,
      priority: a.priority,
      message: a.message,
      raisedAt: at,
    };
    const fence = this.owned.get(a.siteId)?.fence;
    if (this.ownership.clustered && !fence) return; // not this node's site
    const machine = EscalationMachine.start(
      subject,
      config.policy,
      this.resolverFor(subject),
      calloutId(a.id, seq),
    );
    const entry = this.track(machine, fence);
    this.log.info('call-out started', {
      calloutId: machine.id,
      alarmId: a.id,
      siteId: a.siteId,
      priority: a.priority,
      firstStepAt: new Date(machine.state.nextStepAt).toISOString(),
    });
    this.apply(entry, machine.tick(this.clock.now()));
  }

  private track(machine: EscalationMachine, fence?: SiteFenceToken): Entry {
    const entry: Entry = {
      machine,
      calls: new Map(),
      saving: Promise.resolve(),
      ...(fence ? { fence } : {}),
    };
    this.entries.set(machine.id, entry);
    if (machine.active) this.activeByAlarm.set(machine.state.alarmId, machine.id);
    this.metrics.calloutsActive.set(this.activeByAlarm.size);
    return entry;
  }

  private resolverFor(
    s: Pick<CalloutSubject, 'siteId' | 'sourceId' | 'priority' | 'ruleId'>,
  ): CalleeResolver {
    return (role, at) => {
      const config = this.config;
      const contacts = config?.sites.get(s.siteId);
      if (!config || !contacts) return {};
      const t = localTime(at, config.timeZone);
      if (role === 'duty_desk' && !dutyDeskCalled(config.policy.ruleLadders, s.ruleId, s.priority))
        return { notGraded: true };
      if (isQuiet(config.policy.quiet, role, s.priority, t)) return { quiet: true };
      const callee = resolveCallee(contacts, role, s.sourceId, t);
      if (callee?.rosterGap)
        this.log.warn('nobody on call for a role: calling its first listed person', {
          siteId: s.siteId,
          role,
          number: callee.number,
        });
      return callee ? { callee } : {};
    };
  }

  /** Persists the state (in order, per call-out), then carries out the effects; re-arms the wake-up timer. */
  private apply(entry: Entry, effects: CalloutEffect[]): void {
    if (!this.mayAct(entry)) return;
    const m = entry.machine;
    const snapshot = structuredClone(m.state);
    entry.saving = entry.saving.then(() =>
      entry.dropped
        ? undefined
        : this.store.saveCallout(snapshot, entry.fence).catch((err: unknown) => {
            if (err instanceof FencedError) this.fenced(entry, err);
            else this.log.error('could not persist call-out state (calls go on)', { calloutId: m.id, err });
          }),
    );
    const saved = entry.saving;
    for (const e of effects) {
      switch (e.kind) {
        case 'place':
          void this.place(entry, e.attempt, saved);
          break;
        case 'cancel':
          entry.calls.get(e.attemptId)?.cancel();
          break;
        case 'ack_alarm':
          void this.keyAck(entry, e.attempt);
          break;
        case 'skipped':
          this.log.info('call-out step target skipped', {
            calloutId: m.id,
            role: e.skipped.role,
            reason: e.skipped.reason,
          });
          break;
        case 'finished':
          if (this.activeByAlarm.get(m.state.alarmId) === m.id) this.activeByAlarm.delete(m.state.alarmId);
          this.metrics.calloutsActive.set(this.activeByAlarm.size);
          (e.status === 'exhausted' ? this.log.error.bind(this.log) : this.log.info.bind(this.log))(
            e.status === 'exhausted'
              ? 'call-out exhausted: nobody acknowledged by phone'
              : 'call-out finished',
            { calloutId: m.id, alarmId: m.state.alarmId, status: e.status, reason: e.reason },
          );
          break;
        default: {
          const never: never = e;
          this.log.error('unknown call-out effect', { effect: never });
        }
      }
    }
    this.rearm(entry);
  }

  private rearm(entry: Entry): void {
    entry.timer?.cancel();
    entry.timer = undefined;
    const m = entry.machine;
    const wake = m.nextWakeAt();
    if (wake === undefined) {
      if (!m.active && entry.calls.size === 0)
        void entry.saving.then(
          () =>
            this.entries.get(m.id) === entry &&
            entry.calls.size === 0 &&
            !m.active &&
            this.entries.delete(m.id),
        );
      return;
    }
    if (this.closed || entry.dropped) return;
    entry.timer = this.scheduler.after(Math.max(0, wake - this.clock.now()), () => {
      if (this.closed) return;
      this.apply(entry, m.tick(this.clock.now()));
    });
  }

  private async place(entry: Entry, a: CallAttempt, saved: Promise<void>): Promise<void> {
    const config = this.config;
    const runner = this.runner;
    if (!config || !runner) return;
    await saved;
    const s = entry.machine.state;
    if (!this.mayAct(entry)) return; // the site moved on (or the step's state write was refused): never dialled here
    if (!entry.machine.active) {
      // stopped while the state was being written: the call is never dialled, and recorded as cancelled
      this.apply(entry, entry.machine.callEnded(a.id, 'CANCELED', this.clock.now()));
      return;
    }
    const site = this.app.plant.siteById.get(s.siteId);
    const source = this.app.plant.sourceById.get(s.sourceId);
    const prompt = alarmPrompt({
      siteName: site?.name ?? s.siteId,
      ...(source ? { sourceName: source.name } : {}),
      priority: s.priority,
      message: s.message,
      confirmKey: config.policy.confirmKey,
    });
    this.log.info('calling', {
      calloutId: s.id,
      attemptId: a.id,
      role: a.callee.role,
      callee: a.callee.name,
      number: a.callee.number,
      loop: a.loop + 1,
      step: a.step + 1,
      attemptNo: a.attemptNo,
    });
    let result: Awaited<ReturnType<CallRunner['run']>>;
    try {
      result = await runner.run(
        {
          id: a.id,
          calloutId: s.id,
          alarmId: s.alarmId,
          siteId: s.siteId,
          calleeRole: a.callee.role,
          calleeName: a.callee.name,
          number: a.callee.number,
          loop: a.loop + 1,
          step: a.step + 1,
          attemptNo: a.attemptNo,
          placedAt: a.placedAt ?? this.clock.now(),
          provider: runner.provider,
          promptVersion: prompt.version,
        },
        voiceRequest(a, prompt, config.policy),
        (call) => {
          entry.calls.set(a.id, call);
          // stopped (or the site given up) while the record was being written: hang up at once
          if (!entry.machine.active || entry.dropped) call.cancel();
        },
        entry.fence,
      );
    } catch (err) {
      if (!(err instanceof FencedError)) throw err;
      this.fenced(entry, err); // the attempt row was refused: nobody was dialled
      return;
    }
    entry.calls.delete(a.id);
    if (entry.dropped) {
      this.log.warn('call ended after its site was given up: not recorded here (the new owner closed it)', {
        calloutId: s.id,
        attemptId: a.id,
        outcome: result.outcome,
      });
      return;
    }
    this.log.info('call ended', {
      calloutId: s.id,
      attemptId: a.id,
      outcome: result.outcome,
      sipCode: result.sipCode,
      digits: result.digits,
    });
    this.apply(entry, entry.machine.callEnded(a.id, result.outcome, this.clock.now()));
  }

  /** A key press acknowledges the alarm in the journal under the callee's name, role and number. */
  private async keyAck(entry: Entry, a: CallAttempt): Promise<void> {
    const s = entry.machine.state;
    if (entry.dropped) return;
    const site = this.app.plant.siteById.get(s.siteId);
    const principal: Principal = {
      tokenId: `call:${a.id}`,
      name: phoneAckName(a),
      role: 'operator',
      scope: site ? sitePath(site) : s.siteId,
    };
    this.metrics.calloutAck.observe(Math.max(0, this.clock.now() - s.raisedAt) / 1000);
    try {
      await this.alarms.ack(s.alarmId, principal, `按键确认 (电话呼叫 ${a.id})`);
      this.log.info('alarm acknowledged by phone', { alarmId: s.alarmId, by: principal.name });
    } catch (err) {
      this.log.warn(
        'key acknowledgement could not be journalled (already acknowledged, or the alarm changed)',
        { alarmId: s.alarmId, by: principal.name, err },
      );
    }
  }
}
