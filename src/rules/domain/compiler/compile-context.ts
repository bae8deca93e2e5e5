import type { DeviceView, PlantView, SiteView } from '../plant-view';
import { producibleKey, type ConditionRef } from '../rule-spec';
import {
  DEFAULT_SETTINGS,
  type ConditionRefConfig,
  type RulesConfig,
  type RulesSettings,
} from '../rules-config';

/** One problem of the rule set: where (path in rules.yaml or the plant model) and why. */
export type Problem = { path: string; reason: string };

/** rules.yaml gives seconds; compiled rules run on milliseconds. */
export const S = 1000;

export function findDevice(site: SiteView | undefined, id: string): DeviceView | undefined {
  return site?.devices.find((d) => d.id === id);
}

/**
 * What every rule-kind compiler shares while one rule set is compiled: the plant, rules.yaml and its settings, the
 * problems found so far (in the order found), the `disable` list, and what the rule set can produce. The lookups
 * report a problem under the given path when the site or device is unknown.
 */
export class CompileContext {
  readonly problems: Problem[] = [];
  readonly settings: RulesSettings;
  /** `${siteId}|${ruleId}|${condition}` of every condition an enabled rule can raise. */
  readonly producible = new Set<string>();
  ruleCount = 0;
  private readonly siteById: ReadonlyMap<string, SiteView>;
  private readonly disabled: ReadonlySet<string>;
  private readonly usedDisable = new Set<string>();

  constructor(
    readonly plant: PlantView,
    readonly config: RulesConfig,
  ) {
    this.settings = { ...DEFAULT_SETTINGS, ...(config.settings ?? {}) };
    this.siteById = new Map(plant.sites.map((s) => [s.id, s]));
    this.disabled = new Set(config.disable ?? []);
  }

  problem(path: string, reason: string): void {
    this.problems.push({ path, reason });
  }

  /** False for a rule id listed under `disable` (and remembers that the entry was used). */
  isOn(ruleId: string): boolean {
    if (!this.disabled.has(ruleId)) return true;
    this.usedDisable.add(ruleId);
    return false;
  }

  /** Counts an enabled rule and the conditions it can raise. */
  produce(siteId: string, ruleId: string, conditions: readonly string[]): void {
    this.ruleCount++;
    for (const c of conditions) this.producible.add(producibleKey(siteId, ruleId, c));
  }

  /** The enabled rules of a list, each counted with its conditions. */
  keepEnabled<R extends { readonly siteId: string; readonly ruleId: string }>(
    rules: readonly R[],
    conditionsOf: (r: R) => readonly string[],
  ): R[] {
    const on = rules.filter((r) => this.isOn(r.ruleId));
    for (const r of on) this.produce(r.siteId, r.ruleId, conditionsOf(r));
    return on;
  }

  /** `disable` entries that named no rule. */
  unusedDisables(): string[] {
    return [...this.disabled].filter((id) => !this.usedDisable.has(id));
  }

  site(id: string, path: string): SiteView | undefined {
    const s = this.siteById.get(id);
    if (!s) this.problem(`${path}.site`, `unknown site '${id}'`);
    return s;
  }

  device(s: SiteView, id: string, path: string, kind?: DeviceView['kind']): DeviceView | undefined {
    const d = findDevice(s, id);
    if (!d) this.problem(`${path}.device`, `unknown device '${id}' in site '${s.id}'`);
    else if (kind && d.kind !== kind) this.problem(`${path}.device`, `'${id}' is a ${d.kind}, not a ${kind}`);
    return d;
  }

  /** A hazard source of the site, or a problem at `${path}.source`. */
  checkSource(s: SiteView, sourceId: string, path: string): void {
    if (!s.hazardSources.some((h) => h.id === sourceId))
      this.problem(`${path}.source`, `unknown hazard source '${sourceId}' in site '${s.id}'`);
  }

  /** A condition reference of rules.yaml → the conditions it matches (`area` expands to the area's devices). */
  expandRef(ref: ConditionRefConfig, site: SiteView, path: string): ConditionRef[] {
    const base = {
      siteId: site.id,
      condition: ref.condition,
      ...(ref.rule !== undefined ? { ruleId: ref.rule } : {}),
      ...(ref.source !== undefined ? { sourceId: ref.source } : {}),
    };
    if (ref.source !== undefined) this.checkSource(site, ref.source, path);
    if (ref.device !== undefined) {
      if (!findDevice(site, ref.device))
        this.problem(`${path}.device`, `unknown device '${ref.device}' in site '${site.id}'`);
      return [{ ...base, deviceId: ref.device }];
    }
    if (ref.area !== undefined) {
      const devices = site.devices.filter((d) => d.area === ref.area);
      if (devices.length === 0) {
        this.problem(`${path}.area`, `no device in area '${ref.area}' of site '${site.id}'`);
        return [];
      }
      return devices.map((d) => ({ ...base, deviceId: d.id }));
    }
    return [base];
  }

  /** Indexes a per-device section of rules.yaml by `site/device[/channel]`, checking each entry's references. */
  indexByDevice<C extends { site: string; device: string }>(
    section: readonly C[] | undefined,
    name: string,
    key: (c: C) => string,
    check: (c: C, s: SiteView, path: string) => void,
  ): Map<string, { cfg: C; path: string }> {
    const out = new Map<string, { cfg: C; path: string }>();
    (section ?? []).forEach((cfg, i) => {
      const path = `${name}[${i}]`;
      const s = this.site(cfg.site, path);
      if (s) check(cfg, s, path);
      out.set(key(cfg), { cfg, path });
    });
    return out;
  }
}
