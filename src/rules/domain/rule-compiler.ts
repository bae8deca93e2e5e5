/**
 * Compiles the rule set: defaults derived from the plant model (so every device of the demo plant is covered), then
 * the overrides and explicit rules of rules.yaml. Pure: returns the compiled rules, or the problems found (path +
 * reason) for the loader to report with the file name.
 *
 * Defaults (DOMAIN §3–§5 priority table):
 * - gas detector: gas_l1 at level1 (medium), gas_l2 at level2 (high), deadband 10 % of the set point, on-delay 2 s,
 *   off-delay 5 s; over_range above span (high: a catalytic sensor can read falsely low, treat as level 2);
 *   under_range below −5 % of span (low: drift); `fault` → detector_fault (medium);
 * - tank level_pct: H 85 (medium), HH 90 (high), L 10 (low), LL 5 (medium), deadband 5 % of span, on-delay 10 s for
 *   all four (a milder limit never waits longer than the severer one: docs/alarm-lifecycle.md), off-delay 60 s;
 *   rate of change ±5 %/min (medium); predictive overfill 30 min (high);
 *   temp_c / pressure_kpa: H at 75 % / 80 % of span (medium), HH at 87.5 % / 90 % (high); over/under range (medium);
 * - shut-off valve: discrepancy / stuck / uncommanded / fault / trip with its travel time;
 * - safety system: fault (ESD: critical, others high), bypass (high → critical after the allowed time);
 * - every device: quality_bad (medium), stale after 3 periods (min 10 s, medium), LWT offline (medium), clock_fault
 *   (low: the device clock is ahead or behind, docs/ingest-time-and-sequence.md);
 * - every area with ≥ 2 gas detectors: vote 2ooN of gas_l2 within 60 s (critical), faulted excluded, vote_degraded
 *   (high); every area with a vote and shut-off valves: interlock supervision of the vote (travel time + 5 s, critical);
 * - every hazard source: live grading.
 */
import type { PlantView } from './plant-view';
import type { CompiledRules, DeviceRules } from './rule-spec';
import type { RulesConfig } from './rules-config';
import { CompileContext, S, type Problem } from './compiler/compile-context';
import { compileHazardSources } from './compiler/hazard-sources';
import { DeviceTarget } from './compiler/kind-compiler';
import { AREA_RULE_COMPILERS, DEVICE_RULE_COMPILERS } from './compiler/registry';

export type { Problem } from './compiler/compile-context';
export type CompileResult = { ok: true; rules: CompiledRules } | { ok: false; problems: Problem[] };

/**
 * Runs every rule-kind compiler of the registry (./compiler/registry.ts) over the plant and rules.yaml: the device
 * kinds per numeric channel and per device, then the area kinds (votes, interlocks, composites), then the checks that
 * span kinds (unique explicit ids, unused `disable` entries) and the hazard sources' grading specs.
 */
export function compileRules(plant: PlantView, config: RulesConfig): CompileResult {
  const ctx = new CompileContext(plant, config);

  // ---- rules on devices: each kind's compiler is created once (it reads its rules.yaml section), in registry order
  const deviceKinds = Object.values(DEVICE_RULE_COMPILERS).map((factory) => factory(ctx));
  const devices = new Map<string, Map<string, DeviceRules>>();
  for (const s of plant.sites) {
    const siteDevices = new Map<string, DeviceRules>();
    devices.set(s.id, siteDevices);
    for (const d of s.devices) {
      const t = new DeviceTarget(ctx, s, d);
      for (const [channel, spec] of d.channels) {
        if (spec.type !== 'number') continue;
        for (const k of deviceKinds) k.channel?.(t, channel, spec);
      }
      for (const k of deviceKinds) k.device?.(t);
      siteDevices.set(d.id, t.build());
    }
  }

  // ---- rules across devices, in registry order (interlocks read the votes)
  const vote = AREA_RULE_COMPILERS.vote(ctx, {});
  const interlock = AREA_RULE_COMPILERS.interlock(ctx, { vote });
  const composite = AREA_RULE_COMPILERS.composite(ctx, { vote, interlock });

  // ---- unique explicit ids per site
  const seen = new Set<string>();
  for (const r of [...vote, ...interlock, ...composite]) {
    const k = `${r.siteId}|${r.ruleId}`;
    if (seen.has(k)) ctx.problem('(rules)', `duplicate rule id '${r.ruleId}' in site '${r.siteId}'`);
    seen.add(k);
  }
  for (const id of ctx.unusedDisables()) ctx.problem('disable', `no rule with id '${id}'`);

  const hazardSources = compileHazardSources(plant);
  if (ctx.problems.length) return { ok: false, problems: ctx.problems };
  const { settings } = ctx;
  const rules: CompiledRules = {
    settings: { lateToleranceMs: settings.lateToleranceS * S, groupIdleMs: settings.groupIdleS * S },
    devices,
    votes: vote,
    interlocks: interlock,
    composites: composite,
    hazardSources,
    producible: ctx.producible,
    ruleCount: ctx.ruleCount,
  };
  return { ok: true, rules };
}
