import 'reflect-metadata';
// Before anything loads mqtt-packet (see the module).
import { quietDebugResult } from './ingest/quiet-mqtt-debug';
import { ConfigError } from './common/errors';
import { JsonLogger } from './common/logger';
import { loadAppConfig } from './config/app-config';
import { logPlantWarnings } from './config/config.loader';
import { bootstrap } from './bootstrap';
import { placeholderSecrets } from './common/domain/placeholder-secrets';

/** Validate configuration first; only a valid configuration creates the app. */
async function main(): Promise<void> {
  const log = new JsonLogger('main');
  let config;
  try {
    config = loadAppConfig(process.env);
    const placeholders = placeholderSecrets(process.env);
    if (placeholders.length > 0) throw new ConfigError('environment', placeholders);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`hazwatch: start-up stopped.\n${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  JsonLogger.setLevel(config.env.LOG_LEVEL);
  // Plant-model consistency warnings (docs/plant-model.md): logged once at start, with the numbers.
  logPlantWarnings(config.plant, (msg, fields) => log.warn(msg, fields));
  if (!quietDebugResult.installed)
    log.debug('mqtt-packet debug calls left as they are', { reason: quietDebugResult.reason });
  const app = await bootstrap(config, { holdBanner: true });
  log.info('hazwatch started', { url: `http://${config.env.HOST}:${app.port}/` });
  app.printBanner(); // demo tokens and the console URL: the last thing start-up prints

  // Graceful stop: simulators, then MQTT intake, then the writer flushes (or spools), then the database closes.
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn('second signal: exiting now', { signal });
      process.exit(130);
    }
    stopping = true;
    log.info('shutting down', { signal });
    const deadlineS = config.env.SHUTDOWN_TIMEOUT_S;
    setTimeout(() => {
      log.error(
        'graceful stop did not finish in time; exiting now. Nothing acknowledged is lost: unacknowledged MQTT messages are redelivered, alarm events are in the write-ahead log',
        {
          signal,
          timeoutS: deadlineS,
        },
      );
      process.exit(1);
    }, deadlineS * 1000).unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('shutdown failed', { err });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    // config files read by modules (rules.yaml, alarms.yaml, …) fail the same clear way as plant.yaml
    process.stderr.write(`hazwatch: start-up stopped.\n${err.message}\n`);
    process.exit(78);
  }
  process.stderr.write(
    `hazwatch: start-up failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
