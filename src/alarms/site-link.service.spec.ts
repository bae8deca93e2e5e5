/**
 * Site link supervision through the alarm service (virtual time, demo plant: bohai-chem has 25 devices). When the
 * site's link drops, ONE `site_offline` alarm is announced and ONE CAP alert goes to the regulator feed; the 25 device
 * alarms are recorded but suppressed. When the link returns, the devices still without data re-announce one by one.
 */
import { join } from 'node:path';
import { Subject } from 'rxjs';
import { makeAlarmTestConfig, makeCondition, makePrincipal, T0 } from '../../test/factories/alarm.factory';
import { ScopeService } from '../auth/scope.service';
import { ManualClock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { loadPlant } from '../config/config.loader';
import { decideCapMessage, type Incident } from '../regulator/domain/incident.policy';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { toAlarmSettings, AlarmSettingsSchema } from './alarm-settings.loader';
import { AlarmService } from './alarm.service';
import type { AlarmEventDto } from './domain/alarm.types';
import type { ConditionChange } from './domain/condition-change';
import { InMemoryAlarmStore } from './testing/in-memory-alarm.store';
import { ManualScheduler, settle } from '../common/testing/manual.scheduler';

const plant = loadPlant(join(__dirname, '..', '..', 'config'));
const SITE = 'bohai-chem';
const DEVICES = [...plant.deviceByKey.values()].filter((d) => d.siteId === SITE).map((d) => d.id);

const stale = (deviceId: string, active: boolean, ts: number): ConditionChange =>
  makeCondition({
    ruleId: `stale:${deviceId}`,
    siteId: SITE,
    sourceId: 'bhc-cl2',
    deviceId,
    condition: 'stale',
    active,
    ts,
    priority: 'medium',
    value: null,
    limit: 15,
    message: `${deviceId} silent`,
  });

async function boot(siteLink = true) {
  const clock = new ManualClock(T0);
  const scheduler = new ManualScheduler(clock);
  const conditions = new Subject<ConditionChange>();
  const config = { ...makeAlarmTestConfig(), plant };
  const schema = Object.assign(new AlarmSettingsSchema(), {});
  if (!siteLink) schema.siteLink.enabled = false;
  const service = new AlarmService(
    new InMemoryAlarmStore(),
    clock,
    conditions,
    toAlarmSettings(schema),
    config,
    new ScopeService(config),
    new HazwatchMetrics(false),
    scheduler,
    { actionCommitWaitMs: 0, shutdownDrainMs: 0 },
  );
  const events: AlarmEventDto[] = [];
  service.events$.subscribe((e) => events.push(e));
  service.start();
  await service.whenReady();
  return { service, clock, scheduler, conditions, events };
}

/** The CAP messages the regulator feed would send for these events (the feed projector's decision, per alarm). */
function capAlerts(events: readonly AlarmEventDto[]): AlarmEventDto[] {
  const incidents = new Map<string, Incident>();
  const alerts: AlarmEventDto[] = [];
  for (const e of events) {
    const d = decideCapMessage(e, incidents.get(e.id));
    if (!d) continue;
    incidents.set(e.id, d.incident);
    if (d.msgType === 'Alert') alerts.push(e);
  }
  return alerts;
}

const announced = (events: readonly AlarmEventDto[]): string[] =>
  events
    .filter((e) => e.state === 'unacknowledged' && ['raised', 'unsuppressed', 'realarm'].includes(e.event))
    .map((e) => `${e.deviceId ?? e.siteId}:${e.condition}`);

describe('site link supervision in the alarm service', () => {
  beforeAll(() => JsonLogger.setLevel('error'));

  it(`should announce one site_offline alarm and one CAP alert, not ${DEVICES.length}, when the whole site goes silent`, async () => {
    expect(DEVICES).toHaveLength(25);
    const h = await boot();
    // the devices go stale over 4 s (different publish periods): all inside the hold window
    DEVICES.forEach((d, i) => {
      h.clock.set(T0 + i * 200);
      h.conditions.next(stale(d, true, T0 + i * 200));
    });
    await h.scheduler.advance(60_000);
    await settle();
    expect(announced(h.events)).toEqual([`${SITE}:site_offline`]);
    expect(capAlerts(h.events).map((e) => e.condition)).toEqual(['site_offline']);
    const records = h.service.records().filter((r) => r.siteId === SITE);
    const site = records.find((r) => r.condition === 'site_offline');
    expect(site).toMatchObject({
      state: 'unacknowledged',
      active: true,
      priority: 'high',
      value: Math.ceil(0.8 * DEVICES.length), // raised when 80 % of the site is lost
      limit: DEVICES.length,
    });
    expect(site?.message).toContain('数据中断');
    // every device alarm is still recorded (journal) and shown in the suppressed view, never announced
    const staleRecs = records.filter((r) => r.condition === 'stale');
    expect(staleRecs).toHaveLength(25);
    expect(
      staleRecs.every((r) => r.state === 'suppressed' && r.active && r.suppressedBy.includes('site-offline')),
    ).toBe(true);
    expect(h.events.filter((e) => e.condition === 'stale' && e.event === 'raised')).toHaveLength(25);
    await h.service.stop();
  });

  it('should clear the site alarm when the link returns and re-announce, one by one, the devices still silent', async () => {
    const h = await boot();
    DEVICES.forEach((d) => h.conditions.next(stale(d, true, T0)));
    h.clock.set(T0 + 30_000);
    const before = h.events.length;
    // 19 devices report again; 3 stay silent (e.g. broken in the meantime)
    for (const d of DEVICES.slice(0, 19)) h.conditions.next(stale(d, false, T0 + 30_000));
    expect(h.service.records().find((r) => r.condition === 'site_offline')?.active).toBe(true); // stragglers' window
    await h.scheduler.advance(20_000);
    await settle();
    const after = h.events.slice(before);
    const site = h.service.records().find((r) => r.condition === 'site_offline');
    expect(site).toMatchObject({ active: false, state: 'rtn_unacknowledged' });
    expect(announced(after)).toEqual(DEVICES.slice(19).map((d) => `${d}:stale`));
    expect(capAlerts(h.events).map((e) => `${e.deviceId ?? e.siteId}:${e.condition}`)).toEqual([
      `${SITE}:site_offline`,
      ...DEVICES.slice(19).map((d) => `${d}:stale`),
    ]);
    await h.service.stop();
  });

  it('should announce a single device that goes silent on its own after the hold window, and raise no site alarm', async () => {
    const h = await boot();
    h.conditions.next(stale(DEVICES[0]!, true, T0));
    expect(announced(h.events)).toEqual([]);
    await h.scheduler.advance(20_000);
    expect(announced(h.events)).toEqual([`${DEVICES[0]}:stale`]);
    expect(h.service.records().some((r) => r.condition === 'site_offline')).toBe(false);
    await h.service.stop();
  });

  it(`should announce all ${DEVICES.length} device alarms when site link supervision is off (the flood it prevents)`, async () => {
    const h = await boot(false);
    DEVICES.forEach((d) => h.conditions.next(stale(d, true, T0)));
    expect(announced(h.events)).toHaveLength(25);
    expect(capAlerts(h.events)).toHaveLength(25);
    await h.service.stop();
  });

  it('should report the online rate per enterprise per day from the journal, within the caller’s jurisdiction', async () => {
    const h = await boot();
    const dayStart = Date.UTC(2026, 10, 24) - 8 * 3_600_000; // 2026-11-24 00:00 CST (T0 is 18:00 CST)
    // the whole site silent from T0 for 3 h, then back
    DEVICES.forEach((d) => h.conditions.next(stale(d, true, T0)));
    h.clock.set(T0 + 3 * 3_600_000);
    DEVICES.forEach((d) => h.conditions.next(stale(d, false, T0 + 3 * 3_600_000)));
    await settle();
    const binhai = makePrincipal('regulator', 'tianjin/binhai', 'Binhai ESB');
    const rows = await h.service.onlineRate(dayStart, dayStart + 86_400_000, binhai);
    const bohai = rows.find((r) => r.siteId === SITE);
    // 25 devices × 3 h lost of 25 × 24 h: 87.5 % online
    expect(bohai).toMatchObject({
      day: '2026-11-24',
      devices: 25,
      onlinePercent: 87.5,
      offlineDeviceHours: 75,
    });
    expect(rows.every((r) => r.siteId === SITE || r.onlinePercent === 100)).toBe(true);
    const wuqing = makePrincipal('regulator', 'tianjin/wuqing', 'Wuqing ESB');
    expect(
      (await h.service.onlineRate(dayStart, dayStart + 86_400_000, wuqing)).map((r) => r.siteId),
    ).not.toContain(SITE);
    await h.service.stop();
  });
});
