import { Injectable } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';
import type { ConditionChange } from './domain/condition-change';

/** Rule ids of conditions raised outside the rule engine start with this (e.g. `ext:duty-check:<site>`). */
export const EXTERNAL_RULE_PREFIX = 'ext:';

export const isExternalCondition = (c: Pick<ConditionChange, 'ruleId'>): boolean =>
  c.ruleId.startsWith(EXTERNAL_RULE_PREFIX);

/**
 * Conditions that other modules raise and clear themselves — a missed duty check, an overdue disposal record, a
 * regulator webhook failing for 24 h. They enter the same ISA-18.2 lifecycle and journal as rule conditions.
 * Producers own their state: after a restart they read active alarms (`AlarmService.records()`) and clear what no
 * longer holds; the rule engine never sees or clears them.
 */
@Injectable()
export class ExternalConditions {
  private readonly subject = new Subject<ConditionChange>();
  readonly conditions$: Observable<ConditionChange> = this.subject.asObservable();

  emit(change: ConditionChange): void {
    if (!isExternalCondition(change))
      throw new Error(
        `external condition ruleId must start with '${EXTERNAL_RULE_PREFIX}': ${change.ruleId}`,
      );
    this.subject.next(change);
  }
}
