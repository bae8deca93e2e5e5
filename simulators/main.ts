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
import { startSparkplugSimulator } from './sparkplug.simulator';
import { loadSparkplugConfig, SPARKPLUG_FILE } from '../src/config/sparkplug-config';
import { parseSimulatorArgs, SIMULATOR_USAGE, UsageError } from './simulator.options';

const STATS_EVERY_MS = 10_000;

async function main(): Promise<number> {
  const opts = parseSimulatorArgs(process.argv.slice(2), process.env);
  if (!opts) {
    process.stdout.write(SIMULATOR_USAGE);
    return 0;
  }
  JsonLogger.setLevel(
    process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'warn' || process.env.LOG_LEVEL === 'error'
      ? process.env.LOG_LEVEL
      : 'info',
  );
  const log = new JsonLogger('simulator');
  const plant = loadPlant(opts.configDir);
  // Per-site credentials: --credentials, else the demo server's file when no single username was given.
  const demoFile = join(process.env.DATA_DIR || './data', 'mqtt', 'demo-sites.credentials.json');
  const credentialsFile =
    opts.credentialsFile ?? (opts.username === undefined && existsSync(demoFile) ? demoFile : undefined);
  if (credentialsFile !== undefined && !existsSync(credentialsFile))
    throw new UsageError(`--credentials: no file ${credentialsFile}`);
  const siteCredentials = credentialsFile !== undefined ? readSiteCredentials(credentialsFile) : undefined;
  if (credentialsFile !== undefined)
    log.info('per-site MQTT credentials', { file: credentialsFile, sites: siteCredentials?.size });
  if (opts.sparkplug) {
    const sparkplug = loadSparkplugConfig(opts.configDir, plant);
    if (!sparkplug) throw new UsageError(`--sparkplug: no ${SPARKPLUG_FILE} in ${opts.configDir}`);
    if (opts.devices !== undefined || opts.connection !== 'per-device')
      throw new UsageError(
        '--sparkplug simulates the edge nodes of sparkplug.yaml; --devices and --connection do not apply',
      );
    const sp = await startSparkplugSimulator({
      url: opts.url,
      plant,
      sparkplug,
      seed: opts.seed,
      qos: opts.qos,
      clientIdPrefix: opts.clientIdPrefix,
      ...(opts.rate !== undefined ? { rate: opts.rate } : {}),
      ...(opts.messagesPerSecond !== undefined ? { messagesPerSecond: opts.messagesPerSecond } : {}),
      ...(opts.scenario !== undefined ? { scenario: opts.scenario } : {}),
      ...(opts.scenarioStartS !== undefined ? { scenarioStartMs: opts.scenarioStartS * 1000 } : {}),
      ...(opts.scenarioSpeed !== undefined ? { scenarioSpeed: opts.scenarioSpeed } : {}),
      ...(opts.username !== undefined ? { username: opts.username } : {}),
      ...(opts.password !== undefined ? { password: opts.password } : {}),
      ...(siteCredentials !== undefined ? { siteCredentials } : {}),
      logger: log,
    });
    return runUntilStopped(sp, opts.durationS, log);
  }
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
  return runUntilStopped(sims, opts.durationS, log);
}

/** Logs stats every STATS_EVERY_MS; stops on SIGINT/SIGTERM or after `durationS`. */
function runUntilStopped(
  sims: Pick<RunningSimulators, 'stop' | 'stats'>,
  durationS: number | undefined,
  log: JsonLogger,
): Promise<number> {
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
          log.error('simulators did not stop cleanly', {
            error: err instanceof Error ? err.message : String(err),
          });
          resolve(1);
        },
      );
    };
    process.once('SIGINT', () => finish('SIGINT'));
    process.once('SIGTERM', () => finish('SIGTERM'));
    if (durationS !== undefined)
      setTimeout(() => finish(`duration ${durationS} s elapsed`), durationS * 1000);
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (
      err instanceof UsageError ||
      err instanceof ScenarioError ||
      err instanceof ConfigError ||
      err instanceof RangeError ||
      err instanceof BrokerUnreachableError
    ) {
      process.stderr.write(`simulate: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`simulate: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
