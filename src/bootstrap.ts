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

export type RunningApp = { app: INestApplication; port: number; close(): Promise<void> };

export const API_VERSION = '0.1.0';

/** Creates, documents and starts the app. Used by main.ts and by tests (with a manual clock if needed). */
export async function bootstrap(config: AppConfig, opts: { clock?: Clock; port?: number } = {}): Promise<RunningApp> {
  const app = await NestFactory.create(AppModule.forRoot(config, opts.clock ?? systemClock), {
    logger: new JsonLogger('nest'),
    bufferLogs: false,
  });
  app.useWebSocketAdapter(new WsAdapter(app));
  app.useGlobalPipes(new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true }));
  app.useGlobalFilters(new HttpErrorFilter());
  app.enableShutdownHooks();
  const doc = new DocumentBuilder()
    .setTitle('hazwatch')
    .setDescription('Real-time monitoring and alarm management for major hazard sources (CONTRACT §3).')
    .setVersion(API_VERSION)
    .addBearerAuth()
    .build();
  SwaggerModule.setup('api/docs', app, () => SwaggerModule.createDocument(app, doc), { jsonDocumentUrl: 'api/docs/json' });
  await app.listen(opts.port ?? config.env.PORT, config.env.HOST);
  const server = app.getHttpServer() as Server;
  const port = (server.address() as AddressInfo).port;
  return { app, port, close: () => app.close() };
}
