/**
 * The engine's memory of every condition's last state. It de-duplicates the output (only real changes leave the
 * engine), seeds rule instances created after a reload or a group release, and clears conditions whose rule was
 * removed by a reload. Bounded by the number of conditions the rule set can produce.
 */
import { conditionKey, type ConditionChange } from './condition';
import { producibleKey } from './rule-spec';

export class ConditionStore {
  private readonly byKey = new Map<string, ConditionChange>();

  /** Records a change; false when it changes nothing (same active state and, while active, same priority). */
  apply(c: ConditionChange): boolean {
    const key = conditionKey(c);
    const prev = this.byKey.get(key);
    if (prev ? prev.active === c.active && (!c.active || prev.priority === c.priority) : !c.active)
      return false;
    if (c.active) this.byKey.set(key, c);
    else this.byKey.delete(key);
    return true;
  }

  get(key: string): ConditionChange | undefined {
    return this.byKey.get(key);
  }

  /** Every active condition. */
  active(): ConditionChange[] {
    return [...this.byKey.values()];
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Forgets every condition of a site without a change to publish (cluster: the site moved to another node). */
  forgetSite(siteId: string): number {
    let n = 0;
    for (const [key, c] of this.byKey)
      if (c.siteId === siteId) {
        this.byKey.delete(key);
        n++;
      }
    return n;
  }

  /** Clears the active conditions no rule of the new set can produce; returns the clear changes to publish. */
  clearOrphans(producible: ReadonlySet<string>, ts: number): ConditionChange[] {
    const out: ConditionChange[] = [];
    for (const c of this.byKey.values()) {
      if (producible.has(producibleKey(c.siteId, c.ruleId, c.condition))) continue;
      const clear: ConditionChange = {
        ...c,
        active: false,
        ts,
        value: null,
        message: `${c.condition} cleared: rule ${c.ruleId} removed by a configuration reload`,
      };
      out.push(clear);
    }
    for (const c of out) this.apply(c);
    return out;
  }
}
