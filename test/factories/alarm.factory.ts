import type { AlarmRecord } from '../../src/alarms/domain/alarm.types';
import type { ConditionChange } from '../../src/alarms/domain/condition-change';

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
