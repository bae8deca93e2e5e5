import { createHash } from 'node:crypto';
import type { ConditionIdentity } from './condition-change';

/** The identity of an alarm: one alarm per (ruleId, sourceId, deviceId, condition). */
export type AlarmKey = Pick<ConditionIdentity, 'ruleId' | 'sourceId' | 'deviceId' | 'condition'>;

export const alarmKeyString = (k: AlarmKey): string =>
  JSON.stringify([k.ruleId, k.sourceId, k.deviceId ?? null, k.condition]);

/** Stable, URL-safe id derived from the key, so the same alarm keeps its id across restarts: `al-` + 20 hex. */
export function alarmId(k: AlarmKey): string {
  return 'al-' + createHash('sha256').update(alarmKeyString(k)).digest('hex').slice(0, 20);
}
