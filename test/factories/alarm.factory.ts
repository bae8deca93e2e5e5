import type { Principal, Role } from '../../src/auth/principal';
import type { AppConfig } from '../../src/config/app-config';
import { indexPlant } from '../../src/config/config.loader';
import type { PlantSchema } from '../../src/config/plant.schema';
import type { AlarmRecord } from '../../src/alarms/domain/alarm.types';
import type { ConditionChange } from '../../src/alarms/domain/condition-change';
import { toSnapshot } from '../../src/alarms/domain/alarm-state.machine';
import { sealEntry, type JournalEntry, type SiteChainLink } from '../../src/alarms/domain/journal-chain';

export const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);

let n = 0;

/** An alarm record in any state; defaults to an unacknowledged high gas alarm raised at T0. */
export function makeAlarm(overrides: Partial<AlarmRecord> = {}): AlarmRecord {
  n += 1;
  return {
    id: `a${String(n).padStart(15, '0')}`,
    siteId: 'bohai-chem',
    sourceId: 'bhc-cl2',
    ruleId: 'gas-limit',
    deviceId: 'cl-gd-1',
    condition: 'gas_l2',
    priority: 'high',
    value: 2.4,
    limit: 2,
    message: 'chlorine level 2',
    state: 'unacknowledged',
    active: true,
    acked: false,
    latching: false,
    raisedAt: T0,
    seq: 1,
    suppressedBy: [],
    ...overrides,
  };
}

/** The `raised` journal entry of an alarm at `seq`, sealed onto `prev` (with a site-chain link for a cluster row). */
export function raisedEntry(
  alarm: AlarmRecord,
  seq: number,
  prev: string,
  site?: SiteChainLink,
): JournalEntry {
  return sealEntry(prev, {
    seq,
    at: T0 + seq,
    alarmId: alarm.id,
    siteId: alarm.siteId,
    event: 'raised',
    fromState: 'normal',
    toState: 'unacknowledged',
    actor: 'hazwatch',
    actorRole: 'system',
    comment: null,
    snapshot: toSnapshot(alarm),
    ...(site ? { site } : {}),
  });
}

/** A condition change from the rule engine; defaults to chlorine level 2 becoming active at T0. */
export function makeCondition(overrides: Partial<ConditionChange> = {}): ConditionChange {
  return {
    ruleId: 'gas-limit',
    sourceId: 'bhc-cl2',
    siteId: 'bohai-chem',
    deviceId: 'cl-gd-1',
    condition: 'gas_l2',
    active: true,
    priority: 'high',
    value: 2.4,
    limit: 2,
    ts: T0,
    message: 'chlorine level 2',
    ...overrides,
  };
}

const gd = (id: string, sourceId: string, area: string) => ({
  id,
  kind: 'gas_detector' as const,
  name: id,
  sourceId,
  area,
  periodS: 2,
  gas: 'chlorine',
  gasClass: 'toxic' as const,
  unit: 'mg/m3' as const,
  level1: 1,
  level2: 2,
});
const source = (id: string) => ({
  id,
  name: id,
  unitType: 'storage' as const,
  peopleWithin500m: 10,
  filedGrade: 2,
  substances: [],
});

/** Two enterprises in two districts (binhai, wuqing): enough for scope tests. Sites can be renamed for isolation. */
export function makeAlarmTestConfig(sites: { binhai?: string; wuqing?: string } = {}): AppConfig {
  const bh = sites.binhai ?? 'bohai-chem';
  const wq = sites.wuqing ?? 'wuqing-gas';
  const plant = {
    sites: [
      {
        id: bh,
        name: bh,
        jurisdiction: 'tianjin/binhai/nangang',
        location: { lat: 38.7, lon: 117.5 },
        hazardSources: [source('bhc-cl2'), source('bhc-nh3')],
        devices: [
          gd('cl-gd-1', 'bhc-cl2', 'cl-a1'),
          gd('cl-gd-2', 'bhc-cl2', 'cl-a1'),
          gd('nh-gd-1', 'bhc-nh3', 'nh-a1'),
        ],
      },
      {
        id: wq,
        name: wq,
        jurisdiction: 'tianjin/wuqing/xiazhuang',
        location: { lat: 39.4, lon: 117.0 },
        hazardSources: [source('wq-lpg')],
        devices: [gd('wq-gd-1', 'wq-lpg', 'wq-a1')],
      },
    ],
  } as unknown as PlantSchema;
  return {
    env: {} as AppConfig['env'],
    configDir: '/nonexistent',
    dataDir: '/nonexistent',
    plant: indexPlant(plant),
  };
}

export function makePrincipal(role: Role, scope = '', name = `${role} token`): Principal {
  return { tokenId: `${role}0000000`.slice(0, 12), name, role, scope };
}
