/** The AlarmService over in-memory storage in virtual time, for the service specs (src/alarms/*.spec.ts). */
import { Subject } from 'rxjs';
import { makeAlarmTestConfig, makeCondition, makePrincipal, T0 } from '../../../test/factories/alarm.factory';
import { ScopeService } from '../../auth/scope.service';
import { ManualClock } from '../../common/clock';
import { HazwatchMetrics } from '../../metrics/metrics.registry';
import { AlarmService, type AlarmServiceOptions, type AlarmSystemStatus } from '../alarm.service';
import { alarmId } from '../domain/alarm-id';
import { DEFAULT_ALARM_SETTINGS, type AlarmSettings } from '../domain/alarm-settings';
import type { AlarmEventDto } from '../domain/alarm.types';
import type { ConditionChange } from '../domain/condition-change';
import type { PendingSpool } from '../alarm-pending.spool';
import { InMemoryAlarmStore } from './in-memory-alarm.store';
import { ManualScheduler } from '../../common/testing/manual.scheduler';

export const MIN = 60_000;
export const operator = makePrincipal('operator', 'tianjin/binhai', 'control room bohai');
export const supervisor = makePrincipal('supervisor', 'tianjin/binhai', 'shift supervisor');
export const regulator = makePrincipal('regulator', 'tianjin/binhai', 'Binhai ESB');
export const wuqingOperator = makePrincipal('operator', 'tianjin/wuqing', 'control room wuqing');
export const admin = makePrincipal('admin', '', 'admin');

export const GAS = makeCondition();
export const GAS_ID = alarmId(GAS);

export type Harness = {
  service: AlarmService;
  store: InMemoryAlarmStore;
  clock: ManualClock;
  scheduler: ManualScheduler;
  conditions: Subject<ConditionChange>;
  events: AlarmEventDto[];
  statuses: AlarmSystemStatus[];
  metrics: HazwatchMetrics;
};

export async function harness(
  opts: {
    settings?: Partial<AlarmSettings>;
    store?: InMemoryAlarmStore;
    clock?: ManualClock;
    options?: Partial<AlarmServiceOptions>;
    wait?: boolean;
    spool?: PendingSpool;
    seed?: (active: ConditionChange[]) => void;
  } = {},
): Promise<Harness> {
  const clock = opts.clock ?? new ManualClock(T0);
  const scheduler = new ManualScheduler(clock);
  const store = opts.store ?? new InMemoryAlarmStore();
  const conditions = new Subject<ConditionChange>();
  const metrics = new HazwatchMetrics(false);
  const config = makeAlarmTestConfig();
  const service = new AlarmService(
    store,
    clock,
    conditions,
    { ...DEFAULT_ALARM_SETTINGS, ...opts.settings },
    config,
    new ScopeService(config),
    metrics,
    scheduler,
    {
      writeQueue: { maxBatch: 100, retryInitialMs: 100, retryMaxMs: 1_000, warnAbove: 10_000 },
      actionCommitWaitMs: 0,
      shutdownDrainMs: 0,
      ...opts.options,
    },
    opts.spool,
    opts.seed,
  );
  const events: AlarmEventDto[] = [];
  const statuses: AlarmSystemStatus[] = [];
  service.events$.subscribe((e) => events.push(e));
  service.status$.subscribe((s) => statuses.push(s));
  service.start();
  if (opts.wait !== false) await service.whenReady();
  return { service, store, clock, scheduler, conditions, events, statuses, metrics };
}

export const gauge = async (
  m: HazwatchMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> => {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value;
};
