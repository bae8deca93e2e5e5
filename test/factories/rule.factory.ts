import type { LimitRule, LimitSpec } from '../../src/rules/domain/rule-spec';

export function makeLimitSpec(over: Partial<LimitSpec> = {}): LimitSpec {
  return {
    condition: 'HH',
    direction: 'high',
    value: 90,
    deadband: 5,
    onDelayMs: 0,
    offDelayMs: 0,
    priority: 'high',
    ...over,
  };
}

export function makeLimitRule(
  limits: LimitSpec[] = [makeLimitSpec()],
  over: Partial<LimitRule> = {},
): LimitRule {
  return {
    kind: 'limit',
    ruleId: 'limit:cl-gd-1:conc',
    siteId: 'bohai-chem',
    sourceId: 'bhc-cl2',
    deviceId: 'cl-gd-1',
    channel: 'conc',
    unit: 'mg/m3',
    limits,
    ...over,
  };
}

/** Compact form of a condition change for marble expectations: 'HH+' raised, 'HH-' cleared, 'HH!critical' priority change. */
export function brief(c: {
  condition: string;
  active: boolean;
  priority: string;
  deviceId?: string;
}): string {
  return `${c.deviceId ? c.deviceId + ':' : ''}${c.condition}${c.active ? '+' : '-'}`;
}
