import { demoDrillSchedule } from './config/demo-drill';
import { ValidationPipe, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WsAdapter } from '@nestjs/platform-ws';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { systemClock, type Clock } from './common/clock';
import { JsonLogger } from './common/logger';
import type { AppConfig } from './config/app-config';
import { AppModule } from './app.module';
import { HttpErrorFilter } from './common/http-error.filter';
import { IngestService } from './ingest/ingest.service';
import { MqttSecurity } from './ingest/mqtt-auth/mqtt-security.service';
import { HazwatchMetrics } from './metrics/metrics.registry';
import { installRxSafetyNet } from './common/rx-safety';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { jsonBodyMiddleware } from './common/json-body.middleware';
import { requestIdMiddleware } from './common/request-id.middleware';
import { AuthStartupService } from './auth/auth-startup.service';
import { describeTrustProxy, parseTrustProxy, trustPredicate } from './common/domain/trust-proxy';

type SimulatorsHandle = { stop(): Promise<void> };

/**
 * The bundled simulators live outside src/ (they are field hardware stand-ins, not server code); they are loaded only
 * when SIMULATE=true, from the same build output.
 */
async function startInProcessSimulators(
  config: AppConfig,
  url: string,
  security: MqttSecurity,
): Promise<SimulatorsHandle> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional, loaded only in simulate mode
  const sim = require('../simulators/plant.simulator') as typeof import('../simulators/plant.simulator');
  // Per-site credentials provisioned in demo mode (docs/adr/0009-mqtt-authentication.md).
  const siteCredentials = security.demoSiteCredentials();
  const drill = demoDrillSchedule(config.env);
  const handle = await sim.startSimulators({
    ...(drill ? { drill } : {}),
    url,
    plant: config.plant,
    seed: config.env.SIM_SEED,
    rate: config.env.SIM_RATE,
    ...(siteCredentials ? { siteCredentials } : {}),
  });
  new JsonLogger('bootstrap').info('simulators started in-process', {
    devices: config.plant.deviceByKey.size,
    url,
  });
  return handle;
}

export type RunningApp = {
  app: INestApplication;
  port: number;
  close(): Promise<void>;
  /** Prints the demo tokens and the console URL (held back during start-up so they are the last lines of it). */
  printBanner(): void;
};

export const API_VERSION = '0.1.0';

/** Creates, documents and starts the app. Used by main.ts and by tests (with a manual clock if needed). */
export async function bootstrap(
  config: AppConfig,
  opts: { clock?: Clock; port?: number; holdBanner?: boolean } = {},
): Promise<RunningApp> {
  JsonLogger.setLevel(config.env.LOG_LEVEL);
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot(config, opts.clock ?? systemClock),
    {
      logger: new JsonLogger('nest'),
      bufferLogs: false,
      // Bodies are read by jsonBodyMiddleware: per-route limits and a depth pre-scan before parsing (docs/threat-model.md).
      bodyParser: false,
    },
  );
  const trustProxy = parseTrustProxy(config.env.TRUST_PROXY); // validated with the environment already
  app.set('trust proxy', trustPredicate(trustProxy));
  new JsonLogger('bootstrap').info('client addresses', { trustProxy: describeTrustProxy(trustProxy) });
  app.use(requestIdMiddleware()); // first: everything after it logs with the request's correlation id
  app.use(jsonBodyMiddleware());
  app.useWebSocketAdapter(new WsAdapter(app));
  const metrics = app.get(HazwatchMetrics);
  installRxSafetyNet(() => metrics.streamErrors.inc());
  app.useGlobalPipes(new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true }));
  app.useGlobalFilters(new HttpErrorFilter());
  // Signals are handled in main.ts (ordered stop incl. simulators); tests call close() themselves.
  const doc = new DocumentBuilder()
    .setTitle('hazwatch')
    .setDescription(
      'Real-time monitoring and alarm management for major hazard sources (docs/contract.md §3).',
    )
    .setVersion(API_VERSION)
    .addBearerAuth()
    .build();
  SwaggerModule.setup('api/docs', app, () => SwaggerModule.createDocument(app, doc), {
    jsonDocumentUrl: 'api/docs/json',
  });
  // main.ts prints the demo tokens last, after start-up; tests that call bootstrap() get them as before.
  if (opts.holdBanner) app.get(AuthStartupService).holdBanner();
  await app.listen(opts.port ?? config.env.PORT, config.env.HOST);
  const server: Server = app.getHttpServer();
  const port = (server.address() as AddressInfo).port;
  const simulators = config.env.SIMULATE
    ? await startInProcessSimulators(config, app.get(IngestService).mqttUrl, app.get(MqttSecurity))
    : undefined;
  return {
    app,
    port,
    printBanner: () => app.get(AuthStartupService).releaseBanner(port),
    close: async () => {
      await simulators?.stop();
      await app.close();
    },
  };
}
