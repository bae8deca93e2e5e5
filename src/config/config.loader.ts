import { checkJurisdictions, type JurisdictionInfo } from './admin-divisions';
import { readFileSync, existsSync } from 'node:fs';
import { creditCodeProblem, filingCodeProblem } from '../common/domain/credit-code';
import { join, resolve } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigError } from '../common/errors';
import { deviceChannels, type ChannelSpec } from './device-channels';
import { EnvSchema } from './env.schema';
import { PlantSchema, type DeviceSchema, type HazardSourceSchema, type SiteSchema } from './plant.schema';
import { checkConsistency } from './plant.consistency';

export type Problem = { path: string; reason: string };

/** Flattens class-validator errors to `sites[0].devices[3].level1: must be ...`. */
export function flattenErrors(errors: ValidationError[], prefix = ''): Problem[] {
  const out: Problem[] = [];
  for (const e of errors) {
    const isIndex = /^\d+$/.test(e.property);
    const path =
      prefix === '' ? e.property : isIndex ? `${prefix}[${e.property}]` : `${prefix}.${e.property}`;
    for (const reason of Object.values(e.constraints ?? {})) out.push({ path, reason });
    if (e.children?.length) out.push(...flattenErrors(e.children, path));
  }
  return out;
}

export function validateInto<T extends object>(cls: new () => T, plain: unknown, file: string): T {
  if (plain === null || typeof plain !== 'object' || Array.isArray(plain)) {
    throw new ConfigError(file, [{ path: '(root)', reason: 'must be a mapping/object' }]);
  }
  const inst = plainToInstance(cls, plain, { exposeDefaultValues: true });
  const errors = validateSync(inst, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
  });
  if (errors.length) throw new ConfigError(file, flattenErrors(errors));
  return inst;
}

export function loadEnv(env: NodeJS.ProcessEnv): Readonly<EnvSchema> {
  const plain: Record<string, string> = {};
  for (const key of Object.keys(new EnvSchema())) {
    const v = env[key];
    if (v !== undefined && v !== '') plain[key] = v;
  }
  // Declared-but-undefined optional keys are not enumerable on a fresh instance; add them explicitly.
  for (const key of [
    'MQTT_URL',
    'MQTT_PORT',
    'MQTT_USERNAME',
    'MQTT_PASSWORD',
    'DATABASE_URL',
    'EMBEDDED_PG_PORT',
  ]) {
    const v = env[key];
    if (v !== undefined && v !== '') plain[key] = v;
  }
  const inst = plainToInstance(EnvSchema, plain, { exposeDefaultValues: true });
  const errors = validateSync(inst, { whitelist: true });
  if (errors.length) throw new ConfigError('environment', flattenErrors(errors));
  const problems = [...checkEnvRelations(inst), ...clusterEnvProblems(inst)];
  if (problems.length) throw new ConfigError('environment', problems);
  return Object.freeze(inst);
}

/**
 * Relations between variables that each validate alone. `telemetry_1m` is the long-term record of `telemetry`
 * (docs/adr/0017-timescale-path.md): a roll-up dropped before the raw rows it summarises would leave months where
 * only raw data exists and long-range queries, which read the roll-up, return nothing.
 */
export function checkEnvRelations(env: Readonly<EnvSchema>): Problem[] {
  const problems: Problem[] = [];
  if (env.TELEMETRY_1M_RETENTION_DAYS < env.TELEMETRY_RETENTION_DAYS)
    problems.push({
      path: 'TELEMETRY_1M_RETENTION_DAYS',
      reason:
        `is ${env.TELEMETRY_1M_RETENTION_DAYS} days, shorter than TELEMETRY_RETENTION_DAYS (${env.TELEMETRY_RETENTION_DAYS}): ` +
        'the 1-minute roll-up must be kept at least as long as the raw telemetry it summarises; ' +
        `raise TELEMETRY_1M_RETENTION_DAYS to ≥ ${env.TELEMETRY_RETENTION_DAYS} or lower TELEMETRY_RETENTION_DAYS`,
    });
  return problems;
}

/**
 * Cluster nodes (HAZWATCH_NODE_ID) share one external broker and one client-id base, so that a site's persistent MQTT
 * session (`<base>-s-<site>`) follows its owner from node to node (docs/adr/0016-cluster.md).
 */
function clusterEnvProblems(env: EnvSchema): Problem[] {
  if (!env.HAZWATCH_NODE_ID) return [];
  const problems: Problem[] = [];
  if (!env.MQTT_URL)
    problems.push({
      path: 'MQTT_URL',
      reason:
        'required with HAZWATCH_NODE_ID: cluster nodes share one external broker (the embedded one is per process)',
    });
  if (!env.MQTT_CLIENT_ID && !env.MQTT_CLIENT_ID_SECRET)
    problems.push({
      path: 'MQTT_CLIENT_ID_SECRET',
      reason:
        "required with HAZWATCH_NODE_ID (or MQTT_CLIENT_ID): every node must derive the same client ids so a site's MQTT session moves with its owner",
    });
  return problems;
}

/** Reads a YAML (or JSON) document; a syntax error names file, line and column. */
export function readYamlFile(file: string): unknown {
  const text = readFileSync(file, 'utf8');
  try {
    return parseYaml(text, { prettyErrors: true });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0];
      throw new ConfigError(file, [
        {
          path: pos ? `line ${pos.line}, column ${pos.col}` : '(document)',
          reason: err.message.split('\n')[0] ?? 'YAML syntax error',
        },
      ]);
    }
    throw err;
  }
}

export type DeviceInfo = DeviceSchema & {
  readonly siteId: string;
  readonly channels: ReadonlyMap<string, ChannelSpec>;
};

export type PlantModel = {
  readonly sites: readonly SiteSchema[];
  readonly siteById: ReadonlyMap<string, SiteSchema>;
  /** Key `${siteId}/${deviceId}`. */
  readonly deviceByKey: ReadonlyMap<string, DeviceInfo>;
  readonly sourceById: ReadonlyMap<string, HazardSourceSchema & { readonly siteId: string }>;
  /** Declared jurisdictions with official names and GB/T 2260 codes (empty when plant.yaml declares none). */
  readonly jurisdictionByPath?: ReadonlyMap<string, JurisdictionInfo>;
  /** Consistency warnings found at load (file, path, reason with the numbers); logged at start. */
  readonly warnings: readonly Problem[];
  /** The file the model came from (for warnings). */
  readonly file?: string;
};

/** Cross-reference checks class-validator cannot express. */
function checkPlant(plant: PlantSchema): Problem[] {
  const problems: Problem[] = [];
  const siteIds = new Set<string>();
  const sourceIds = new Set<string>();
  problems.push(...checkJurisdictions(plant.jurisdictions, plant.sites).problems);
  plant.sites.forEach((site, si) => {
    const sp = `sites[${si}]`;
    if (siteIds.has(site.id)) problems.push({ path: `${sp}.id`, reason: `duplicate site id '${site.id}'` });
    siteIds.add(site.id);
    const creditProblem = site.creditCode !== undefined ? creditCodeProblem(site.creditCode) : undefined;
    if (creditProblem) problems.push({ path: `${sp}.creditCode`, reason: creditProblem });
    const localSources = new Map<string, HazardSourceSchema>();
    site.hazardSources.forEach((src, hi) => {
      const filingProblem = src.filingCode !== undefined ? filingCodeProblem(src.filingCode) : undefined;
      if (filingProblem)
        problems.push({ path: `${sp}.hazardSources[${hi}].filingCode`, reason: filingProblem });
      if (sourceIds.has(src.id))
        problems.push({
          path: `${sp}.hazardSources[${hi}].id`,
          reason: `duplicate hazard source id '${src.id}'`,
        });
      sourceIds.add(src.id);
      localSources.set(src.id, src);
    });
    const deviceIds = new Set<string>();
    site.devices.forEach((d, di) => {
      const dp = `${sp}.devices[${di}]`;
      const need = (field: keyof DeviceSchema, why: string): void => {
        if (d[field] === undefined)
          problems.push({ path: `${dp}.${String(field)}`, reason: `required for ${why}` });
      };
      if (deviceIds.has(d.id))
        problems.push({ path: `${dp}.id`, reason: `duplicate device id '${d.id}' in site '${site.id}'` });
      deviceIds.add(d.id);
      const src = localSources.get(d.sourceId);
      if (!src)
        problems.push({
          path: `${dp}.sourceId`,
          reason: `unknown hazard source '${d.sourceId}' in site '${site.id}'`,
        });
      switch (d.kind) {
        case 'gas_detector':
          need('gas', 'a gas_detector');
          need('gasClass', 'a gas_detector');
          need('unit', 'a gas_detector');
          need('level1', 'a gas_detector');
          need('level2', 'a gas_detector');
          if (d.unit !== undefined && !['%LEL', 'ppm', 'mg/m3'].includes(d.unit))
            problems.push({
              path: `${dp}.unit`,
              reason: `must be one of %LEL, ppm, mg/m3 for a gas_detector (got '${d.unit}')`,
            });
          if (d.level1 !== undefined && d.level2 !== undefined && d.level2 <= d.level1)
            problems.push({ path: `${dp}.level2`, reason: 'must be above level1' });
          if (d.gasClass === 'combustible' && d.unit === '%LEL') {
            if (d.level1 !== undefined && d.level1 > 25)
              problems.push({
                path: `${dp}.level1`,
                reason: 'combustible level 1 must be ≤ 25 %LEL (GB/T 50493-2019)',
              });
            if (d.level2 !== undefined && d.level2 > 50)
              problems.push({
                path: `${dp}.level2`,
                reason: 'combustible level 2 must be ≤ 50 %LEL (GB/T 50493-2019)',
              });
          }
          break;
        case 'analog':
          need('unit', 'an analog input');
          break;
        case 'discrete':
        case 'weather':
          break;
        case 'tank':
          need('capacityM3', 'a tank');
          need('densityTPerM3', 'a tank');
          need('substance', 'a tank');
          if (src && d.substance && !src.substances.some((s) => s.substance === d.substance))
            problems.push({
              path: `${dp}.substance`,
              reason: `'${d.substance}' is not a substance of hazard source '${src.id}'`,
            });
          break;
        case 'shutoff_valve':
          need('travelTimeS', 'a shutoff_valve');
          break;
        case 'safety_system':
          need('system', 'a safety_system');
          break;
        default: {
          const never: never = d.kind;
          problems.push({ path: `${dp}.kind`, reason: `unknown kind ${String(never)}` });
        }
      }
      for (const [ch, range] of Object.entries(d.ranges ?? {})) {
        if (
          !Array.isArray(range) ||
          range.length !== 2 ||
          typeof range[0] !== 'number' ||
          typeof range[1] !== 'number' ||
          range[0] >= range[1]
        )
          problems.push({ path: `${dp}.ranges.${ch}`, reason: 'must be [lo, hi] with lo < hi' });
      }
    });
  });
  return problems;
}

export function loadPlant(configDir: string): PlantModel {
  const file = resolve(join(configDir, 'plant.yaml'));
  if (!existsSync(file))
    throw new ConfigError(file, [{ path: '(file)', reason: 'not found (CONFIG_DIR must hold plant.yaml)' }]);
  const plant = validateInto(PlantSchema, readYamlFile(file), file);
  const problems = checkPlant(plant);
  const consistency = checkConsistency(plant);
  problems.push(...consistency.errors);
  if (problems.length) throw new ConfigError(file, problems);
  return { ...indexPlant(plant), warnings: consistency.warnings, file };
}

export function indexPlant(plant: PlantSchema): PlantModel {
  const siteById = new Map<string, SiteSchema>();
  const deviceByKey = new Map<string, DeviceInfo>();
  const sourceById = new Map<string, HazardSourceSchema & { siteId: string }>();
  for (const site of plant.sites) {
    siteById.set(site.id, site);
    for (const src of site.hazardSources) sourceById.set(src.id, Object.assign(src, { siteId: site.id }));
    for (const d of site.devices) {
      deviceByKey.set(
        `${site.id}/${d.id}`,
        Object.assign(d, { siteId: site.id, channels: deviceChannels(d) }),
      );
    }
  }
  const jurisdictionByPath = checkJurisdictions(plant.jurisdictions, plant.sites).byPath;
  return { sites: plant.sites, siteById, deviceByKey, sourceById, jurisdictionByPath, warnings: [] };
}

/** Logs the plant model's consistency warnings (once, at start), each with file, path and reason. Returns how many. */
export function logPlantWarnings(
  plant: Pick<PlantModel, 'warnings' | 'file'>,
  warn: (msg: string, fields: Record<string, unknown>) => void,
): number {
  for (const w of plant.warnings)
    warn('plant model inconsistency', { file: plant.file, path: w.path, reason: w.reason });
  return plant.warnings.length;
}
