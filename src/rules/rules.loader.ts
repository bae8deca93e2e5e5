/** Loads config/rules.yaml (optional), validates it and compiles the rule set against the plant model. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { instanceToPlain } from 'class-transformer';
import { ConfigError } from '../common/errors';
import { readYamlFile, validateInto, type PlantModel } from '../config/config.loader';
import type { PlantView, SiteView } from './domain/plant-view';
import { compileRules } from './domain/rule-compiler';
import type { CompiledRules } from './domain/rule-spec';
import { EMPTY_RULES_CONFIG, type RulesConfig } from './domain/rules-config';
import { RulesFileSchema } from './rules.schema';

export const RULES_FILE = 'rules.yaml';

export const rulesFilePath = (configDir: string): string => resolve(join(configDir, RULES_FILE));

/** The plant as the compiler sees it (devices with their channel specs). */
export function toPlantView(plant: PlantModel): PlantView {
  const sites: SiteView[] = plant.sites.map((s) => ({
    id: s.id,
    hazardSources: s.hazardSources,
    ...(s.causeAndEffect ? { causeAndEffect: s.causeAndEffect } : {}),
    devices: s.devices.map((d) => {
      const info = plant.deviceByKey.get(`${s.id}/${d.id}`);
      if (!info) throw new Error(`device ${s.id}/${d.id} missing from the plant index`);
      return info;
    }),
  }));
  return { sites };
}

/**
 * Strips undefined optional keys so the plain config matches RulesConfig exactly. No cast to RulesConfig: the schema
 * class and `RulesConfig` are the same type, checked at compile time (`RulesSchemaMatchesConfig` in ./rules.schema.ts).
 */
function toConfig(parsed: RulesFileSchema): RulesConfig {
  const plain = JSON.parse(JSON.stringify(instanceToPlain(parsed))) as RulesFileSchema;
  return plain;
}

export type LoadedRules = { rules: CompiledRules; file: string; fromFile: boolean };

/** Throws ConfigError naming the file, the path inside it and the reason. A missing file means defaults only. */
export function loadRules(configDir: string, plant: PlantModel): LoadedRules {
  const file = rulesFilePath(configDir);
  let config: RulesConfig = EMPTY_RULES_CONFIG;
  const fromFile = existsSync(file);
  if (fromFile) {
    const raw = readYamlFile(file);
    config = toConfig(validateInto(RulesFileSchema, raw ?? {}, file));
  }
  const result = compileRules(toPlantView(plant), config);
  if (!result.ok) throw new ConfigError(file, result.problems);
  return { rules: result.rules, file, fromFile };
}
