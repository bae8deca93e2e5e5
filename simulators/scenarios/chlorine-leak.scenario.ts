import { clamp, deviceKey, numberSpan, roundForSpan, type SimDevice } from '../device.model';
import { ScenarioError, type DeviceOverride, type Scenario } from '../scenario.types';
import { keys, level2Of, scenarioTiming } from './scenario.util';

/** Seconds between the leak reaching one detector and the next. */
const STAGGER_S = 5;
/** Seconds a detector takes from clean air to its level 2 set point. */
const RISE_TO_LEVEL2_S = 15;
/** The valve takes this many times its configured travel time: it closes late. */
const LATE_FACTOR = 2;

/**
 * Chlorine leak: gas rises across a cluster of chlorine detectors in one area, one after another, past level 1
 * and level 2 (so a 2oo3 vote trips when the second detector passes level 2); one second after the trip the
 * area's shut-off valves are demanded closed, but they take twice their travel time to close. `speed` compresses the
 * leak (stagger, rise, trip demand); the valves still take twice their travel time once demanded.
 */
export const chlorineLeakScenario: Scenario = {
  name: 'chlorine-leak',
  description:
    'chlorine rises across a detector cluster (staggered, past level 2), the vote trips, the area valves close late',
  prepare(devices, opts) {
    const timing = scenarioTiming('chlorine-leak', opts);
    const areas = new Map<string, SimDevice[]>();
    for (const d of devices) {
      if (d.kind !== 'gas_detector' || !/chlorine/i.test(d.gas ?? '')) continue;
      const area = `${d.siteId}/${d.area}`;
      areas.set(area, [...(areas.get(area) ?? []), d]);
    }
    const cluster = [...areas.values()].find((list) => list.length >= 2);
    if (!cluster)
      throw new ScenarioError(
        `scenario 'chlorine-leak' needs at least 2 chlorine gas detectors in one area among the simulated devices; there are none`,
      );
    const first = cluster[0]!;
    const valves = devices.filter(
      (d) => d.kind === 'shutoff_valve' && d.siteId === first.siteId && d.area === first.area,
    );
    const detectorIndex = new Map(cluster.map((d, i) => [deviceKey(d), i]));
    // Scenario time (ms since the leak began, × speed). The vote (2oo3, or 1oo2 with two detectors) trips when the
    // second detector reaches level 2.
    const tripAt = (Math.min(2, cluster.length) - 1) * STAGGER_S * 1000 + RISE_TO_LEVEL2_S * 1000;
    const demandAt = tripAt + 1000;
    // Model time of the close demand (the valves' late closing is measured from it, unaffected by speed).
    const demandMs = timing.startMs + demandAt / timing.speed;
    return {
      targets: keys([...cluster, ...valves]),
      override(device, tMs, base): DeviceOverride | undefined {
        const key = deviceKey(device);
        const i = detectorIndex.get(key);
        const elapsed = timing.elapsed(tMs);
        if (i !== undefined) {
          const reachedAt = i * STAGGER_S * 1000;
          if (elapsed < reachedAt) return undefined;
          const span = numberSpan(device, 'conc');
          const level2 = level2Of(device, span);
          const rise = (level2 / RISE_TO_LEVEL2_S) * ((elapsed - reachedAt) / 1000);
          const baseConc = typeof base.conc === 'number' ? base.conc : span[0];
          const conc = clamp(
            Math.max(baseConc, span[0] + rise),
            span[0],
            Math.min(span[1], span[0] + 2.5 * (level2 - span[0])),
          );
          return { values: { conc: roundForSpan(conc, span) } };
        }
        if (!valves.some((v) => v.siteId === device.siteId && v.id === device.id) || elapsed < demandAt)
          return undefined;
        const closedMs = demandMs + LATE_FACTOR * (device.travelTimeS ?? 15) * 1000;
        return { values: { demand: 'closed', position: tMs < closedMs ? 'moving' : 'closed' } };
      },
    };
  },
};
