import { resolve } from 'node:path';
import type { EnvSchema } from './env.schema';
import { loadEnv, loadPlant, type PlantModel } from './config.loader';
import { loadSparkplugConfig, type SparkplugConfig } from './sparkplug-config';

export const APP_CONFIG = Symbol('APP_CONFIG');

/** Everything validated at start: env and the plant model. Frozen, injected by token. */
export type AppConfig = {
  readonly env: Readonly<EnvSchema>;
  readonly configDir: string;
  readonly dataDir: string;
  readonly plant: PlantModel;
  /** The Sparkplug B mapping (`sparkplug.yaml`), when present (docs/sparkplug.md). */
  readonly sparkplug?: SparkplugConfig | undefined;
};

export function loadAppConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const e = loadEnv(env);
  const configDir = resolve(e.CONFIG_DIR);
  const plant = loadPlant(configDir);
  return Object.freeze({
    env: e,
    configDir,
    dataDir: resolve(e.DATA_DIR),
    plant,
    sparkplug: loadSparkplugConfig(configDir, plant),
  });
}
