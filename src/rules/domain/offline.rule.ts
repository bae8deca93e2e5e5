/** LWT offline: a device whose retained state is `offline` (its MQTT last will) raises `offline`; `online` clears it. */
import { ConditionSlot, NO_SEED, type Emit, type SeedLookup } from './condition';
import { DelayFilter } from './on-off-delay';
import type { RuleMachine } from './rule-machine';
import type { OfflineRule } from './rule-spec';

/** Structural twin of ingest's device state event. */
export type DeviceStateEvent = {
  readonly siteId: string;
  readonly deviceId: string;
  readonly state: 'online' | 'offline';
  readonly ts: number;
};

export function createOfflineMachine(
  rule: OfflineRule,
  seed: SeedLookup = NO_SEED,
): RuleMachine<DeviceStateEvent> {
  const slot = new ConditionSlot(
    {
      ruleId: rule.ruleId,
      siteId: rule.siteId,
      sourceId: rule.sourceId,
      deviceId: rule.deviceId,
      condition: 'offline',
    },
    rule.priority,
    seed,
  );
  const filter = new DelayFilter(rule.delayMs, 0, slot.active);
  let lastTs = -Infinity;
  const publish = (t: number, emit: Emit): void => {
    slot.set(
      filter.active,
      rule.priority,
      filter.active ? 'offline' : 'online',
      'online',
      t,
      filter.active ? `${rule.deviceId} offline (connection lost)` : `${rule.deviceId} online again`,
      emit,
    );
  };
  return {
    input(e, ts, emit) {
      if (ts < lastTs) return;
      lastTs = ts;
      const t = filter.update(e.state === 'offline', ts);
      if (!Number.isNaN(t)) publish(t, emit);
    },
    advance(ts, emit) {
      const t = filter.advance(ts);
      if (!Number.isNaN(t)) publish(t, emit);
    },
    nextDue: () => filter.nextDue(),
  };
}
