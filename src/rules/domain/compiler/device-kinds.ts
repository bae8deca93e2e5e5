/** Compilers of the rule kinds that watch a device as a whole: flags, safety systems, quality, valves, supervision. */
import { S, type CompileContext } from './compile-context';
import type { DeviceKindCompilerFactory } from './kind-compiler';

/** Boolean channels that are alarms themselves: a gas detector's fault, a tank's level switch HH, discrete inputs. */
export const flagCompiler: DeviceKindCompilerFactory = () => ({
  device(t) {
    const d = t.device;
    if (d.kind === 'gas_detector')
      t.addChannelRule(
        'fault',
        {
          kind: 'flag',
          ruleId: `fault:${d.id}`,
          ...t.base,
          channel: 'fault',
          condition: 'detector_fault',
          priority: 'medium',
        },
        ['detector_fault'],
      );
    if (d.kind === 'tank' && d.channels.has('level_switch_hh'))
      t.addChannelRule(
        'level_switch_hh',
        {
          kind: 'flag',
          ruleId: `lshh:${d.id}`,
          ...t.base,
          channel: 'level_switch_hh',
          condition: 'LSHH',
          priority: 'high',
        },
        ['LSHH'],
      );
    if (d.kind === 'discrete')
      t.addChannelRule(
        'state',
        {
          kind: 'flag',
          ruleId: `discrete:${d.id}`,
          ...t.base,
          channel: 'state',
          condition: 'discrete_alarm',
          priority: d.priority ?? 'high',
          activeWhen: d.alarmWhen ?? true,
        },
        ['discrete_alarm'],
      );
  },
});

/** Safety systems (ESD, SIS, …): fault, and a bypass that escalates after the allowed time (`safetySystems:`). */
export const safetySystemCompiler: DeviceKindCompilerFactory = (ctx: CompileContext) => {
  const configured = ctx.indexByDevice(
    ctx.config.safetySystems,
    'safetySystems',
    (c) => `${c.site}/${c.device}`,
    (cfg, s, path) => void ctx.device(s, cfg.device, path, 'safety_system'),
  );
  return {
    device(t) {
      const d = t.device;
      if (d.kind !== 'safety_system') return;
      const cfg = configured.get(t.key)?.cfg;
      t.addChannelRule(
        'status',
        {
          kind: 'safety_system',
          ruleId: `system:${d.id}`,
          ...t.base,
          channel: 'status',
          system: d.system ?? 'unknown',
          faultPriority: d.system === 'esd' ? 'critical' : 'high',
          bypassPriority: 'high',
          bypassAllowedMs: (cfg?.bypassAllowedS ?? ctx.settings.bypassAllowedS) * S,
          escalatedPriority: 'critical',
        },
        ['system_fault', 'bypassed'],
      );
    },
  };
};

/** Bad-quality readings of any device. */
export const qualityCompiler: DeviceKindCompilerFactory = () => ({
  device(t) {
    t.addDeviceRule({ kind: 'quality', ruleId: `quality:${t.device.id}`, ...t.base, priority: 'medium' }, [
      'quality_bad',
    ]);
  },
});

/** Shut-off valves: position against demand (discrepancy, stuck, uncommanded), fault, trip. */
export const valveCompiler: DeviceKindCompilerFactory = (ctx: CompileContext) => ({
  device(t) {
    const d = t.device;
    if (d.kind !== 'shutoff_valve') return;
    t.addDeviceRule(
      {
        kind: 'valve',
        ruleId: `valve:${d.id}`,
        ...t.base,
        travelMs: (d.travelTimeS ?? 30) * S,
        graceMs: ctx.settings.valveGraceS * S,
      },
      ['discrepancy', 'stuck', 'uncommanded', 'valve_fault', 'trip'],
    );
  },
});

/** No reading for `staleAfterPeriods` publish periods (at least `staleMinS`). */
export const staleCompiler: DeviceKindCompilerFactory = (ctx: CompileContext) => ({
  device(t) {
    const d = t.device;
    if (!t.supervises(`stale:${d.id}`, 'stale')) return;
    t.stale = {
      kind: 'stale',
      ruleId: `stale:${d.id}`,
      ...t.base,
      timeoutMs: Math.max(ctx.settings.staleAfterPeriods * d.periodS, ctx.settings.staleMinS) * S,
      priority: 'medium',
    };
  },
});

/** The device's MQTT last will: offline after `offlineDelayS`. */
export const offlineCompiler: DeviceKindCompilerFactory = (ctx: CompileContext) => ({
  device(t) {
    const d = t.device;
    if (!t.supervises(`offline:${d.id}`, 'offline')) return;
    t.offline = {
      kind: 'offline',
      ruleId: `offline:${d.id}`,
      ...t.base,
      delayMs: ctx.settings.offlineDelayS * S,
      priority: 'medium',
    };
  },
});

/** A wrong device clock is a maintenance condition: the readings are still evaluated (at arrival time). */
export const clockCompiler: DeviceKindCompilerFactory = () => ({
  device(t) {
    const d = t.device;
    if (!t.supervises(`clock:${d.id}`, 'clock_fault')) return;
    t.clock = { kind: 'clock', ruleId: `clock:${d.id}`, ...t.base, priority: 'low' };
  },
});
