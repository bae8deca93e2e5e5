import { spawnSync } from 'node:child_process';
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
import { createScratchDatabase } from '../setup/test-db';

/**
 * The TimescaleDB path (hypertable, continuous aggregate, time_bucket/last). Runs against
 * TEST_TIMESCALE_URL, else TEST_DATABASE_URL, when that server can install the timescaledb extension;
 * skips with a printed reason otherwise (the local PostgreSQL here has no TimescaleDB).
 */
const url = process.env.TEST_TIMESCALE_URL ?? process.env.TEST_DATABASE_URL;

/** Synchronous probe so the suite can be skipped (describe cannot wait for a query). */
function timescaleAvailable(u: string): boolean {
  const script = `
    const { Client } = require('pg');
    const c = new Client({ connectionString: process.argv[1] });
    c.connect().then(() => c.query("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"))
      .then((r) => { process.stdout.write(r.rowCount > 0 ? 'yes' : 'no'); return c.end(); })
      .catch(() => { process.stdout.write('error'); process.exit(0); });`;
  const r = spawnSync(process.execPath, ['-e', script, u], {
    cwd: join(__dirname, '../..'),
    encoding: 'utf8',
    timeout: 15_000,
  });
  return r.stdout === 'yes';
}

let reason: string | undefined;
if (!url) reason = 'set TEST_TIMESCALE_URL or TEST_DATABASE_URL';
else if (!timescaleAvailable(url)) reason = 'the timescaledb extension is not available on that server';
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
