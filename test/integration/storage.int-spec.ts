import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { systemClock } from '../../src/common/clock';
import { JsonLogger } from '../../src/common/logger';
import type { Reading } from '../../src/common/types';
import { HazwatchMetrics } from '../../src/metrics/metrics.registry';
import { Database } from '../../src/storage/database.service';
import { DeadLetterRepository } from '../../src/storage/dead-letter.repository';
import { DeviceStateRepository } from '../../src/storage/device-state.repository';
import { RetentionService } from '../../src/storage/retention.service';
import { TelemetryQueryRepository } from '../../src/storage/telemetry-query.repository';
import { TelemetryWriter, type RejectedRow } from '../../src/storage/telemetry-writer.service';
import { PgTelemetrySink } from '../../src/storage/telemetry.sink';
import { TelemetrySpool } from '../../src/storage/telemetry.spool';
import {
  TEST_DATABASE_URL,
  createScratchDatabase,
  describeWithDb,
  prepareTestDatabase,
  uniqueId,
} from '../setup/test-db';

const suite = describeWithDb('storage.int-spec');
const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);

suite('storage against PostgreSQL (real migrations)', () => {
  const url = TEST_DATABASE_URL!;
  let db: Database;
  let pool: Pool;
  let dir: string;
  let metrics: HazwatchMetrics;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    await prepareTestDatabase(url);
    metrics = new HazwatchMetrics(false);
    db = await Database.open({ url, metrics });
    pool = new Pool({ connectionString: url, max: 2 });
  });

  afterAll(async () => {
    await db?.close();
    await pool?.end();
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hazwatch-storage-it-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function writer(rejected: RejectedRow[] = []): TelemetryWriter {
    const w = new TelemetryWriter({
      sink: new PgTelemetrySink(db),
      spool: new TelemetrySpool(join(dir, 'spool'), 100_000_000),
      clock: systemClock,
      metrics,
      batchSize: 1000,
      flushMs: 20,
      queueMax: 100_000,
      onReject: (r) => rejected.push(r),
    });
    w.start();
    return w;
  }

  it('should be ready with the plain-PostgreSQL path when timescaledb is not installed', async () => {
    expect(db.ready).toBe(true);
    await expect(db.isUp()).resolves.toBe(true);
    const avail = await pool.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'`);
    expect(db.timescale).toBe(false);
    if (avail.rowCount === 0) {
      // partitioned by day (migrations/1764000500000_telemetry-partitions.sql): BRIN on the parent, the series
      // btree on the legacy partition (and on each closed daily partition, storage-partitions.int-spec)
      const idx = await pool.query(
        `SELECT tablename || '.' || indexname AS i FROM pg_indexes
         WHERE tablename IN ('telemetry', 'telemetry_p_legacy') ORDER BY 1`,
      );
      expect(idx.rows.map((r: { i: string }) => r.i)).toEqual([
        'telemetry.telemetry_reading_key', // unique reading key, docs/adr/0014-idempotent-telemetry.md
        'telemetry.telemetry_time_brin',
        'telemetry_p_legacy.telemetry_p_legacy_series_idx',
        'telemetry_p_legacy.telemetry_p_legacy_time_brin',
        'telemetry_p_legacy.telemetry_p_legacy_time_site_id_device_id_channel_coalesce_idx',
      ]);
    }
    expect(db.connectionString).not.toMatch(/:[^:@/]+@/); // password, if any, masked
  });

  it('should round-trip numbers, booleans, strings with tabs/newlines/backslashes/unicode and quality through COPY', async () => {
    const site = uniqueId('st-copy');
    const nasty = [
      'tab\there',
      'line\nbreak',
      'cr\rreturn',
      'back\\slash',
      '\\.',
      '\\N',
      '氯气泄漏 ✓ 🚨',
      'quote"\'',
      ' lead/trail ',
      '',
    ];
    const rs: Reading[] = [
      {
        siteId: site,
        deviceId: 'gd-1',
        channel: 'conc',
        ts: T0,
        value: 12.75,
        quality: 'good',
        receivedAt: T0,
      },
      {
        siteId: site,
        deviceId: 'gd-1',
        channel: 'conc',
        ts: T0 + 1,
        value: -0.001,
        quality: 'uncertain',
        receivedAt: T0,
      },
      {
        siteId: site,
        deviceId: 'gd-1',
        channel: 'conc',
        ts: T0 + 2,
        value: 1e-300,
        quality: 'bad',
        receivedAt: T0,
      },
      {
        siteId: site,
        deviceId: 'gd-1',
        channel: 'fault',
        ts: T0 + 3,
        value: true,
        quality: 'good',
        receivedAt: T0,
      },
      {
        siteId: site,
        deviceId: 'gd-1',
        channel: 'fault',
        ts: T0 + 4,
        value: false,
        quality: 'good',
        receivedAt: T0,
      },
      ...nasty.map((s, i): Reading => ({
        siteId: site,
        deviceId: 'valve\t1',
        channel: `position`,
        ts: T0 + 10 + i,
        value: s,
        quality: 'good',
        receivedAt: T0,
      })),
    ];
    const rejected: RejectedRow[] = [];
    const w = writer(rejected);
    w.enqueue(rs);
    await w.flush();
    await w.close();

    const r = await pool.query<{
      time: Date;
      device_id: string;
      channel: string;
      value: number | null;
      text_value: string | null;
      quality: number;
    }>(
      'SELECT time, device_id, channel, value, text_value, quality FROM telemetry WHERE site_id = $1 ORDER BY time',
      [site],
    );
    expect(rejected).toEqual([]);
    expect(
      r.rows.map((x) => [x.time.getTime(), x.device_id, x.channel, x.value, x.text_value, x.quality]),
    ).toEqual([
      [T0, 'gd-1', 'conc', 12.75, null, 0],
      [T0 + 1, 'gd-1', 'conc', -0.001, null, 1],
      [T0 + 2, 'gd-1', 'conc', 1e-300, null, 2],
      [T0 + 3, 'gd-1', 'fault', 1, null, 0],
      [T0 + 4, 'gd-1', 'fault', 0, null, 0],
      ...nasty.map((s, i) => [T0 + 10 + i, 'valve\t1', 'position', null, s, 0]),
    ]);
  });

  it('should isolate the rows PostgreSQL refuses (constraint violation) and still store the rest of the batch', async () => {
    // A scratch database, so the extra CHECK constraint never affects other suites.
    const scratch = await createScratchDatabase(url, 'storage_reject');
    const sdb = await Database.open({ url: scratch.url, metrics });
    try {
      await sdb.query('ALTER TABLE telemetry ADD CONSTRAINT it_no_666 CHECK (value IS DISTINCT FROM 666)');
      const rejected: RejectedRow[] = [];
      const w = new TelemetryWriter({
        sink: new PgTelemetrySink(sdb),
        spool: new TelemetrySpool(join(dir, 'spool'), 100_000_000),
        clock: systemClock,
        metrics,
        batchSize: 1000,
        flushMs: 20,
        queueMax: 100_000,
        onReject: (r) => rejected.push(r),
      });
      w.start();
      const rs = Array.from({ length: 200 }, (_, i): Reading => ({
        siteId: 's',
        deviceId: 'gd-1',
        channel: 'conc',
        ts: T0 + i,
        value: i === 17 || i === 150 ? 666 : i,
        quality: 'good',
        receivedAt: T0,
      }));
      w.enqueue(rs);
      await w.close();
      const r = await sdb.query<{ n: string; s: string }>(
        'SELECT count(*) AS n, sum(value) AS s FROM telemetry',
      );
      expect(Number(r.rows[0]!.n)).toBe(198);
      expect(Number(r.rows[0]!.s)).toBe((199 * 200) / 2 - 17 - 150);
      expect(rejected.map((x) => x.payload.split('\t')[4])).toEqual(['666', '666']);
      expect(rejected[0]!.detail).toContain('23514');
      expect(w.isDatabaseFailing()).toBe(false);
      expect(w.spoolBytes()).toBe(0);
    } finally {
      await sdb.close();
      await scratch.drop();
    }
  });

  it('should return raw history newest first and 1-minute buckets with min/max/avg/last on the plain path', async () => {
    const site = uniqueId('st-q');
    const w = writer();
    const rs: Reading[] = [];
    // minute 0: 1,2,3 (last 3); minute 1: 10, 4 (last 4); a string channel that buckets ignore
    const put = (sec: number, value: number | string, channel = 'conc'): void => {
      rs.push({
        siteId: site,
        deviceId: 'gd-9',
        channel,
        ts: T0 + sec * 1000,
        value,
        quality: 'good',
        receivedAt: T0,
      });
    };
    put(0, 1);
    put(20, 3);
    put(10, 2);
    put(59, 3);
    put(60, 10);
    put(119, 4);
    put(30, 'open', 'position');
    w.enqueue(rs);
    await w.close();

    const q = new TelemetryQueryRepository(db);
    const raw = await q.raw({
      siteId: site,
      deviceId: 'gd-9',
      channel: 'conc',
      from: T0,
      to: T0 + 120_000,
      limit: 3,
    });
    expect(raw.map((p) => [p.time.getTime(), p.value])).toEqual([
      [T0 + 119_000, 4],
      [T0 + 60_000, 10],
      [T0 + 59_000, 3],
    ]);
    const all = await q.raw({ siteId: site, deviceId: 'gd-9', from: T0, to: T0 + 120_000, limit: 100 });
    expect(all).toHaveLength(7);
    expect(all.find((p) => p.channel === 'position')).toMatchObject({
      value: null,
      textValue: 'open',
      quality: 0,
    });

    const b = await q.bucketed({
      siteId: site,
      deviceId: 'gd-9',
      from: T0,
      to: T0 + 120_000,
      limit: 100,
      bucketSeconds: 60,
    });
    expect(b).toEqual([
      { bucket: new Date(T0 + 60_000), channel: 'conc', min: 4, max: 10, avg: 7, last: 4, n: 2 },
      { bucket: new Date(T0), channel: 'conc', min: 1, max: 3, avg: 2.25, last: 3, n: 4 },
    ]);
    const b2 = await q.bucketed({
      siteId: site,
      deviceId: 'gd-9',
      channel: 'conc',
      from: T0,
      to: T0 + 120_000,
      limit: 100,
      bucketSeconds: 3600,
    });
    expect(b2).toEqual([
      { bucket: new Date(T0), channel: 'conc', min: 1, max: 10, avg: 23 / 6, last: 4, n: 6 },
    ]);

    const view = await pool.query(
      `SELECT bucket, channel, "min", "max", "avg", "last", n::int AS n FROM telemetry_1m WHERE site_id = $1 ORDER BY bucket`,
      [site],
    );
    expect(view.rows).toEqual([
      { bucket: new Date(T0), channel: 'conc', min: 1, max: 3, avg: 2.25, last: 3, n: 4 },
      { bucket: new Date(T0 + 60_000), channel: 'conc', min: 4, max: 10, avg: 7, last: 4, n: 2 },
    ]);
  });

  it('should write dead letters in batches, truncate payloads to 1 KiB and list them newest first with filters', async () => {
    const topic = `hazwatch/v1/${uniqueId('st-dl')}/gd-1/telemetry`;
    const dl = new DeadLetterRepository({ db, metrics, maxRows: 100_000 });
    const big = Buffer.alloc(5000, 0x41);
    dl.record({
      topic,
      reason: 'invalid_json',
      detail: 'Unexpected token',
      payload: Buffer.from('{not json'),
      receivedAt: T0,
    });
    dl.record({ topic, reason: 'out_of_range', detail: 'conc 999 > 100', payload: big, receivedAt: T0 + 1 });
    dl.record({
      topic,
      reason: 'invalid_json',
      detail: 'binary',
      payload: Buffer.from([0, 1, 2, 255]),
      receivedAt: T0 + 2,
    });
    expect(dl.pending()).toBe(3);
    await dl.flush();
    expect(dl.pending()).toBe(0);

    const all = (await dl.list({ limit: 500 })).filter((d) => d.topic === topic);
    expect(all.map((d) => d.reason)).toEqual(['invalid_json', 'out_of_range', 'invalid_json']);
    expect(all[1]!.payload.length).toBe(1024);
    expect(all[0]!.payload).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(all[2]!.receivedAt.getTime()).toBe(T0);

    const page = await dl.list({ limit: 1, reason: 'invalid_json', beforeId: all[0]!.id });
    expect(page.map((d) => d.id)).toEqual([all[2]!.id]);
  });

  it('should prune dead letters down to the newest DEADLETTER_MAX_ROWS', async () => {
    const scratch = await createScratchDatabase(url, 'storage_prune');
    const sdb = await Database.open({ url: scratch.url });
    try {
      const dl = new DeadLetterRepository({ db: sdb, metrics, maxRows: 100 });
      for (let i = 0; i < 250; i++) {
        dl.record({
          topic: 't',
          reason: 'invalid_json',
          detail: String(i),
          payload: Buffer.from([i % 256]),
          receivedAt: T0 + i,
        });
      }
      await dl.flush();
      await expect(dl.prune()).resolves.toBe(150);
      const left = await dl.list({ limit: 1000 });
      expect(left).toHaveLength(100);
      expect(left[0]!.detail).toBe('249');
      expect(left[99]!.detail).toBe('150');
      await expect(dl.prune()).resolves.toBe(0);
    } finally {
      await sdb.close();
      await scratch.drop();
    }
  });

  it('should upsert device states in one batch, keep last_seen monotonic and load them back', async () => {
    const site = uniqueId('st-ds');
    const repo = new DeviceStateRepository(db);
    await repo.upsertMany([
      { siteId: site, deviceId: 'a', state: 'online', stateChangedAt: T0, lastSeen: T0 + 5 },
      { siteId: site, deviceId: 'b', state: 'offline', stateChangedAt: T0, lastSeen: null },
      { siteId: site, deviceId: 'a', state: 'offline', stateChangedAt: T0 + 10, lastSeen: T0 + 10 }, // same device twice
    ]);
    await repo.upsertMany([
      { siteId: site, deviceId: 'a', state: 'online', stateChangedAt: T0 + 20, lastSeen: T0 + 1 },
    ]);
    const rows = (await repo.loadAll())
      .filter((r) => r.siteId === site)
      .sort((x, y) => x.deviceId.localeCompare(y.deviceId));
    expect(rows).toEqual([
      { siteId: site, deviceId: 'a', state: 'online', stateChangedAt: T0 + 20, lastSeen: T0 + 10 },
      { siteId: site, deviceId: 'b', state: 'offline', stateChangedAt: T0, lastSeen: null },
    ]);
  });

  it('should delete telemetry older than the retention period in bounded chunks', async () => {
    const site = uniqueId('st-ret');
    const w = writer();
    const now = Date.now();
    const day = 86_400_000;
    // Old rows are far in the past (2001) so other suites' data is never in the deleted range except their own old rows.
    const old = Date.UTC(2001, 0, 1);
    w.enqueue(
      Array.from({ length: 25 }, (_, i): Reading => ({
        siteId: site,
        deviceId: 'd',
        channel: 'c',
        ts: old + i,
        value: i,
        quality: 'good',
        receivedAt: now,
      })),
    );
    w.enqueue([
      {
        siteId: site,
        deviceId: 'd',
        channel: 'c',
        ts: now - day,
        value: 1,
        quality: 'good',
        receivedAt: now,
      },
    ]);
    await w.close();
    const retention = new RetentionService({
      db,
      clock: { now: () => Date.UTC(2001, 0, 1) + 91 * day },
      retentionDays: 90,
      chunkRows: 10,
    });
    const deleted = await retention.runOnce();
    expect(deleted).toBeGreaterThanOrEqual(25);
    const left = await pool.query<{ n: string }>('SELECT count(*) AS n FROM telemetry WHERE site_id = $1', [
      site,
    ]);
    expect(Number(left.rows[0]!.n)).toBe(1);
  });
});
