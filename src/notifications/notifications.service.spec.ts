import { Subject, merge } from 'rxjs';
import { makeAlarmTestConfig, makeCondition, T0 } from '../../test/factories/alarm.factory';
import { AlarmService } from '../alarms/alarm.service';
import { DEFAULT_ALARM_SETTINGS } from '../alarms/domain/alarm-settings';
import type { ConditionChange } from '../alarms/domain/condition-change';
import { ExternalConditions } from '../alarms/external-conditions';
import { InMemoryAlarmStore } from '../alarms/testing/in-memory-alarm.store';
import { ManualScheduler, settle } from '../common/testing/manual.scheduler';
import { ScopeService } from '../auth/scope.service';
import { ManualClock } from '../common/clock';
import { JobGates } from '../common/job-gate';
import { JsonLogger } from '../common/logger';
import { validateInto } from '../config/config.loader';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { toCalloutsConfig } from './callouts.loader';
import { CalloutsFileSchema } from './callouts.schema';
import { CalloutService } from './callout.service';
import { DUTY_CHECK_RULE_ID, DutyCheckService } from './duty-check.service';
import { InMemoryCalloutStore } from './testing/in-memory-callout.store';
import { VOICE_FAILURE_RULE_ID, VoiceHealth } from './voice-health.service';
import { FakeVoiceProvider } from './voice/fake-voice.provider';

const MIN = 60_000;
const ROOM = 'sip:8001@pbx';
const OPS = '+8613800000003';
const MAIN = '+8613800000001';
const DESK = '+862225201110';

const FILE = {
  voice: { provider: 'fake', fake: { callSeconds: 10, default: 'ANSWERED_NO_ACK' } },
  dutyCheck: { cron: '0 21 * * *', retryAfterSeconds: 300 },
  dutyDesks: [
    { id: 'binhai', name: '滨海新区应急管理局值班室', jurisdiction: 'tianjin/binhai', number: DESK },
  ],
  policy: {
    ruleLadders: [
      { ruleIdPrefix: 'ext:duty-check', ladder: [{ targets: ['duty_desk', 'main'], afterSeconds: 0 }] },
    ],
  },
  sites: [
    {
      siteId: 'bohai-chem',
      controlRoom: { name: '渤海化工中控室', number: ROOM },
      responsible: {
        main: [{ name: '张建国', number: MAIN }],
        technical: [{ name: '李明', number: '+8613800000002' }],
        operations: [{ name: '王强', number: OPS }],
      },
    },
  ],
};

type World = Awaited<ReturnType<typeof boot>>;

async function boot(
  store = new InMemoryCalloutStore(),
  alarmStore = new InMemoryAlarmStore(),
  clock = new ManualClock(T0),
  gates?: JobGates,
) {
  const scheduler = new ManualScheduler(clock);
  const app = makeAlarmTestConfig();
  const metrics = new HazwatchMetrics(false);
  const conditions = new Subject<ConditionChange>();
  const external = new ExternalConditions();
  const alarms = new AlarmService(
    alarmStore,
    clock,
    merge(conditions, external.conditions$),
    DEFAULT_ALARM_SETTINGS,
    app,
    new ScopeService(app),
    metrics,
    scheduler,
    {
      actionCommitWaitMs: 0,
      shutdownDrainMs: 0,
    },
  );
  alarms.start();
  await alarms.whenReady();
  const config = toCalloutsConfig(
    validateInto(CalloutsFileSchema, structuredClone(FILE), 'callouts.yaml'),
    app.plant,
    'callouts.yaml',
    true,
  );
  const voice = new FakeVoiceProvider(config.voice.fake, clock, scheduler);
  const health = new VoiceHealth(external, alarms, app, clock);
  const callouts = new CalloutService(alarms, config, store, voice, clock, app, metrics, scheduler, health);
  callouts.onModuleInit();
  await callouts.whenRecovered();
  const duty = new DutyCheckService(
    config,
    store,
    voice,
    clock,
    app,
    alarms,
    external,
    metrics,
    scheduler,
    () => 0,
    undefined,
    gates,
  );
  duty.onModuleInit();
  await duty.whenStarted();
  const stop = async (): Promise<void> => {
    await callouts.onModuleDestroy();
    await duty.onModuleDestroy();
    await alarms.stop();
  };
  return { clock, scheduler, alarms, conditions, store, alarmStore, voice, callouts, duty, metrics, stop };
}

const raise = async (w: World, over: Partial<ConditionChange> = {}): Promise<string> => {
  w.conditions.next(makeCondition({ priority: 'critical', ts: w.clock.now(), ...over }));
  await settle();
  const a = w.alarms.records().find((r) => r.ruleId === (over.ruleId ?? 'gas-limit'));
  if (!a) throw new Error('alarm not raised');
  return a.id;
};
const numbersCalled = (w: World): string[] => w.voice.placed.map((r) => r.number);

describe('CalloutService and DutyCheckService (fake voice, in-memory stores, virtual time)', () => {
  beforeAll(() => JsonLogger.setLevel('error'));

  it('should call the control room at once for a critical alarm and acknowledge it in the journal as the callee when 1 is pressed', async () => {
    const w = await boot();
    w.voice.script(ROOM, ['ACKED']);
    const id = await raise(w);
    expect(numbersCalled(w)).toEqual([ROOM]);
    expect(w.voice.placed[0]?.prompt.text).toContain('请按1键');
    await w.scheduler.advance(10_000);
    const rec = w.alarms.record(id);
    expect(rec).toMatchObject({ acked: true, state: 'acknowledged' });
    expect(rec?.ackedBy).toContain('电话确认 渤海化工中控室 中控室 sip:8001@pbx');
    const [callout] = await w.store.listCallouts({ limit: 10 });
    expect(callout).toMatchObject({ alarmId: id, status: 'acked', stopReason: 'key_ack' });
    expect(callout?.attempts).toEqual([
      expect.objectContaining({
        calleeRole: 'control_room',
        number: ROOM,
        outcome: 'ACKED',
        digits: '1',
        sipCode: 200,
        provider: 'fake',
        step: 1,
        loop: 1,
        attemptNo: 1,
      }),
    ]);
    expect(callout?.attempts[0]?.events.map((e) => e.kind)).toEqual(['placed', 'answered', 'dtmf', 'ended']);
    const metrics = await w.metrics.registry.getSingleMetricAsString('hazwatch_callouts_total');
    expect(metrics).toContain('hazwatch_callouts_total{outcome="ACKED"} 1');
    await w.scheduler.advance(60 * MIN);
    expect(numbersCalled(w)).toEqual([ROOM]);
    await w.stop();
  });

  it('should escalate to the 操作负责人 when the control room answers without a key', async () => {
    const w = await boot();
    w.voice.script(ROOM, ['ANSWERED_NO_ACK']);
    w.voice.script(OPS, ['ACKED']);
    const id = await raise(w);
    await w.scheduler.advance(3 * MIN - 1);
    expect(numbersCalled(w)).toEqual([ROOM]);
    await w.scheduler.advance(1);
    expect(numbersCalled(w)).toEqual([ROOM, OPS]);
    await w.scheduler.advance(10_000);
    expect(w.alarms.record(id)?.ackedBy).toContain('电话确认 王强 操作负责人 +8613800000003');
    await w.stop();
  });

  it('should cancel the call in flight when an operator acknowledges on the console', async () => {
    const w = await boot();
    const id = await raise(w);
    await w.scheduler.advance(3_000);
    await w.alarms.ack(id, { tokenId: 't1', name: 'console operator', role: 'operator', scope: '' });
    await settle();
    const [callout] = await w.store.listCallouts({ limit: 10 });
    expect(callout).toMatchObject({ status: 'stopped', stopReason: 'console_ack' });
    expect(callout?.attempts.map((a) => a.outcome)).toEqual(['CANCELED']);
    await w.scheduler.advance(60 * MIN);
    expect(numbersCalled(w)).toEqual([ROOM]);
    expect(w.callouts.active()).toEqual([]);
    await w.stop();
  });

  it('should stop calling when the alarm clears', async () => {
    const w = await boot();
    w.voice.script(ROOM, ['BUSY']);
    await raise(w);
    await w.scheduler.advance(10_000);
    w.conditions.next(makeCondition({ priority: 'critical', active: false, ts: w.clock.now() }));
    await settle();
    await w.scheduler.advance(30 * MIN);
    expect(numbersCalled(w)).toEqual([ROOM]);
    expect((await w.store.listCallouts({ limit: 1 }))[0]).toMatchObject({
      status: 'stopped',
      stopReason: 'cleared',
    });
    await w.stop();
  });

  it('should not call for a priority outside the policy', async () => {
    const w = await boot();
    await raise(w, { priority: 'medium' });
    await w.scheduler.advance(30 * MIN);
    expect(numbersCalled(w)).toEqual([]);
    await w.stop();
  });

  it('should start a call-out when an acknowledged alarm is re-announced because its priority rose to critical', async () => {
    const w = await boot();
    const id = await raise(w, { priority: 'medium' });
    await w.alarms.ack(id, { tokenId: 't1', name: 'console operator', role: 'operator', scope: '' });
    await settle();
    expect(numbersCalled(w)).toEqual([]);
    w.conditions.next(makeCondition({ priority: 'critical', ts: w.clock.now(), message: 'escalated' }));
    await settle();
    expect(w.alarms.record(id)).toMatchObject({
      state: 'unacknowledged',
      acked: false,
      priority: 'critical',
    });
    expect(numbersCalled(w)).toEqual([ROOM]);
    await w.stop();
  });

  it('should resume after a restart mid-escalation without calling the interrupted step again', async () => {
    const store = new InMemoryCalloutStore();
    const alarmStore = new InMemoryAlarmStore();
    const clock = new ManualClock(T0);
    const w = await boot(store, alarmStore, clock);
    await raise(w);
    await w.scheduler.advance(2_000); // the control room call is ringing when the server stops
    await w.stop();
    clock.advance(30_000);
    const w2 = await boot(store, alarmStore, clock);
    await settle();
    const interrupted = [...store.attempts.values()][0];
    expect(interrupted).toMatchObject({ outcome: 'FAILED', number: ROOM });
    expect(interrupted?.detail).toContain('interrupted');
    await w2.scheduler.advance(3 * MIN - 32_000 - 1);
    expect(numbersCalled(w2)).toEqual([]);
    await w2.scheduler.advance(1);
    expect(numbersCalled(w2)).toEqual([OPS]);
    await w2.stop();
  });

  it('should record a passed duty check when the control room presses 1 at the scheduled time', async () => {
    const w = await boot();
    w.voice.script(ROOM, ['ACKED']);
    // T0 is 18:00 in Tianjin: the 21:00 check fires 3 h later
    expect(w.duty.nextRun.get('bohai-chem')).toBe(T0 + 3 * 3_600_000);
    await w.scheduler.advance(3 * 3_600_000);
    expect(numbersCalled(w)).toEqual([ROOM]);
    expect(w.voice.placed[0]?.prompt.text).toContain('值班值守抽查');
    await w.scheduler.advance(10_000);
    const [check] = await w.store.listDutyChecks({ limit: 10 });
    expect(check).toMatchObject({
      siteId: 'bohai-chem',
      trigger: 'schedule',
      status: 'done',
      result: 'on_duty',
      alarmRaised: false,
    });
    expect(check?.attempts.map((a) => [a.outcome, a.digits])).toEqual([['ACKED', '1']]);
    expect(w.duty.nextRun.get('bohai-chem')).toBe(T0 + 27 * 3_600_000);
    await w.stop();
  });

  it('should retry a missed duty check after 5 min, then raise an alarm that calls the duty desk and the main responsible person', async () => {
    const w = await boot();
    w.voice.script(ROOM, ['NO_ANSWER', 'NO_ANSWER']);
    w.duty.run('bohai-chem', 'manual');
    await w.scheduler.advance(10_000);
    expect(w.alarms.records().filter((a) => a.ruleId === DUTY_CHECK_RULE_ID)).toEqual([]);
    await w.scheduler.advance(5 * MIN);
    expect(numbersCalled(w)).toEqual([ROOM, ROOM]);
    await w.scheduler.advance(10_000);
    const alarm = w.alarms.records().find((a) => a.ruleId === DUTY_CHECK_RULE_ID);
    expect(alarm).toMatchObject({
      siteId: 'bohai-chem',
      condition: 'duty_check_missed',
      priority: 'high',
      state: 'unacknowledged',
      value: 'no_answer',
    });
    const [check] = await w.store.listDutyChecks({ limit: 10 });
    expect(check).toMatchObject({ result: 'no_answer', alarmRaised: true, trigger: 'manual' });
    // high priority: the duty-check ladder calls the desk and 主要负责人 after the 2-minute start delay
    await w.scheduler.advance(2 * MIN);
    expect(numbersCalled(w).slice(2).sort()).toEqual([MAIN, DESK].sort());
    // the next passed check clears the alarm
    w.voice.script(ROOM, ['ACKED']);
    await w.scheduler.advance(20_000);
    w.duty.run('bohai-chem', 'manual');
    await w.scheduler.advance(10_000);
    expect(w.alarms.records().find((a) => a.ruleId === DUTY_CHECK_RULE_ID)?.active).toBe(false);
    await w.stop();
  });

  it('should raise a voice-gateway alarm after three calls in a row fail to reach the network, call nobody about it, and clear it when a call gets through', async () => {
    const w = await boot();
    for (const n of [ROOM, OPS, '+8613800000002']) w.voice.script(n, ['UNREACHABLE']);
    await raise(w);
    await w.scheduler.advance(10_000); // control room: UNREACHABLE
    await w.scheduler.advance(3 * MIN); // 操作负责人: UNREACHABLE
    expect(w.alarms.records().filter((a) => a.ruleId === VOICE_FAILURE_RULE_ID)).toEqual([]);
    await w.scheduler.advance(5 * MIN); // 技术负责人: UNREACHABLE → third in a row
    const gateway = w.alarms.records().find((a) => a.ruleId === VOICE_FAILURE_RULE_ID);
    expect(gateway).toMatchObject({
      siteId: 'bohai-chem',
      condition: 'voice_calls_failing',
      priority: 'high',
      active: true,
    });
    expect((await w.store.listCallouts({ limit: 10 })).map((c) => c.alarmId)).not.toContain(gateway?.id);
    w.voice.script(MAIN, ['ANSWERED_NO_ACK']);
    await w.scheduler.advance(5 * MIN + 10_000); // 主要负责人 answers: the network works again
    expect(w.alarms.records().find((a) => a.ruleId === VOICE_FAILURE_RULE_ID)?.active).toBe(false);
    await w.stop();
  });

  it('cluster: only the node holding the duty-check lease resumes a running check at start', async () => {
    const store = new InMemoryCalloutStore();
    const alarmStore = new InMemoryAlarmStore();
    const clock = new ManualClock(T0);
    const w = await boot(store, alarmStore, clock);
    const id = w.duty.run('bohai-chem', 'manual').id;
    await w.scheduler.advance(1_000);
    await w.stop();
    const held = new Set<string>();
    const gates = new JobGates(true);
    gates.attach({ isOwned: (k) => held.has(k) });
    const w2 = await boot(store, alarmStore, clock, gates);
    await w2.scheduler.advance(5_000);
    expect(w2.duty.runningCheck('bohai-chem')).toBeUndefined(); // another node may be resuming it
    held.add('job:duty-checks');
    await w2.scheduler.advance(1_000);
    await settle();
    expect(w2.duty.runningCheck('bohai-chem')).toBe(id);
    await w2.stop();
  });

  it('should refuse a second duty check of a site while one runs', async () => {
    const w = await boot();
    w.duty.run('bohai-chem', 'manual');
    expect(() => w.duty.run('bohai-chem', 'manual')).toThrow(/already running/);
    expect(() => w.duty.run('wuqing-gas', 'manual')).toThrow(/no duty-check configuration/);
    await w.stop();
  });
});
