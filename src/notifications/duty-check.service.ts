import {
  ConflictException,
  Inject,
  Injectable,
  NotFoundException,
  Optional,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { Subject } from 'rxjs';
import { AlarmService } from '../alarms/alarm.service';
import { ExternalConditions } from '../alarms/external-conditions';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { JobGates } from '../common/job-gate';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { Backoff, systemScheduler, type Scheduler, type TimerHandle } from '../common/timer.port';
import { createCallRunner, voiceRequest, type CallRunner } from './call.runner';
import type { CalloutsConfig } from './callouts.loader';
import { CALLOUT_STORE, type CalloutStore } from './callout.store';
import type { DutyCheckPolicy } from './domain/callout.types';
import {
  DutyCheckMachine,
  type DutyAttempt,
  type DutyCheckEffect,
  type DutyCheckResult,
  type DutyCheckState,
  type DutyCheckTrigger,
} from './domain/duty-check.machine';
import { dutyCheckPrompt } from './domain/prompt';
import { nextCronTime } from './duty-check.schedule';
import { CALLOUTS_CONFIG, NOTIFY_RANDOM, NOTIFY_SCHEDULER } from './notifications.tokens';
import { VoiceHealth } from './voice-health.service';
import { VOICE_PORT, type VoicePort } from './voice/voice.port';

/** Rule id of the alarm a missed duty check raises; call-outs for it follow the `ext:duty-check` ladder. */
export const DUTY_CHECK_RULE_ID = 'ext:duty-check';
export const DUTY_CHECK_CONDITION = 'duty_check_missed';

/** Longest delay a Node.js timer keeps (2^31−1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

const RESULT_ZH: Record<DutyCheckResult, string> = {
  on_duty: '在岗',
  no_answer: '无人接听或未按键',
  wrong_key: '按键错误',
  failed: '呼叫失败',
};

type Entry = { machine: DutyCheckMachine; timer?: TimerHandle; saving: Promise<void> };

/** A finished duty check, once its record is stored (the regulator's feedback obligation hangs on missed ones). */
export type DutyCheckFinished = {
  readonly id: string;
  readonly siteId: string;
  readonly trigger: DutyCheckTrigger;
  readonly result: DutyCheckResult;
  readonly missed: boolean;
  readonly at: number;
};

/**
 * Duty checks (值班值守抽查): each configured site's control room is called on its cron schedule (Asia/Shanghai, with
 * an optional random delay) or on demand; the result is stored. A check that fails twice (one retry after 5 min)
 * raises an alarm `ext:duty-check` for the site, which the call-out ladder sends to the district duty desk and the
 * 主要负责人; the next passed check clears it.
 */
@Injectable()
export class DutyCheckService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new JsonLogger('notifications.duty-checks');
  private readonly running = new Map<string, Entry>();
  private readonly scheduleTimers = new Map<string, TimerHandle>();
  /** Every finished check, after its record is saved. */
  readonly finished$ = new Subject<DutyCheckFinished>();
  /** Next scheduled check per site (diagnostics, tests). */
  readonly nextRun = new Map<string, number>();
  private readonly runner: CallRunner | undefined;
  private readonly scheduler: Scheduler;
  private readonly random: () => number;
  private closed = false;
  private started!: () => void;
  private readonly startedPromise = new Promise<void>((r) => (this.started = r));

  constructor(
    @Inject(CALLOUTS_CONFIG) private readonly config: CalloutsConfig | null,
    @Inject(CALLOUT_STORE) private readonly store: CalloutStore,
    @Inject(VOICE_PORT) voice: VoicePort,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly app: AppConfig,
    private readonly alarms: AlarmService,
    private readonly external: ExternalConditions,
    private readonly metrics: HazwatchMetrics,
    @Optional() @Inject(NOTIFY_SCHEDULER) scheduler?: Scheduler,
    @Optional() @Inject(NOTIFY_RANDOM) random?: () => number,
    @Optional() health?: VoiceHealth,
    @Optional() private readonly gates?: JobGates, // cluster hook (docs/adr/0016-cluster.md)
  ) {
    this.scheduler = scheduler ?? systemScheduler;
    this.random = random ?? Math.random;
    this.runner = config ? createCallRunner(store, voice, clock, metrics, this.log, health) : undefined;
  }

  onModuleInit(): void {
    if (!this.config) {
      this.log.warn('config/callouts.yaml not found: duty checks are OFF');
      this.started();
      return;
    }
    void this.start();
  }

  whenStarted(): Promise<void> {
    return this.startedPromise;
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    for (const t of this.scheduleTimers.values()) t.cancel();
    for (const e of this.running.values()) e.timer?.cancel();
    await Promise.all([...this.running.values()].map((e) => e.saving));
  }

  private async start(): Promise<void> {
    const config = this.config;
    if (!config) return;
    await this.alarms.whenReady();
    // cluster: running checks are resumed by the node holding the duty-check lease only (docs/adr/0016-cluster.md)
    if (this.gates?.clustered) void this.resumeWhenGateOpens();
    else await this.resumeRunning(() => true);
    for (const [siteId, policy] of config.dutyChecks) if (policy.enabled) this.scheduleNext(siteId, policy);
    this.log.info('duty checks scheduled', {
      sites: [...this.nextRun].map(([s, t]) => ({ siteId: s, next: new Date(t).toISOString() })),
    });
    this.started();
  }

  /**
   * Cluster: waits (polling every second) until this node holds the duty-check lease, then resumes the checks the
   * database says are running, once per process; a node that never gets the lease never resumes them.
   */
  private async resumeWhenGateOpens(): Promise<void> {
    const open = (): boolean => this.gates?.isOpen('duty-checks') ?? true;
    while (!this.closed && !open()) await new Promise<void>((r) => this.scheduler.after(1_000, r));
    if (await this.resumeRunning(open))
      this.log.info('running duty checks resumed by this node (it holds the duty-check lease)');
  }

  /** Resumes the checks the database says are running (retrying while it cannot be read and `wanted` holds). */
  private async resumeRunning(wanted: () => boolean): Promise<boolean> {
    const backoff = new Backoff(500, 15_000);
    while (!this.closed && wanted()) {
      try {
        const now = this.clock.now();
        for (const persisted of await this.store.runningDutyChecks())
          if (!this.running.get(persisted.siteId)?.machine.running) this.resume(persisted, now);
        return true;
      } catch (err) {
        const delay = backoff.next();
        this.log.error('cannot load running duty checks from the database; retrying', {
          err,
          retryInMs: delay,
        });
        await new Promise<void>((r) => this.scheduler.after(delay, r));
      }
    }
    return false;
  }

  private resume(persisted: DutyCheckState, now: number): void {
    const policy = this.config?.dutyChecks.get(persisted.siteId);
    if (!policy) {
      this.log.warn('running duty check of a site no longer configured: left as it is', {
        id: persisted.id,
        siteId: persisted.siteId,
      });
      return;
    }
    const { machine, effects, interrupted } = DutyCheckMachine.restore(persisted, policy, now);
    for (const a of interrupted) {
      void this.store
        .finishAttempt(a.id, {
          outcome: 'FAILED',
          endedAt: now,
          digits: '',
          detail: 'interrupted: the server stopped during the call',
        })
        .catch((err: unknown) =>
          this.log.error('could not record an interrupted call', { attemptId: a.id, err }),
        );
    }
    const entry: Entry = { machine, saving: Promise.resolve() };
    this.running.set(machine.state.siteId, entry);
    this.apply(entry, [...effects, ...machine.tick(now)]);
  }

  private scheduleNext(siteId: string, policy: DutyCheckPolicy): void {
    if (this.closed) return;
    const now = this.clock.now();
    const at = nextCronTime(policy.cron, policy.timeZone, now) + Math.floor(this.random() * policy.jitterMs);
    this.nextRun.set(siteId, at);
    this.armAt(siteId, policy, at);
  }

  /**
   * Timers hold at most 2^31−1 ms (about 24.8 days; a longer delay fires at once): a check further away (a yearly or
   * monthly cron) is reached in steps.
   */
  private armAt(siteId: string, policy: DutyCheckPolicy, at: number): void {
    if (this.closed) return;
    const delay = Math.max(0, at - this.clock.now());
    this.scheduleTimers.get(siteId)?.cancel();
    if (delay > MAX_TIMER_MS) {
      this.scheduleTimers.set(
        siteId,
        this.scheduler.after(MAX_TIMER_MS, () => this.armAt(siteId, policy, at)),
      );
      return;
    }
    this.scheduleTimers.set(
      siteId,
      this.scheduler.after(delay, () => {
        try {
          // cluster: only the node holding the duty-check schedule lease places scheduled checks
          if (this.gates && !this.gates.isOpen('duty-checks'))
            this.log.info('scheduled duty check left to the node holding the schedule lease', { siteId });
          else this.run(siteId, 'schedule', at);
        } catch (err) {
          this.log.error('scheduled duty check could not start', { siteId, err });
        }
        this.scheduleNext(siteId, policy);
      }),
    );
  }

  /** Id of the check of a site that is running now, if any. */
  runningCheck(siteId: string): string | undefined {
    const e = this.running.get(siteId);
    return e?.machine.running ? e.machine.id : undefined;
  }

  /** Starts a duty check now (or at the scheduled time); a site runs one check at a time. */
  run(siteId: string, trigger: DutyCheckTrigger, at = this.clock.now()): DutyCheckState {
    const config = this.config;
    const contacts = config?.sites.get(siteId);
    const policy = config?.dutyChecks.get(siteId);
    if (!config || !contacts || !policy)
      throw new NotFoundException(`site '${siteId}' has no duty-check configuration in callouts.yaml`);
    const busy = this.running.get(siteId);
    if (busy?.machine.running) {
      if (trigger === 'schedule')
        this.log.warn('scheduled duty check skipped: the previous one is still running', {
          siteId,
          running: busy.machine.id,
        });
      throw new ConflictException(`a duty check of '${siteId}' is already running (${busy.machine.id})`);
    }
    const machine = DutyCheckMachine.start(
      {
        siteId,
        scheduledAt: at,
        trigger,
        callee: {
          role: 'control_room',
          name: contacts.controlRoom.name,
          number: contacts.controlRoom.number,
        },
      },
      policy,
    );
    const entry: Entry = { machine, saving: Promise.resolve() };
    this.running.set(siteId, entry);
    this.log.info('duty check started', {
      id: machine.id,
      siteId,
      trigger,
      number: contacts.controlRoom.number,
    });
    this.apply(entry, machine.tick(this.clock.now()));
    return structuredClone(machine.state);
  }

  private apply(entry: Entry, effects: DutyCheckEffect[], alarmRaised = false): void {
    const m = entry.machine;
    const snapshot = structuredClone(m.state);
    const missed = effects.some((e) => e.kind === 'finished' && e.missed);
    entry.saving = entry.saving.then(() =>
      this.store
        .saveDutyCheck(snapshot, alarmRaised || missed)
        .catch((err: unknown) =>
          this.log.error('could not persist the duty check (calls go on)', { id: m.id, err }),
        ),
    );
    const saved = entry.saving;
    for (const e of effects) {
      if (e.kind === 'place') void this.place(entry, e.attempt, saved);
      else {
        this.finished(entry, e.result, e.missed);
        const done: DutyCheckFinished = {
          id: snapshot.id,
          siteId: snapshot.siteId,
          trigger: snapshot.trigger,
          result: e.result,
          missed: e.missed,
          at: this.clock.now(),
        };
        void saved.then(() => this.finished$.next(done));
      }
    }
    entry.timer?.cancel();
    entry.timer = undefined;
    const wake = m.nextWakeAt();
    if (wake !== undefined && !this.closed)
      entry.timer = this.scheduler.after(Math.max(0, wake - this.clock.now()), () => {
        if (!this.closed) this.apply(entry, m.tick(this.clock.now()));
      });
  }

  private finished(entry: Entry, result: DutyCheckResult, missed: boolean): void {
    const s = entry.machine.state;
    this.metrics.dutyChecks.inc({ result });
    const site = this.app.plant.siteById.get(s.siteId);
    const alarmActive = this.alarms
      .records()
      .some((a) => a.ruleId === DUTY_CHECK_RULE_ID && a.siteId === s.siteId && a.active);
    const base = {
      ruleId: DUTY_CHECK_RULE_ID,
      sourceId: site?.hazardSources[0]?.id ?? s.siteId,
      siteId: s.siteId,
      condition: DUTY_CHECK_CONDITION,
      limit: null,
      ts: this.clock.now(),
    };
    if (missed) {
      const policy = this.config?.dutyChecks.get(s.siteId);
      this.log.error(
        'duty check missed: raising an alarm for the district duty desk and the main responsible person',
        { id: s.id, siteId: s.siteId, result, attempts: s.attempts.length },
      );
      this.external.emit({
        ...base,
        active: true,
        priority: policy?.missedPriority ?? 'high',
        value: result,
        message: `值班抽查未通过：${site?.name ?? s.siteId} 中控室${RESULT_ZH[result]}（${s.attempts.length} 次呼叫）`,
      });
    } else {
      this.log.info('duty check passed', { id: s.id, siteId: s.siteId });
      if (alarmActive)
        this.external.emit({
          ...base,
          active: false,
          priority: 'high',
          value: result,
          message: `值班抽查通过：${site?.name ?? s.siteId} 中控室在岗`,
        });
    }
  }

  private async place(entry: Entry, a: DutyAttempt, saved: Promise<void>): Promise<void> {
    const runner = this.runner;
    const s = entry.machine.state;
    const policy = this.config?.dutyChecks.get(s.siteId);
    if (!runner || !policy) return;
    await saved;
    const site = this.app.plant.siteById.get(s.siteId);
    const prompt = dutyCheckPrompt({ siteName: site?.name ?? s.siteId, confirmKey: policy.confirmKey });
    const result = await runner.run(
      {
        id: a.id,
        dutyCheckId: s.id,
        siteId: s.siteId,
        calleeRole: a.callee.role,
        calleeName: a.callee.name,
        number: a.callee.number,
        attemptNo: a.attemptNo,
        placedAt: a.placedAt ?? this.clock.now(),
        provider: runner.provider,
        promptVersion: prompt.version,
      },
      voiceRequest(a, prompt, policy, 'duty_check'),
      () => undefined,
    );
    this.log.info('duty check call ended', {
      id: s.id,
      attemptId: a.id,
      outcome: result.outcome,
      digits: result.digits,
    });
    this.apply(entry, entry.machine.callEnded(a.id, result.outcome, this.clock.now()));
  }
}
