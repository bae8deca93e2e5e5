import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../src/common/clock';
import { JsonLogger } from '../../src/common/logger';
import type { Reading } from '../../src/common/types';
import { HazwatchMetrics } from '../../src/metrics/metrics.registry';
import { Database } from '../../src/storage/database.service';
import { TelemetryQueryRepository } from '../../src/storage/telemetry-query.repository';
import { TelemetryWriter } from '../../src/storage/telemetry-writer.service';
import { PgTelemetrySink } from '../../src/storage/telemetry.sink';
import { TelemetrySpool } from '../../src/storage/telemetry.spool';
import { ManualScheduler } from '../../src/common/testing/manual.scheduler';
import { ManualClock } from '../../src/common/clock';
import { Client } from 'pg';
import { LateDataSink, RollupRefresher } from '../../src/storage/rollup-refresh';
import { RetentionService } from '../../src/storage/retention.service';
import { TelemetryPartitions } from '../../src/storage/telemetry-partitions.service';
import { TimescalePolicies } from '../../src/storage/timescale-policies.service';
import { createScratchDatabase } from '../setup/test-db';
import { timescaleNoPreloadServer, timescaleSkipReason } from '../setup/timescale';

/**
 * The TimescaleDB path (hypertable, continuous aggregate, time_bucket/last). Runs against
 * TEST_TIMESCALE_URL, else TEST_DATABASE_URL, when that server can install the timescaledb extension;
 * skips with a printed reason otherwise (the local PostgreSQL here has no TimescaleDB).
 */
const url = process.env.TEST_TIMESCALE_URL ?? process.env.TEST_DATABASE_URL;

const reason = timescaleSkipReason(url);
if (reason) console.warn(`storage-timescale.int-spec: skipped — ${reason}`);
const suite = reason ? describe.skip : describe;

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);

suite('storage on TimescaleDB', () => {
  it('should create a hypertable and a continuous aggregate, and bucket identically with time_bucket and date_bin', async () => {
    JsonLogger.setLevel('error');
    const scratch = await createScratchDatabase(url!, 'storage_tsdb');
    const db = await Database.open({ url: scratch.url });
    const dir = mkdtempSync(join(tmpdir(), 'hazwatch-tsdb-it-'));
    try {
      expect(db.timescale).toBe(true);
      const ht = await db.query(
        `SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = 'telemetry'`,
      );
      expect(ht.rowCount).toBe(1);
      const cagg = await db.query(
        `SELECT 1 FROM timescaledb_information.continuous_aggregates WHERE view_name = 'telemetry_1m'`,
      );
      expect(cagg.rowCount).toBe(1);

      const w = new TelemetryWriter({
        sink: new PgTelemetrySink(db),
        spool: new TelemetrySpool(join(dir, 'spool'), 10_000_000),
        clock: systemClock,
        metrics: new HazwatchMetrics(false),
        batchSize: 1000,
        flushMs: 20,
        queueMax: 10_000,
      });
      w.start();
      const rs = [0, 10, 20, 59, 60, 119].map((sec, i): Reading => ({
        siteId: 's',
        deviceId: 'd',
        channel: 'conc',
        ts: T0 + sec * 1000,
        value: [1, 2, 3, 3, 10, 4][i]!,
        quality: 'good',
        receivedAt: T0,
      }));
      w.enqueue(rs);
      await w.close();

      const q = { siteId: 's', deviceId: 'd', from: T0, to: T0 + 120_000, limit: 100, bucketSeconds: 60 };
      const viaTimescale = await new TelemetryQueryRepository(db, 'timescale').bucketed(q);
      const viaPostgres = await new TelemetryQueryRepository(db, 'postgres').bucketed(q);
      expect(viaTimescale).toEqual([
        { bucket: new Date(T0 + 60_000), channel: 'conc', min: 4, max: 10, avg: 7, last: 4, n: 2 },
        { bucket: new Date(T0), channel: 'conc', min: 1, max: 3, avg: 2.25, last: 3, n: 4 },
      ]);
      expect(viaPostgres).toEqual(viaTimescale);

      const view = await db.query(
        `SELECT bucket, "last", n::int AS n FROM telemetry_1m WHERE site_id = 's' ORDER BY bucket`,
      );
      expect(view.rows).toEqual([
        { bucket: new Date(T0), last: 3, n: 4 },
        { bucket: new Date(T0 + 60_000), last: 4, n: 2 },
      ]);

      // Exactly-once rows on the hypertable (docs/adr/0014-idempotent-telemetry.md): the unique reading key exists on
      // its chunks, the same batch written again adds nothing, and a different value at a stored key is kept aside.
      const key = await db.query(
        `SELECT 1 FROM pg_indexes WHERE tablename = 'telemetry' AND indexname = 'telemetry_reading_key'`,
      );
      expect(key.rowCount).toBe(1);
      const again = new TelemetryWriter({
        sink: new PgTelemetrySink(db),
        spool: new TelemetrySpool(join(dir, 'spool-again'), 10_000_000),
        clock: systemClock,
        metrics: new HazwatchMetrics(false),
        batchSize: 1000,
        flushMs: 20,
        queueMax: 10_000,
      });
      again.start();
      again.enqueue(rs);
      again.enqueue([{ ...rs[0]!, value: 99 }]);
      await again.close();
      const count = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM telemetry WHERE site_id = 's'`,
      );
      expect(count.rows[0]!.n).toBe(rs.length);
      const conflict = await db.query<{ value: number }>(
        `SELECT value FROM telemetry_conflict WHERE site_id = 's'`,
      );
      expect(conflict.rows).toEqual([{ value: 99 }]);
    } finally {
      await db.close();
      await scratch.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const MIN = 60_000;
const floorMin = (t: number): number => Math.floor(t / MIN) * MIN;

function writerFor(
  db: Database,
  dir: string,
  sink = new PgTelemetrySink(db) as ConstructorParameters<typeof TelemetryWriter>[0]['sink'],
): TelemetryWriter {
  const w = new TelemetryWriter({
    sink,
    spool: new TelemetrySpool(join(dir, `spool-${Math.random().toString(36).slice(2)}`), 10_000_000),
    clock: systemClock,
    metrics: new HazwatchMetrics(false),
    batchSize: 1000,
    flushMs: 20,
    queueMax: 100_000,
  });
  w.start();
  return w;
}

const reading = (ts: number, value: number, channel = 'conc'): Reading => ({
  siteId: 's',
  deviceId: 'd',
  channel,
  ts,
  value,
  quality: 'good',
  receivedAt: ts,
});

suite('TimescaleDB path (docs/adr/0017-timescale-path.md)', () => {
  beforeAll(() => JsonLogger.setLevel('error'));

  it('should leave the open chunk without a series btree and keep policy job ids when aligning with the environment', async () => {
    const scratch = await createScratchDatabase(url!, 'storage_tsdb_pol');
    const db = await Database.open({ url: scratch.url, probeIntervalMs: 0 });
    try {
      expect(db.timescale).toBe(true);
      const idx = await db.query<{ indexname: string }>(
        `SELECT indexname FROM pg_indexes WHERE tablename = 'telemetry' ORDER BY 1`,
      );
      expect(idx.rows.map((r) => r.indexname)).toEqual(['telemetry_reading_key']);
      const cagg = await db.query<{ compression_enabled: boolean }>(
        `SELECT compression_enabled FROM timescaledb_information.continuous_aggregates WHERE view_name = 'telemetry_1m'`,
      );
      expect(cagg.rows).toEqual([{ compression_enabled: true }]);

      const base = {
        db,
        retentionDays: 90,
        rollupRetentionDays: 730,
        chunkHours: 24,
        compressAfterHours: 168,
      };
      const first = await new TimescalePolicies(base).align();
      const byName = (ps: typeof first) => Object.fromEntries(ps.map((p) => [`${p.kind}:${p.table}`, p]));
      const a = byName(first);
      expect(a['policy_retention:telemetry']!.action).toBe('kept');
      expect(a['policy_compression:telemetry']!.action).toBe('kept');
      expect(a['policy_retention:telemetry_1m']!.action).toBe('added');
      expect(a['policy_compression:telemetry_1m']!.action).toBe('added');

      const metrics = new HazwatchMetrics(false);
      const again = new TimescalePolicies({ ...base, metrics, retentionDays: 120, chunkHours: 12 });
      const b = byName(await again.align());
      expect(b['policy_retention:telemetry']).toEqual({
        ...a['policy_retention:telemetry'],
        action: 'altered',
      });
      expect(b['policy_retention:telemetry_1m']).toEqual({
        ...a['policy_retention:telemetry_1m'],
        action: 'kept',
      });
      const cfg = await db.query<{ same: boolean }>(
        `SELECT (config->>'drop_after')::interval = INTERVAL '120 days' AS same FROM timescaledb_information.jobs WHERE job_id = $1`,
        [b['policy_retention:telemetry']!.jobId],
      );
      expect(cfg.rows).toEqual([{ same: true }]);
      const dim = await db.query<{ same: boolean }>(
        `SELECT time_interval = INTERVAL '12 hours' AS same FROM timescaledb_information.dimensions WHERE hypertable_name = 'telemetry'`,
      );
      expect(dim.rows).toEqual([{ same: true }]);

      // job stats as job_stats has them (rows appear once the background scheduler ran a job; on PostgreSQL 15.20
      // TimescaleDB's background workers fail every job with "cannot drop portal ... while it is being set up")
      // poll until the scheduler has run the rollup's refresh job once (it starts a minute-interval job at once)
      const refreshJob = async (): Promise<boolean> =>
        (
          await db.query(`SELECT 1 FROM timescaledb_information.job_stats s JOIN timescaledb_information.jobs j USING (job_id)
                         WHERE j.proc_name = 'policy_refresh_continuous_aggregate'`)
        ).rowCount === 1;
      for (let i = 0; i < 600 && !(await refreshJob()); i++) await new Promise((r) => setTimeout(r, 100));
      const jobs = await again.pollJobs();
      expect(jobs.map((j) => j.name)).toContain('policy_refresh_continuous_aggregate:telemetry_1m');
      const listed = await db.query<{ job_id: number }>(
        `SELECT job_id FROM timescaledb_information.jobs ORDER BY job_id`,
      );
      expect(jobs.map((j) => j.jobId)).toEqual(listed.rows.map((r) => r.job_id));
      expect(jobs.map((j) => j.name)).toEqual(
        expect.arrayContaining([
          'policy_retention:telemetry',
          'policy_compression:telemetry',
          'policy_retention:telemetry_1m',
        ]),
      );
      const stats = await db.query<{ job_id: number; failed: boolean }>(
        `SELECT job_id, last_run_status = 'Failed' AS failed FROM timescaledb_information.job_stats ORDER BY job_id`,
      );
      const status = again.status()!;
      const bad = jobs.filter((j) => j.overdue || stats.rows.some((r) => r.job_id === j.jobId && r.failed));
      expect(status.ok).toBe(bad.length === 0);
      for (const j of bad) expect(status.detail).toContain(`(job ${j.jobId})`);
      const text = await metrics.registry.metrics();
      for (const j of jobs)
        expect(text).toContain(
          `hazwatch_timescale_job_last_run_failed{timescale_job="${j.name}"} ${j.lastRunStatus === 'Failed' ? 1 : 0}`,
        );
    } finally {
      await db.close();
      await scratch.drop();
    }
  });

  it('should refresh telemetry_1m over late rows once their COPY committed', async () => {
    const scratch = await createScratchDatabase(url!, 'storage_tsdb_late');
    const db = await Database.open({ url: scratch.url, probeIntervalMs: 0 });
    const dir = mkdtempSync(join(tmpdir(), 'hazwatch-tsdb-late-'));
    try {
      const now = Date.now();
      // materialize a recent minute: the aggregate's real-time part then starts at that watermark
      const live = writerFor(db, dir);
      live.enqueue([reading(floorMin(now) - 10 * MIN, 1)]);
      await live.close();
      await db.query(`CALL refresh_continuous_aggregate('telemetry_1m', NULL, $1::timestamptz)`, [
        new Date(floorMin(now) - MIN),
      ]);

      const scheduler = new ManualScheduler(new ManualClock(0));
      const refresher = new RollupRefresher({ db, clock: systemClock, scheduler, debounceMs: 30_000 });
      const lateAt = floorMin(now - 5 * 3_600_000);
      const w = writerFor(db, dir, new LateDataSink(new PgTelemetrySink(db), refresher));
      w.enqueue([reading(lateAt + 1000, 10), reading(lateAt + 2000, 20), reading(lateAt + MIN + 5, 7)]);
      await w.flush();
      const view = (): Promise<unknown[]> =>
        db
          .query(
            `SELECT bucket, "min", "max", n::int AS n FROM telemetry_1m WHERE bucket < $1 ORDER BY bucket`,
            [new Date(now - 3_600_000)],
          )
          .then((r) => r.rows);
      expect(await view()).toEqual([]);
      expect(refresher.pendingRange()).toEqual({ min: lateAt + 1000, max: lateAt + MIN + 5 });
      await scheduler.advance(30_000);
      expect(await view()).toEqual([
        { bucket: new Date(lateAt), min: 10, max: 20, n: 2 },
        { bucket: new Date(lateAt + MIN), min: 7, max: 7, n: 1 },
      ]);
      await w.close();
    } finally {
      await db.close();
      await scratch.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should answer a bucketed range of days from telemetry_1m as from telemetry', async () => {
    const scratch = await createScratchDatabase(url!, 'storage_tsdb_long');
    const db = await Database.open({ url: scratch.url, probeIntervalMs: 0 });
    const dir = mkdtempSync(join(tmpdir(), 'hazwatch-tsdb-long-'));
    try {
      // half past an hour: the query below then spans 51 hour buckets whatever the minute the test runs at
      const start = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 86_400_000 + 30 * MIN;
      const rs: Reading[] = [];
      for (let i = 0; i < 3 * 24 * 12; i++)
        rs.push(reading(start + i * 5 * MIN + (i % 7) * 1000, (i * 37) % 101));
      const w = writerFor(db, dir);
      w.enqueue(rs);
      await w.close();
      await db.query(`CALL refresh_continuous_aggregate('telemetry_1m', NULL, $1::timestamptz)`, [
        new Date(floorMin(Date.now()) - MIN),
      ]);
      const q = {
        siteId: 's',
        deviceId: 'd',
        from: start + 17_000,
        to: start + 2 * 86_400_000 + 2 * 3_600_000 - 23_000,
        limit: 1000,
        bucketSeconds: 3600,
      };
      const rollup = new TelemetryQueryRepository(db);
      expect(rollup.useRollup(q)).toBe(true);
      const round = (bs: Awaited<ReturnType<TelemetryQueryRepository['bucketed']>>) =>
        bs.map((b) => ({ ...b, avg: Math.round(b.avg * 1e9) / 1e9 }));
      const viaRollup = round(await rollup.bucketed(q));
      const viaRaw = round(await new TelemetryQueryRepository(db, 'postgres').bucketed(q));
      expect(viaRollup.length).toBe(51);
      expect(viaRollup).toEqual(viaRaw);
    } finally {
      await db.close();
      await scratch.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should take the plain path with one warning for a role without CREATE on the database, and stop under TIMESCALE=require', async () => {
    const scratch = await createScratchDatabase(url!, 'storage_tsdb_role');
    const role = `hw_nocreate_${Date.now().toString(36)}`;
    const admin = new Client({ connectionString: scratch.url });
    await admin.connect();
    const warn = jest.spyOn(JsonLogger.prototype, 'warn');
    try {
      await admin.query(`CREATE ROLE ${role} LOGIN`);
      await admin.query(`GRANT CREATE ON SCHEMA public TO ${role}`);
      const u = new URL(scratch.url);
      u.username = role;
      u.password = '';
      await expect(
        Database.open({ url: u.toString(), probeIntervalMs: 0, timescaleMode: 'require' }),
      ).rejects.toThrow(/TIMESCALE=require: .*GRANT CREATE ON DATABASE/);
      const db = await Database.open({ url: u.toString(), probeIntervalMs: 0 });
      try {
        expect(db.timescale).toBe(false);
        const warnings = warn.mock.calls.filter((c) =>
          /TimescaleDB is installed but not used/.test(String(c[0])),
        );
        expect(warnings).toHaveLength(1);
        const kind = await db.query(`SELECT relkind::text AS k FROM pg_class WHERE relname = 'telemetry'`);
        expect(kind.rows).toEqual([{ k: 'p' }]);
      } finally {
        await db.close();
      }
    } finally {
      warn.mockRestore();
      await admin.query(`DROP OWNED BY ${role}`).catch(() => undefined);
      await admin.end();
      await scratch.drop();
      const c = new Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
      await c.end();
    }
  });

  it('should keep partitions and row retention running when the extension is created later in a plain-path database', async () => {
    const scratch = await createScratchDatabase(url!, 'storage_tsdb_later');
    try {
      const plain = await Database.open({ url: scratch.url, probeIntervalMs: 0, timescaleMode: 'off' });
      expect(plain.timescale).toBe(false);
      await plain.query(`CREATE EXTENSION timescaledb`);
      await plain.close();
      const db = await Database.open({ url: scratch.url, probeIntervalMs: 0 });
      try {
        expect(db.timescale).toBe(false);
        const clock = new ManualClock(Date.now());
        const round = await new TelemetryPartitions({ db, clock, retentionDays: 90 }).runOnce();
        expect(round.skipped).toBeUndefined();
        expect(round.failed).toEqual([]);
        await db.query(
          `INSERT INTO telemetry (time, site_id, device_id, channel, value, quality) VALUES (now() - INTERVAL '200 days', 's', 'd', 'c', 1, 0)`,
        );
        expect(await new RetentionService({ db, clock, retentionDays: 90 }).runOnce()).toBe(1);
      } finally {
        await db.close();
      }
      await expect(
        Database.open({ url: scratch.url, probeIntervalMs: 0, timescaleMode: 'require' }),
      ).rejects.toThrow(/TIMESCALE=require: telemetry was created on the plain PostgreSQL path/);
    } finally {
      await scratch.drop();
    }
  });
});

/**
 * A server with the package installed but not preloaded (TEST_TIMESCALE_NOPRELOAD_URL, else TEST_DATABASE_URL when it is
 * one); skipped without one.
 */
const noPreload = timescaleNoPreloadServer();
const noPreloadUrl = noPreload.url;
if (!noPreloadUrl)
  console.warn(`storage-timescale.int-spec: not-preloaded case skipped — ${noPreload.reason}`);
(noPreloadUrl ? describe : describe.skip)('TimescaleDB installed but not preloaded', () => {
  it('should start on the plain path with a warning naming shared_preload_libraries, and stop under TIMESCALE=require', async () => {
    JsonLogger.setLevel('error');
    const scratch = await createScratchDatabase(noPreloadUrl!, 'storage_tsdb_nopre');
    const warn = jest.spyOn(JsonLogger.prototype, 'warn');
    try {
      await expect(
        Database.open({ url: scratch.url, probeIntervalMs: 0, timescaleMode: 'require' }),
      ).rejects.toThrow(/TIMESCALE=require: .*shared_preload_libraries/);
      const db = await Database.open({ url: scratch.url, probeIntervalMs: 0 });
      try {
        expect(db.timescale).toBe(false);
        expect(warn.mock.calls.filter((c) => /shared_preload_libraries/.test(String(c[0])))).toHaveLength(1);
        const ext = await db.query(`SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'`);
        expect(ext.rowCount).toBe(0);
      } finally {
        await db.close();
      }
    } finally {
      warn.mockRestore();
      await scratch.drop();
    }
  });
});
