/** `npm run simulate -- [opts]`: the demo plant's devices over MQTT, until SIGINT/SIGTERM or --duration. */
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../src/common/errors';
import { JsonLogger } from '../src/common/logger';
import { loadPlant } from '../src/config/config.loader';
import { readSiteCredentials } from '../src/ingest/mqtt-auth/mqtt-provisioning';
import { BrokerUnreachableError, startSimulators, type RunningSimulators } from './plant.simulator';
import { ScenarioError } from './scenario.types';
import { parseSimulatorArgs, SIMULATOR_USAGE, UsageError } from './simulator.options';

const STATS_EVERY_MS = 10_000;

async function main(): Promise<number> {
  const opts = parseSimulatorArgs(process.argv.slice(2), process.env);
  if (!opts) {
    process.stdout.write(SIMULATOR_USAGE);
    return 0;
  }
  JsonLogger.setLevel(process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'warn' || process.env.LOG_LEVEL === 'error' ? process.env.LOG_LEVEL : 'info');
  const log = new JsonLogger('simulator');
  const plant = loadPlant(opts.configDir);
  // Per-site credentials: --credentials, else the demo server's file when no single username was given.
  const demoFile = join(process.env.DATA_DIR || './data', 'mqtt', 'demo-sites.credentials.json');
  const credentialsFile = opts.credentialsFile ?? (opts.username === undefined && existsSync(demoFile) ? demoFile : undefined);
  if (credentialsFile !== undefined && !existsSync(credentialsFile)) throw new UsageError(`--credentials: no file ${credentialsFile}`);
  const siteCredentials = credentialsFile !== undefined ? readSiteCredentials(credentialsFile) : undefined;
  if (credentialsFile !== undefined) log.info('per-site MQTT credentials', { file: credentialsFile, sites: siteCredentials?.size });
  const sims: RunningSimulators = await startSimulators({
    url: opts.url,
    plant,
    seed: opts.seed,
    connection: opts.connection,
    qos: opts.qos,
    clientIdPrefix: opts.clientIdPrefix,
    ...(opts.rate !== undefined ? { rate: opts.rate } : {}),
    ...(opts.messagesPerSecond !== undefined ? { messagesPerSecond: opts.messagesPerSecond } : {}),
    ...(opts.devices !== undefined ? { devices: opts.devices } : {}),
    ...(opts.scenario !== undefined ? { scenario: opts.scenario } : {}),
    ...(opts.scenarioStartS !== undefined ? { scenarioStartMs: opts.scenarioStartS * 1000 } : {}),
    ...(opts.scenarioSpeed !== undefined ? { scenarioSpeed: opts.scenarioSpeed } : {}),
    ...(opts.username !== undefined ? { username: opts.username } : {}),
    ...(opts.password !== undefined ? { password: opts.password } : {}),
    ...(siteCredentials !== undefined ? { siteCredentials } : {}),
    logger: log,
  });
  const statsTimer = setInterval(() => log.info('simulator stats', sims.stats()), STATS_EVERY_MS);
  return new Promise<number>((resolve) => {
    let done = false;
    const finish = (why: string): void => {
      if (done) return;
      done = true;
      clearInterval(statsTimer);
      log.info('simulators stopping', { why });
      sims.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error('simulators did not stop cleanly', { error: err instanceof Error ? err.message : String(err) });
          resolve(1);
        },
      );
    };
    process.once('SIGINT', () => finish('SIGINT'));
    process.once('SIGTERM', () => finish('SIGTERM'));
    if (opts.durationS !== undefined) setTimeout(() => finish(`duration ${opts.durationS} s elapsed`), opts.durationS * 1000);
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError || err instanceof ScenarioError || err instanceof ConfigError || err instanceof RangeError || err instanceof BrokerUnreachableError) {
      process.stderr.write(`simulate: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`simulate: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
