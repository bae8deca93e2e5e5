/** Compilers of the rule kinds that watch one numeric channel: limit, range, rate of change, predictive overfill. */
import { onDelayOrderProblems } from '../limit-order';
import type { LimitRule, RocRule } from '../rule-spec';
import type { LimitConfig } from '../rules-config';
import { S, type CompileContext } from './compile-context';
import { checkLevelLimits, defaultLimits, mergeLimits, substancePack, unitOf } from './default-limits';
import type { DeviceKindCompilerFactory } from './kind-compiler';

/** Limits (H/HH/L/LL, gas levels, …): generated from the plant, merged with `limits:` entries by condition key. */
export const limitCompiler: DeviceKindCompilerFactory = (ctx: CompileContext) => {
  const overrides = new Map<string, { cfg: LimitConfig; path: string }>();
  (ctx.config.limits ?? []).forEach((cfg, i) => {
    const path = `limits[${i}]`;
    const s = ctx.site(cfg.site, path);
    if (!s) return;
    const d = ctx.device(s, cfg.device, path);
    if (!d) return;
    const ch = d.channels.get(cfg.channel);
    if (!ch) ctx.problem(`${path}.channel`, `a ${d.kind} has no channel '${cfg.channel}'`);
    else if (ch.type !== 'number') ctx.problem(`${path}.channel`, `'${cfg.channel}' is not numeric`);
    const key = `${cfg.site}/${cfg.device}/${cfg.channel}`;
    if (overrides.has(key)) ctx.problem(path, `duplicate limits entry for ${key}`);
    overrides.set(key, { cfg, path });
  });
  return {
    channel(t, channel) {
      const d = t.device;
      const override = overrides.get(`${t.key}/${channel}`);
      const limits = override
        ? mergeLimits(defaultLimits(d, channel), override.cfg, override.path, ctx)
        : defaultLimits(d, channel);
      ctx.problems.push(
        ...onDelayOrderProblems(
          limits,
          override ? `${override.path}.limits` : `(generated limits of ${t.key}.${channel})`,
        ),
      );
      t.limits.set(channel, limits);
      if (channel === 'level_pct' && d.kind === 'tank')
        checkLevelLimits(d, limits, override?.path ?? `(plant) site '${t.site.id}' tank '${d.id}'`, ctx);
      if (limits.length === 0) return;
      const rule: LimitRule = {
        kind: 'limit',
        ruleId: `limit:${d.id}:${channel}`,
        ...t.base,
        channel,
        unit: unitOf(d, channel),
        limits,
      };
      t.addChannelRule(
        channel,
        rule,
        limits.map((l) => l.condition),
      );
    },
  };
};

/** Over / under range: the instrument's span (a gas detector reading above span counts as level 2, DOMAIN §3). */
export const rangeCompiler: DeviceKindCompilerFactory = () => ({
  channel(t, channel, spec) {
    const d = t.device;
    const [lo, hi] = spec.span;
    const w = hi - lo;
    const isGas = d.kind === 'gas_detector';
    t.addChannelRule(
      channel,
      {
        kind: 'range',
        ruleId: `range:${d.id}:${channel}`,
        ...t.base,
        channel,
        unit: unitOf(d, channel),
        span: [lo, hi],
        overAbove: hi,
        underBelow: isGas ? lo - 0.05 * w : lo,
        overPriority: isGas ? 'high' : 'medium',
        underPriority: isGas ? 'low' : 'medium',
      },
      ['over_range', 'under_range'],
    );
  },
});

/** Rate of change: tank level and pressure by default, a substance pack's temperature rise, `rateOfChange:` entries. */
export const rocCompiler: DeviceKindCompilerFactory = (ctx: CompileContext) => {
  const configured = ctx.indexByDevice(
    ctx.config.rateOfChange,
    'rateOfChange',
    (c) => `${c.site}/${c.device}/${c.channel}`,
    (cfg, s, path) => {
      const d = ctx.device(s, cfg.device, path);
      if (d && d.channels.get(cfg.channel)?.type !== 'number')
        ctx.problem(`${path}.channel`, `'${cfg.channel}' is not a numeric channel of ${d.kind}`);
    },
  );
  return {
    channel(t, channel, spec) {
      const d = t.device;
      const roc = configured.get(`${t.key}/${channel}`);
      const rise =
        d.kind === 'tank' && channel === 'temp_c' ? substancePack(d.substance)?.tempRise : undefined;
      const rocRule = (
        r: Omit<
          RocRule,
          'kind' | 'ruleId' | 'siteId' | 'sourceId' | 'deviceId' | 'channel' | 'unit' | 'clearFraction'
        >,
      ): RocRule => ({
        kind: 'roc',
        ruleId: `roc:${d.id}:${channel}`,
        ...t.base,
        channel,
        unit: unitOf(d, channel),
        clearFraction: 0.5,
        ...r,
      });
      if (rise && !roc)
        t.addChannelRule(
          channel,
          rocRule({
            windowMs: rise.windowS * S,
            maxRisePerMin: rise.perMin,
            maxFallPerMin: null,
            priority: rise.priority,
          }),
          ['roc_rise', 'roc_fall'],
        );
      const rocDefault = d.kind === 'tank' && (channel === 'level_pct' || channel === 'pressure_kpa');
      if ((!rocDefault && !roc) || roc?.cfg.disabled) return;
      const w = spec.span[1] - spec.span[0];
      const dflt =
        channel === 'level_pct'
          ? { rise: 5, fall: 5, windowS: 60 }
          : { rise: w * 0.1, fall: w * 0.1, windowS: 30 };
      const rule = rocRule({
        windowMs: (roc?.cfg.windowS ?? dflt.windowS) * S,
        maxRisePerMin:
          roc?.cfg.maxRisePerMin !== undefined ? roc.cfg.maxRisePerMin : rocDefault ? dflt.rise : null,
        maxFallPerMin:
          roc?.cfg.maxFallPerMin !== undefined ? roc.cfg.maxFallPerMin : rocDefault ? dflt.fall : null,
        priority: roc?.cfg.priority ?? 'medium',
      });
      if (rule.maxRisePerMin === null && rule.maxFallPerMin === null && roc)
        ctx.problem(roc.path, 'set maxRisePerMin and/or maxFallPerMin');
      else t.addChannelRule(channel, rule, ['roc_rise', 'roc_fall']);
    },
  };
};

/** Predictive overfill of a tank: minutes until the level reaches HH (the tank's HH limit unless `overfill.hh`). */
export const overfillCompiler: DeviceKindCompilerFactory = (ctx: CompileContext) => {
  const configured = ctx.indexByDevice(
    ctx.config.overfill,
    'overfill',
    (c) => `${c.site}/${c.device}`,
    (cfg, s, path) => void ctx.device(s, cfg.device, path, 'tank'),
  );
  return {
    device(t) {
      const d = t.device;
      if (d.kind !== 'tank') return;
      const ov = configured.get(t.key)?.cfg;
      if (ov?.disabled) return;
      const hh = ov?.hh ?? t.limits.get('level_pct')?.find((l) => l.condition === 'HH')?.value;
      if (hh === undefined) {
        ctx.problem(`overfill`, `tank '${d.id}' has no HH limit; set overfill.hh`);
        return;
      }
      t.addChannelRule(
        'level_pct',
        {
          kind: 'overfill',
          ruleId: `overfill:${d.id}`,
          ...t.base,
          channel: 'level_pct',
          hh,
          horizonMin: ov?.horizonMin ?? ctx.settings.overfillHorizonMin,
          windowMs: (ov?.windowS ?? ctx.settings.overfillWindowS) * S,
          minPoints: 6,
          priority: ov?.priority ?? 'high',
        },
        ['overfill_predicted'],
      );
    },
  };
};
