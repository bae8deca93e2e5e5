import type { ChannelView, DeviceView, SiteView } from '../plant-view';
import type {
  ChannelRule,
  ChannelRules,
  ClockRule,
  CompositeRule,
  DeviceRule,
  DeviceRules,
  InterlockRule,
  LimitSpec,
  OfflineRule,
  StaleRule,
  VoteRule,
} from '../rule-spec';
import type { CompileContext } from './compile-context';

export type NumericChannel = Extract<ChannelView, { readonly type: 'number' }>;

/**
 * One device while its rules are compiled: every device-kind compiler adds what it makes here. A rule whose id is
 * listed under `disable` is left out (and its `disable` entry counts as used).
 */
export class DeviceTarget {
  /** Identity shared by every rule of the device. */
  readonly base: { readonly siteId: string; readonly sourceId: string; readonly deviceId: string };
  readonly channels = new Map<string, ChannelRule[]>();
  readonly deviceRules: DeviceRule[] = [];
  /** Limits compiled per channel (the overfill compiler reads level_pct's HH). */
  readonly limits = new Map<string, readonly LimitSpec[]>();
  stale: StaleRule | null = null;
  offline: OfflineRule | null = null;
  clock: ClockRule | null = null;

  constructor(
    readonly ctx: CompileContext,
    readonly site: SiteView,
    readonly device: DeviceView,
  ) {
    this.base = { siteId: site.id, sourceId: device.sourceId, deviceId: device.id };
  }

  /** `site/device` — the key of per-device rules.yaml entries. */
  get key(): string {
    return `${this.site.id}/${this.device.id}`;
  }

  addChannelRule(channel: string, rule: ChannelRule, conditions: readonly string[]): void {
    if (!this.ctx.isOn(rule.ruleId)) return;
    let list = this.channels.get(channel);
    if (!list) this.channels.set(channel, (list = []));
    list.push(rule);
    this.ctx.produce(this.site.id, rule.ruleId, conditions);
  }

  addDeviceRule(rule: DeviceRule, conditions: readonly string[]): void {
    if (!this.ctx.isOn(rule.ruleId)) return;
    this.deviceRules.push(rule);
    this.ctx.produce(this.site.id, rule.ruleId, conditions);
  }

  /** Whether a supervision rule (stale, offline, clock) is on; counts it when it is. */
  supervises(ruleId: string, condition: string): boolean {
    if (!this.ctx.isOn(ruleId)) return false;
    this.ctx.produce(this.site.id, ruleId, [condition]);
    return true;
  }

  build(): DeviceRules {
    const channels = new Map<string, ChannelRules>();
    for (const [ch, rules] of this.channels) channels.set(ch, { channel: ch, rules });
    const d = this.device;
    return {
      siteId: this.site.id,
      deviceId: d.id,
      sourceId: d.sourceId,
      kind: d.kind,
      channels,
      deviceRules: this.deviceRules,
      stale: this.stale,
      offline: this.offline,
      clock: this.clock,
    };
  }
}

/**
 * The compiler of one rule kind that hangs on devices. Created once per compilation (the place to read and check the
 * kind's rules.yaml section), then called for every numeric channel of every device (`channel`, in channel order)
 * and once for every device (`device`, after all its channels).
 */
export type DeviceKindCompiler = {
  channel?(t: DeviceTarget, channel: string, spec: NumericChannel): void;
  device?(t: DeviceTarget): void;
};
export type DeviceKindCompilerFactory = (ctx: CompileContext) => DeviceKindCompiler;

/** Rules compiled so far by the area compilers that ran earlier in registry order. */
export type AreaRulesSoFar = { readonly [K in keyof AreaRuleOf]?: readonly AreaRuleOf[K][] };
type AreaRuleOf = { vote: VoteRule; interlock: InterlockRule; composite: CompositeRule };
export type AreaRuleKind = keyof AreaRuleOf;

/**
 * The compiler of one rule kind that spans devices of a site (votes, interlocks, composites): returns every rule of
 * the kind, enabled ones only, each counted with its conditions (`CompileContext.keepEnabled`).
 */
export type AreaKindCompiler<K extends AreaRuleKind> = (
  ctx: CompileContext,
  earlier: AreaRulesSoFar,
) => AreaRuleOf[K][];
