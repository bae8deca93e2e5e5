/**
 * A rule condition turning on or off (or changing priority), as emitted by `RulesService.conditions$`.
 * Mirror of src/rules/domain/condition.ts until that lands; the shape is identical.
 */
import type { Priority } from '../../common/types';

export type ConditionValue = number | boolean | string | null;

export type ConditionChange = {
  readonly ruleId: string;
  readonly sourceId: string;
  readonly siteId: string;
  readonly deviceId?: string;
  /** Stable key such as 'HH', 'gas_l2', 'stale', 'offline'. */
  readonly condition: string;
  readonly active: boolean;
  readonly priority: Priority;
  readonly value: ConditionValue;
  readonly limit: ConditionValue;
  /** Event time, epoch ms. */
  readonly ts: number;
  readonly message: string;
};
