/** Compilers of the rule kinds that span devices of a site: votes, interlock supervision, composites. */
import type { DeviceView } from '../plant-view';
import type { CompositeRule, CompositeTerm, ConditionRef, InterlockRule, VoteRule } from '../rule-spec';
import { findDevice, S } from './compile-context';
import type { AreaKindCompiler } from './kind-compiler';

/** A gas detector excluded from (or tripping) a vote while one of these holds. */
export const GAS_FAULT_CONDITIONS = ['detector_fault', 'quality_bad', 'stale', 'offline'] as const;

/** Votes: 2ooN of gas_l2 for every area with ≥ 2 gas detectors, replaced by `votes:` entries for the same area. */
export const voteCompiler: AreaKindCompiler<'vote'> = (ctx) => {
  const votes = new Map<string, VoteRule>();
  for (const s of ctx.plant.sites) {
    const areas = new Map<string, DeviceView[]>();
    for (const d of s.devices)
      if (d.kind === 'gas_detector') areas.set(d.area, [...(areas.get(d.area) ?? []), d]);
    for (const [area, ds] of areas) {
      if (ds.length < 2) continue;
      votes.set(`${s.id}/${area}`, {
        kind: 'vote',
        ruleId: `vote:${area}`,
        siteId: s.id,
        sourceId: ds[0]!.sourceId,
        area,
        members: ds.map((d) => d.id),
        k: 2,
        memberCondition: 'gas_l2',
        faultConditions: GAS_FAULT_CONDITIONS,
        windowMs: 60 * S,
        faulted: 'excluded',
        priority: 'critical',
        degradedPriority: 'high',
      });
    }
  }
  (ctx.config.votes ?? []).forEach((cfg, i) => {
    const path = `votes[${i}]`;
    const s = ctx.site(cfg.site, path);
    if (!s) return;
    const key = `${s.id}/${cfg.area}`;
    if (cfg.disabled) {
      votes.delete(key);
      return;
    }
    const members =
      cfg.members ??
      s.devices.filter((d) => d.area === cfg.area && d.kind === 'gas_detector').map((d) => d.id);
    members.forEach((m, j) => ctx.device(s, m, `${path}.members[${j}]`, 'gas_detector'));
    if (members.length === 0)
      ctx.problem(`${path}.area`, `no gas detector in area '${cfg.area}' of site '${s.id}'`);
    if (cfg.k < 1 || cfg.k > members.length)
      ctx.problem(`${path}.k`, `must be between 1 and the number of members (${members.length})`);
    const sources = new Set(
      members.map((m) => findDevice(s, m)?.sourceId).filter((x): x is string => x !== undefined),
    );
    if (sources.size > 1)
      ctx.problem(
        `${path}.members`,
        `members belong to different hazard sources (${[...sources].join(', ')})`,
      );
    votes.set(key, {
      kind: 'vote',
      ruleId: cfg.id ?? `vote:${cfg.area}`,
      siteId: s.id,
      sourceId: [...sources][0] ?? '',
      area: cfg.area,
      members,
      k: cfg.k,
      memberCondition: cfg.condition ?? 'gas_l2',
      faultConditions: GAS_FAULT_CONDITIONS,
      windowMs: (cfg.windowS ?? 60) * S,
      faulted: cfg.faulted,
      priority: cfg.priority ?? 'critical',
      degradedPriority: 'high',
    });
  });
  return ctx.keepEnabled([...votes.values()], () => ['vote', 'vote_degraded']);
};

/**
 * Interlock supervision: the valves a trigger must close within their travel time (+ margin). From the plant's
 * cause-and-effect matrix (never guessed from a vote) and `interlocks:` entries.
 */
export const interlockCompiler: AreaKindCompiler<'interlock'> = (ctx, earlier) => {
  const votes = earlier.vote ?? [];
  const interlocks: InterlockRule[] = [];
  const valveSpec = (d: DeviceView, closeWithinS?: number) => ({
    deviceId: d.id,
    sourceId: d.sourceId,
    closeWithinMs: (closeWithinS ?? (d.travelTimeS ?? 30) + ctx.settings.interlockMarginS) * S,
  });
  for (const s of ctx.plant.sites) {
    (s.causeAndEffect ?? []).forEach((ce, i) => {
      const path = `(plant) site '${s.id}' causeAndEffect[${i}]`;
      const c = ce.cause;
      let trigger: ConditionRef[] = [];
      if (c.vote !== undefined) {
        const v = votes.find((x) => x.siteId === s.id && x.area === c.vote);
        if (!v) ctx.problem(`${path}.cause.vote`, `no active vote for area '${c.vote}' (disabled?)`);
        else trigger = [{ siteId: s.id, ruleId: v.ruleId, condition: 'vote' }];
      } else if (c.levelSwitchHH !== undefined)
        trigger = [
          { siteId: s.id, ruleId: `lshh:${c.levelSwitchHH}`, deviceId: c.levelSwitchHH, condition: 'LSHH' },
        ];
      else if (c.discrete !== undefined)
        trigger = [
          {
            siteId: s.id,
            ruleId: `discrete:${c.discrete}`,
            deviceId: c.discrete,
            condition: 'discrete_alarm',
          },
        ];
      else if (c.rule !== undefined && c.condition !== undefined)
        trigger = [{ siteId: s.id, ruleId: c.rule, condition: c.condition }];
      const valves = ce.close
        .map((id, j) => ctx.device(s, id, `${path}.close[${j}]`, 'shutoff_valve'))
        .filter((d): d is DeviceView => d !== undefined && d.kind === 'shutoff_valve');
      if (trigger.length === 0 || valves.length === 0) return;
      interlocks.push({
        kind: 'interlock',
        ruleId: ce.id,
        siteId: s.id,
        sourceId: valves[0]!.sourceId,
        trigger,
        valves: valves.map((d) => valveSpec(d, ce.closeWithinS)),
        priority: 'critical',
      });
    });
  }
  (ctx.config.interlocks ?? []).forEach((cfg, i) => {
    const path = `interlocks[${i}]`;
    const s = ctx.site(cfg.site, path);
    if (!s) return;
    const trigger = cfg.when.flatMap((ref, j) => ctx.expandRef(ref, s, `${path}.when[${j}]`));
    const valves = cfg.valves
      .map((id, j) => ctx.device(s, id, `${path}.valves[${j}]`, 'shutoff_valve'))
      .filter((d): d is DeviceView => d !== undefined && d.kind === 'shutoff_valve');
    if (cfg.when.length === 0) ctx.problem(`${path}.when`, 'needs at least one trigger condition');
    interlocks.push({
      kind: 'interlock',
      ruleId: cfg.id,
      siteId: s.id,
      sourceId: valves[0]?.sourceId ?? '',
      trigger,
      valves: valves.map((d) => valveSpec(d, cfg.closeWithinS)),
      priority: cfg.priority ?? 'critical',
    });
  });
  return ctx.keepEnabled(interlocks, () => ['shutoff_failed']);
};

/** Composites (`composites:`): conditions and channel comparisons combined with and/or, held for / within a time. */
export const compositeCompiler: AreaKindCompiler<'composite'> = (ctx) => {
  const composites: CompositeRule[] = [];
  (ctx.config.composites ?? []).forEach((cfg, i) => {
    const path = `composites[${i}]`;
    const s = ctx.site(cfg.site, path);
    if (!s) return;
    ctx.checkSource(s, cfg.source, path);
    const terms: CompositeTerm[] = [];
    cfg.terms.forEach((t, j) => {
      const tp = `${path}.terms[${j}]`;
      if ((t.condition === undefined) === (t.channel === undefined)) {
        ctx.problem(tp, 'needs exactly one of condition or channel');
        return;
      }
      if (t.condition)
        terms.push({ kind: 'condition', refs: ctx.expandRef(t.condition, s, `${tp}.condition`) });
      if (t.channel) {
        const d = ctx.device(s, t.channel.device, `${tp}.channel`);
        if (d && !d.channels.has(t.channel.channel))
          ctx.problem(`${tp}.channel.channel`, `a ${d.kind} has no channel '${t.channel.channel}'`);
        if (['gt', 'ge', 'lt', 'le'].includes(t.channel.op) && typeof t.channel.value !== 'number')
          ctx.problem(`${tp}.channel.value`, `must be a number for op '${t.channel.op}'`);
        terms.push({
          kind: 'channel',
          siteId: s.id,
          deviceId: t.channel.device,
          channel: t.channel.channel,
          op: t.channel.op,
          value: t.channel.value,
        });
      }
    });
    if (cfg.terms.length === 0) ctx.problem(`${path}.terms`, 'needs at least one term');
    composites.push({
      kind: 'composite',
      ruleId: cfg.id,
      siteId: s.id,
      sourceId: cfg.source,
      condition: cfg.condition,
      priority: cfg.priority,
      op: cfg.op,
      forMs: (cfg.forS ?? 0) * S,
      withinMs: (cfg.withinS ?? 0) * S,
      terms,
      message: cfg.message ?? `${cfg.id}: ${cfg.condition}`,
    });
  });
  return ctx.keepEnabled(composites, (r) => [r.condition]);
};
