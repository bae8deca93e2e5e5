/** Which design-suppression rules hold an alarm right now. Pure. */
import type { AlarmRecord } from './alarm.types';
import type { AlarmSettings, SuppressionRule } from './alarm-settings';

export type SuppressionContext = {
  /** Alarms of the same site (the trigger candidates). */
  readonly siteAlarms: Iterable<AlarmRecord>;
  /** Area of a device (`undefined` when unknown or no device). */
  readonly areaOf: (siteId: string, deviceId: string | undefined) => string | undefined;
  /** `siteId/area` keys in maintenance. */
  readonly maintenance: ReadonlySet<string>;
};

type Target = Pick<AlarmRecord, 'id' | 'siteId' | 'deviceId' | 'condition'>;

function applies(rule: SuppressionRule, a: Target): boolean {
  if (rule.exceptConditions?.includes(a.condition)) return false;
  if (rule.whileCondition !== undefined && rule.whileCondition === a.condition) return false; // the trigger never hides itself
  return rule.conditions === undefined || rule.conditions.includes(a.condition);
}

function inScope(rule: SuppressionRule, a: Target, t: AlarmRecord, ctx: SuppressionContext): boolean {
  if (t.siteId !== a.siteId) return false;
  switch (rule.scope) {
    case 'site':
      return true;
    case 'device':
      return a.deviceId !== undefined && t.deviceId === a.deviceId;
    case 'area': {
      const area = ctx.areaOf(a.siteId, a.deviceId);
      return area !== undefined && ctx.areaOf(t.siteId, t.deviceId) === area;
    }
  }
}

function triggered(rule: SuppressionRule, a: Target, ctx: SuppressionContext): boolean {
  if (rule.whileAreaInMaintenance) {
    const area = ctx.areaOf(a.siteId, a.deviceId);
    if (area !== undefined && ctx.maintenance.has(`${a.siteId}/${area}`)) return true;
  }
  if (rule.whileCondition !== undefined) {
    for (const t of ctx.siteAlarms) {
      if (t.id !== a.id && t.active && t.condition === rule.whileCondition && inScope(rule, a, t, ctx))
        return true;
    }
  }
  return false;
}

/** Sorted ids of the rules that should suppress `alarm` now. */
export function desiredSuppression(
  alarm: Target,
  settings: AlarmSettings,
  ctx: SuppressionContext,
): string[] {
  return settings.suppression
    .filter((r) => applies(r, alarm) && triggered(r, alarm, ctx))
    .map((r) => r.id)
    .sort();
}

/** What to change so the alarm carries exactly the desired suppressions. */
export function suppressionDiff(
  current: readonly string[],
  desired: readonly string[],
): { add: string[]; remove: string[] } {
  return {
    add: desired.filter((d) => !current.includes(d)),
    remove: current.filter((c) => !desired.includes(c)),
  };
}
