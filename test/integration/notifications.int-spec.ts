/**
 * The call-out repository on real PostgreSQL (TEST_DATABASE_URL, real migrations): idempotent attempts and provider
 * events, first end report wins, filters, the monthly duty summary, and a call-out resumed from the database after a
 * restart without calling the interrupted step again.
 */
import { Pool } from 'pg';
import { Subject } from 'rxjs';
import { makeAlarmTestConfig, makeCondition } from '../factories/alarm.factory';
import { AlarmService } from '../../src/alarms/alarm.service';
import { DEFAULT_ALARM_SETTINGS } from '../../src/alarms/domain/alarm-settings';
import type { ConditionChange } from '../../src/alarms/domain/condition-change';
import { InMemoryAlarmStore } from '../../src/alarms/testing/in-memory-alarm.store';
import { ManualScheduler, settle } from '../../src/common/testing/manual.scheduler';
import { ScopeService } from '../../src/auth/scope.service';
import { ManualClock } from '../../src/common/clock';
import { JsonLogger } from '../../src/common/logger';
import { validateInto } from '../../src/config/config.loader';
import { HazwatchMetrics } from '../../src/metrics/metrics.registry';
import { toCalloutsConfig } from '../../src/notifications/callouts.loader';
import { CalloutsFileSchema } from '../../src/notifications/callouts.schema';
import { CalloutRepository } from '../../src/notifications/callout.repository';
import { CalloutService } from '../../src/notifications/callout.service';
import { DutyCheckMachine } from '../../src/notifications/domain/duty-check.machine';
import { EscalationMachine } from '../../src/notifications/domain/escalation.machine';
import { FakeVoiceProvider } from '../../src/notifications/voice/fake-voice.provider';
import { pollUntil } from '../setup/poll-until';
import { describeWithDb, prepareTestDatabase, TEST_DATABASE_URL, uniqueId } from '../setup/test-db';

const describeDb = describeWithDb('notifications.int-spec.ts');

describeDb('call-out records on PostgreSQL', () => {
  let pool: Pool;
  let repo: CalloutRepository;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    await prepareTestDatabase(TEST_DATABASE_URL as string);
    pool = new Pool({ connectionString: TEST_DATABASE_URL });
    repo = new CalloutRepository(pool);
  });
  afterAll(async () => {
    await pool?.end();
  });

  const policy = (siteId = 'bohai-chem') =>
    toCalloutsConfig(
      validateInto(
        CalloutsFileSchema,
        {
          sites: [
            {
              siteId,
              controlRoom: { name: 'room', number: 'sip:8001@pbx' },
              responsible: { operations: [{ name: '王强', number: '+8613800000003' }] },
            },
          ],
        },
        'callouts.yaml',
      ),
      makeAlarmTestConfig({ binhai: siteId }).plant,
      'callouts.yaml',
      true,
    );

  it('should keep one attempt row, the first end report and each provider event once when callbacks repeat', async () => {
    const site = uniqueId('site');
    const m = EscalationMachine.start(
      {
        alarmId: `al-${uniqueId('x')}`,
        siteId: site,
        sourceId: 'src',
        ruleId: 'r',
        priority: 'critical',
        message: 'm',
        raisedAt: Date.now(),
      },
      policy().policy,
      (role) => ({ callee: { role, name: 'room', number: 'sip:8001@pbx' } }),
    );
    const [place] = m.tick(Date.now());
    if (place?.kind !== 'place') throw new Error('expected a call');
    await repo.saveCallout(m.state);
    const row = {
      id: place.attempt.id,
      calloutId: m.id,
      alarmId: m.state.alarmId,
      siteId: site,
      calleeRole: 'control_room' as const,
      calleeName: 'room',
      number: 'sip:8001@pbx',
      loop: 1,
      step: 1,
      attemptNo: 1,
      placedAt: Date.now(),
      provider: 'sip',
      promptVersion: 'zh-1-abcdef01',
    };
    await repo.insertAttempt(row);
    await repo.insertAttempt({ ...row, calleeName: 'changed' });
    for (let i = 0; i < 2; i++) {
      await repo.addEvent({ attemptId: row.id, key: 'invite:1', at: Date.now(), kind: 'invite_sent' });
      await repo.addEvent({
        attemptId: row.id,
        key: 'answered',
        at: Date.now(),
        kind: 'answered',
        sipCode: 200,
      });
    }
    expect(
      await repo.finishAttempt(row.id, {
        outcome: 'ACKED',
        endedAt: Date.now(),
        digits: '1',
        sipCode: 200,
        sipStatus: 'OK',
        providerCallId: 'abc@hazwatch',
      }),
    ).toBe(true);
    expect(await repo.finishAttempt(row.id, { outcome: 'NO_ANSWER', endedAt: Date.now(), digits: '' })).toBe(
      false,
    );
    const [c] = await repo.listCallouts({ siteId: site, limit: 5 });
    expect(c?.attempts).toHaveLength(1);
    expect(c?.attempts[0]).toMatchObject({
      calleeName: 'room',
      outcome: 'ACKED',
      digits: '1',
      sipCode: 200,
      providerCallId: 'abc@hazwatch',
      promptVersion: 'zh-1-abcdef01',
    });
    expect(c?.attempts[0]?.events.map((e) => e.kind)).toEqual(['invite_sent', 'answered']);
    expect(await repo.listCallouts({ siteId: site, outcome: 'NO_ANSWER', limit: 5 })).toEqual([]);
    expect(
      (await repo.listCallouts({ siteIds: [site], outcome: 'ACKED', limit: 5 })).map((x) => x.id),
    ).toEqual([m.id]);
    expect(await repo.listCallouts({ siteIds: ['elsewhere'], limit: 5 })).toEqual([]);
  });

  it('should list call-outs still running at the start of a window when asked (the incident dossier)', async () => {
    const site = uniqueId('site');
    const t0 = Date.now() - 3_600_000;
    const start = (alarmId: string, raisedAt: number): EscalationMachine =>
      EscalationMachine.start(
        { alarmId, siteId: site, sourceId: 'src', ruleId: 'r', priority: 'critical', message: 'm', raisedAt },
        policy().policy,
        (role) => ({ callee: { role, name: 'room', number: 'sip:8001@pbx' } }),
      );
    const running = start(`al-${uniqueId('run')}`, t0);
    running.tick(t0);
    await repo.saveCallout(running.state);
    const inside = start(`al-${uniqueId('in')}`, t0 + 30 * 60_000);
    inside.tick(t0 + 30 * 60_000);
    await repo.saveCallout(inside.state);
    const window = { siteId: site, from: t0 + 20 * 60_000, to: t0 + 40 * 60_000, limit: 10 };
    expect((await repo.listCallouts(window)).map((c) => c.id)).toEqual([inside.id]);
    expect((await repo.listCallouts({ ...window, overlapping: true })).map((c) => c.id).sort()).toEqual(
      [inside.id, running.id].sort(),
    );
    // a window after both started: only those not yet ended
    expect(
      (await repo.listCallouts({ ...window, from: t0 + 50 * 60_000, to: Date.now(), overlapping: true }))
        .length,
    ).toBe(2);
  });

  it('should refuse an attempt row that belongs to neither a call-out nor a duty check', async () => {
    await expect(
      repo.insertAttempt({
        id: uniqueId('a'),
        siteId: 's',
        calleeRole: 'control_room',
        calleeName: 'x',
        number: '1',
        attemptNo: 1,
        placedAt: Date.now(),
        provider: 'fake',
      }),
    ).rejects.toThrow(/check constraint/);
  });

  it('should summarise duty checks of a month per site and result', async () => {
    const site = uniqueId('duty');
    const base = Date.UTC(2031, 4, 10, 2); // May 2031
    const dutyPolicy = policy().dutyChecks.get('bohai-chem')!;
    for (const [i, outcome] of (['ACKED', 'ACKED', 'NO_ANSWER'] as const).entries()) {
      const m = DutyCheckMachine.start(
        {
          siteId: site,
          scheduledAt: base + i * 3_600_000,
          trigger: 'schedule',
          callee: { role: 'control_room', name: 'room', number: '1' },
        },
        { ...dutyPolicy, retries: 0 },
      );
      m.tick(base + i * 3_600_000);
      const fx = m.callEnded(m.state.attempts[0]!.id, outcome, base + i * 3_600_000 + 20_000);
      await repo.saveDutyCheck(
        m.state,
        fx.some((e) => e.kind === 'finished' && e.missed),
      );
    }
    const rows = await repo.dutySummary(
      Date.UTC(2031, 4, 1) - 8 * 3_600_000,
      Date.UTC(2031, 5, 1) - 8 * 3_600_000,
      [site],
    );
    expect(rows.sort((a, b) => a.result.localeCompare(b.result))).toEqual([
      { siteId: site, result: 'no_answer', count: 1 },
      { siteId: site, result: 'on_duty', count: 2 },
    ]);
    const missed = await repo.listDutyChecks({ siteId: site, result: 'no_answer', limit: 5 });
    expect(missed).toEqual([expect.objectContaining({ alarmRaised: true, status: 'done' })]);
  });

  it('should resume a call-out from the database after a restart without calling the interrupted step again', async () => {
    const clock = new ManualClock(Date.now());
    const alarmStore = new InMemoryAlarmStore();
    const ruleId = uniqueId('restart');
    const siteId = uniqueId('restart');
    const boot = async () => {
      const scheduler = new ManualScheduler(clock);
      const app = makeAlarmTestConfig({ binhai: siteId });
      const metrics = new HazwatchMetrics(false);
      const conditions = new Subject<ConditionChange>();
      const alarms = new AlarmService(
        alarmStore,
        clock,
        conditions,
        DEFAULT_ALARM_SETTINGS,
        app,
        new ScopeService(app),
        metrics,
        scheduler,
        { actionCommitWaitMs: 0, shutdownDrainMs: 0 },
      );
      alarms.start();
      await alarms.whenReady();
      const config = policy(siteId);
      const voice = new FakeVoiceProvider(
        { callMs: 30_000, defaultOutcome: 'ANSWERED_NO_ACK', byNumber: new Map() },
        clock,
        scheduler,
      );
      const callouts = new CalloutService(alarms, config, repo, voice, clock, app, metrics, scheduler);
      callouts.onModuleInit();
      await callouts.whenRecovered();
      return {
        alarms,
        conditions,
        voice,
        callouts,
        scheduler,
        stop: async () => (await callouts.onModuleDestroy(), await alarms.stop()),
      };
    };
    const a = await boot();
    a.conditions.next(makeCondition({ ruleId, siteId, priority: 'critical', ts: clock.now() }));
    await settle();
    const alarmId = a.alarms.records().find((r) => r.ruleId === ruleId)!.id;
    await pollUntil(() => a.voice.placed.length > 0, { what: 'the control room called' });
    expect(a.voice.placed.map((p) => p.number)).toEqual(['sip:8001@pbx']);
    await a.stop(); // the call is still ringing
    clock.advance(10_000);
    const b = await boot();
    const c = await pollUntil(
      async () =>
        (await repo.listCallouts({ alarmId, limit: 1 })).find((x) => x.attempts[0]?.outcome !== undefined),
      { what: 'the interrupted attempt recorded' },
    );
    expect(c?.attempts.map((x) => [x.number, x.outcome])).toEqual([['sip:8001@pbx', 'FAILED']]);
    expect(c?.attempts[0]?.detail).toContain('interrupted');
    await b.scheduler.advance(3 * 60_000);
    await pollUntil(() => b.voice.placed.length > 0, { what: 'the next step called' });
    expect(b.voice.placed.map((p) => p.number)).toEqual(['+8613800000003']);
    await b.stop();
  });
});
