/** The rule engine's output (src/rules/domain/condition.ts), consumed by the alarm service. */
import type { ChannelValue } from '../../common/types';

export type { ConditionChange, ConditionIdentity } from '../../rules/domain/condition';
export { conditionIdentity } from '../../rules/domain/condition';

/** Value or limit carried by a condition and an alarm snapshot. */
export type ConditionValue = ChannelValue | null;
