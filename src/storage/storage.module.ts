import { Global, Module } from '@nestjs/common';
import { join } from 'node:path';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { JobGates } from '../common/job-gate';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { createTelemetrySink } from './copy-worker.sink';
import { Database } from './database.service';
import { DeadLetterRepository } from './dead-letter.repository';
import { DeviceStateRepository } from './device-state.repository';
import { startEmbeddedPostgres } from './embedded-postgres.launcher';
import { RetentionService } from './retention.service';
import { LateDataSink, RollupRefresher } from './rollup-refresh';
import { TimescalePolicies } from './timescale-policies.service';
import { TelemetryPartitions } from './telemetry-partitions.service';
import { TelemetryQueryRepository } from './telemetry-query.repository';
import { TelemetryWriter } from './telemetry-writer.service';
import type { CopyOutcomeListener } from './telemetry.sink';
import { TelemetrySpool } from './telemetry.spool';

/** Opens the database: DATABASE_URL, or the embedded PostgreSQL under DATA_DIR/pg. Runs migrations first. */
export async function createDatabase(config: AppConfig, metrics: HazwatchMetrics): Promise<Database> {
  const log = new JsonLogger('storage.database');
  const url = config.env.DATABASE_URL;
  const timeouts = {
    queryTimeoutMs: config.env.DB_QUERY_TIMEOUT_MS,
    connectTimeoutMs: config.env.DB_CONNECT_TIMEOUT_MS,
    probeIntervalMs: config.env.DB_PROBE_INTERVAL_MS,
    probeTimeoutMs: config.env.DB_PROBE_TIMEOUT_MS,
    timescaleMode: config.env.TIMESCALE,
  };
  if (url) return Database.open({ url, metrics, log, ...timeouts });
  const embedded = await startEmbeddedPostgres({
    dataDir: config.dataDir,
    port: config.env.EMBEDDED_PG_PORT,
  });
  try {
    return await Database.open({
      url: embedded.url,
      metrics,
      log,
      ...timeouts,
      onClose: () => embedded.stop(),
    });
  } catch (err) {
    await embedded.stop();
    throw err;
  }
}

/** Counts what idempotent writes skipped (docs/adr/0014-idempotent-telemetry.md) and says so in the log. */
export function telemetryOutcomeListener(metrics: HazwatchMetrics): CopyOutcomeListener {
  const log = new JsonLogger('storage.writer');
  return (o) => {
    metrics.duplicateRows.inc(o.duplicates);
    if (o.conflicts > 0) metrics.conflictingRows.inc(o.conflicts);
    const fields = { rows: o.rows, inserted: o.inserted, duplicates: o.duplicates, conflicts: o.conflicts };
    if (o.conflicts > 0)
      log.warn(
        'readings already stored with a different value: the first stored is kept, the others are in telemetry_conflict',
        fields,
      );
    else log.info('re-sent telemetry: rows already stored were not written again', fields);
  };
}

export function createTelemetryWriter(
  config: AppConfig,
  db: Database,
  clock: Clock,
  metrics: HazwatchMetrics,
  deadLetters: DeadLetterRepository,
): TelemetryWriter {
  const e = config.env;
  // late rows (older than telemetry_1m's refresh window) trigger a refresh of that range (TimescaleDB only)
  const refresher = new RollupRefresher({ db, clock, metrics });
  return new TelemetryWriter({
    sink: new LateDataSink(
      createTelemetrySink(db, new JsonLogger('storage.writer'), telemetryOutcomeListener(metrics)),
      refresher,
    ),
    spool: new TelemetrySpool(join(config.dataDir, 'spool', 'telemetry'), e.SPOOL_MAX_BYTES),
    clock,
    metrics,
    batchSize: e.WRITER_BATCH_SIZE,
    flushMs: e.WRITER_FLUSH_MS,
    queueMax: e.WRITER_QUEUE_MAX,
    onReject: (row) =>
      deadLetters.record({
        topic:
          row.siteId && row.deviceId
            ? `hazwatch/v1/${row.siteId}/${row.deviceId}/telemetry`
            : 'storage/telemetry',
        reason: 'storage_rejected',
        detail: row.detail,
        payload: Buffer.from(row.payload, 'utf8'),
        receivedAt: clock.now(),
      }),
  });
}

/**
 * Storage: the pg pool (`Database`, with migrations and TimescaleDB detection), the batched telemetry
 * writer with its disk spool, dead letters, history queries, device state, retention and (plain PostgreSQL) the
 * daily telemetry partitions.
 *
 * Shutdown order: the writer and dead letters flush in beforeApplicationShutdown; the pool (and the
 * embedded PostgreSQL) close in onApplicationShutdown, after them.
 */
@Global()
@Module({
  providers: [
    { provide: Database, useFactory: createDatabase, inject: [APP_CONFIG, HazwatchMetrics] },
    {
      provide: DeadLetterRepository,
      useFactory: (config: AppConfig, db: Database, metrics: HazwatchMetrics) =>
        new DeadLetterRepository({ db, metrics, maxRows: config.env.DEADLETTER_MAX_ROWS }),
      inject: [APP_CONFIG, Database, HazwatchMetrics],
    },
    {
      provide: TelemetryWriter,
      useFactory: createTelemetryWriter,
      inject: [APP_CONFIG, Database, CLOCK, HazwatchMetrics, DeadLetterRepository],
    },
    {
      provide: TelemetryQueryRepository,
      useFactory: (db: Database) => new TelemetryQueryRepository(db),
      inject: [Database],
    },
    {
      provide: DeviceStateRepository,
      useFactory: (db: Database) => new DeviceStateRepository(db),
      inject: [Database],
    },
    {
      provide: RetentionService,
      useFactory: (config: AppConfig, db: Database, clock: Clock, gates?: JobGates) =>
        new RetentionService({
          db,
          clock,
          retentionDays: config.env.TELEMETRY_RETENTION_DAYS,
          gate: gates?.gate('retention'),
        }),
      // cluster hook: JobGates (docs/adr/0016-cluster.md); absent (a test module without ClusterModule) → always runs
      inject: [APP_CONFIG, Database, CLOCK, { token: JobGates, optional: true }],
    },
    {
      provide: TimescalePolicies,
      useFactory: (config: AppConfig, db: Database, metrics: HazwatchMetrics) =>
        new TimescalePolicies({
          db,
          metrics,
          retentionDays: config.env.TELEMETRY_RETENTION_DAYS,
          rollupRetentionDays: config.env.TELEMETRY_1M_RETENTION_DAYS,
          chunkHours: config.env.TIMESCALE_CHUNK_HOURS,
          compressAfterHours: config.env.TIMESCALE_COMPRESS_AFTER_HOURS,
        }),
      inject: [APP_CONFIG, Database, HazwatchMetrics],
    },
    {
      provide: TelemetryPartitions,
      useFactory: (config: AppConfig, db: Database, clock: Clock, gates?: JobGates) =>
        new TelemetryPartitions({
          db,
          clock,
          retentionDays: config.env.TELEMETRY_RETENTION_DAYS,
          gate: gates?.gate('partitions'),
        }),
      inject: [APP_CONFIG, Database, CLOCK, { token: JobGates, optional: true }], // cluster hook (docs/adr/0016-cluster.md)
    },
  ],
  exports: [
    Database,
    DeadLetterRepository,
    TelemetryWriter,
    TelemetryQueryRepository,
    DeviceStateRepository,
    RetentionService,
    TelemetryPartitions,
    TimescalePolicies,
  ],
})
export class StorageModule {}
