import { resolve } from 'node:path';
import type { EnvSchema } from './env.schema';
import { loadEnv, loadPlant, type PlantModel } from './config.loader';

export const APP_CONFIG = Symbol('APP_CONFIG');

/** Everything validated at start: env and the plant model. Frozen, injected by token. */
export type AppConfig = {
  readonly env: Readonly<EnvSchema>;
  readonly configDir: string;
  readonly dataDir: string;
  readonly plant: PlantModel;
};

export function loadAppConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const e = loadEnv(env);
  const configDir = resolve(e.CONFIG_DIR);
  return Object.freeze({ env: e, configDir, dataDir: resolve(e.DATA_DIR), plant: loadPlant(configDir) });
}
