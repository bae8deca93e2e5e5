import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, systemClock } from '../../src/common/clock';
import { JsonLogger } from '../../src/common/logger';
import type { Reading } from '../../src/common/types';
import { HazwatchMetrics } from '../../src/metrics/metrics.registry';
import { Database } from '../../src/storage/database.service';
import { migrationsDir, runMigrations } from '../../src/storage/migration.runner';
import { RetentionService } from '../../src/storage/retention.service';
import { utcDayStart } from '../../src/storage/telemetry-partitions';
import { TelemetryPartitions } from '../../src/storage/telemetry-partitions.service';
import { RAW, TelemetryQueryRepository } from '../../src/storage/telemetry-query.repository';
import { TelemetryWriter } from '../../src/storage/telemetry-writer.service';
import { PgTelemetrySink } from '../../src/storage/telemetry.sink';
import { TelemetrySpool } from '../../src/storage/telemetry.spool';
import { TEST_DATABASE_URL, createScratchDatabase, describeWithDb, uniqueId } from '../setup/test-db';

/**
 * Daily partitions of `telemetry` on plain PostgreSQL (migrations/1764000500000_telemetry-partitions.sql,
 * TelemetryPartitions, RetentionService). Partitions are created and dropped by clock time, and the migration is
 * reverted and re-applied, so this suite runs in its own scratch database (created on the TEST_DATABASE_URL server,
 * migrated with the real migrations) instead of the shared one, where dropping partitions or migrating down would
 * touch other suites' rows. The steps build on each other in file order, driven by a ManualClock in 2040.
 */
const suite = describeWithDb('storage-partitions.int-spec');
const MIGRATION = '1764000500000_telemetry-partitions';
const H = 3_600_000;
const D = (m: number, d: number, h = 0, min = 0): number => Date.UTC(2040, m - 1, d, h, min);

type Line = { level: string; msg: string; fields: Record<string, unknown> };
class CapturingLogger extends JsonLogger {
  readonly lines: Line[] = [];
  override info(msg: unknown, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: 'info', msg: String(msg), fields });
  }
  override warn(msg: unknown, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: 'warn', msg: String(msg), fields });
  }
  override error(msg: unknown, fields: Record<string, unknown> | string = {}): void {
    this.lines.push({ level: 'error', msg: String(msg), fields: typeof fields === 'string' ? {} : fields });
  }
}

suite('telemetry daily partitions on plain PostgreSQL (scratch database)', () => {
  const url = TEST_DATABASE_URL!;
  const clock = new ManualClock(D(3, 10, 12));
  const log = new CapturingLogger();
  const site = uniqueId('st-part');
  let scratch: { url: string; drop(): Promise<void> };
  let db: Database;
  let partitions: TelemetryPartitions;
  let dir: string;
  /** UTC day starts around the migration (it runs in Database.open; midnight may pass meanwhile). */
  let migrationDays: number[];

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    scratch = await createScratchDatabase(url, 'storage_part');
    const before = utcDayStart(Date.now());
    db = await Database.open({ url: scratch.url, metrics: new HazwatchMetrics(false) });
    migrationDays = [before, utcDayStart(Date.now())];
    partitions = new TelemetryPartitions({ db, clock, retentionDays: 90, log, lockTimeoutMs: 10_000 });
    dir = mkdtempSync(join(tmpdir(), 'hazwatch-partitions-it-'));
  });

  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Writes through the real writer and COPY sink, as the server does. */
  async function copyRows(rs: Reading[]): Promise<void> {
    const w = new TelemetryWriter({
      sink: new PgTelemetrySink(db),
      spool: new TelemetrySpool(join(dir, uniqueId('spool')), 100_000_000),
      clock: systemClock,
      metrics: new HazwatchMetrics(false),
      batchSize: 1000,
      flushMs: 20,
      queueMax: 100_000,
      onReject: (r) => {
        throw new Error(`row rejected: ${r.detail}`);
      },
    });
    w.start();
    w.enqueue(rs);
    await w.close();
  }

  const reading = (
    ts: number,
    value: number,
    deviceId = 'gd-1',
    channel = 'conc',
    siteId = site,
  ): Reading => ({
    siteId,
    deviceId,
    channel,
    ts,
    value,
    quality: 'good',
    receivedAt: ts,
  });

  async function partitionCounts(siteId = site): Promise<Record<string, number>> {
    const r = await db.query<{ part: string; n: number }>(
      `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM telemetry WHERE site_id = $1 GROUP BY 1`,
      [siteId],
    );
    return Object.fromEntries(r.rows.map((x) => [x.part, x.n]));
  }

  async function dailyPartitions(): Promise<string[]> {
    const r = await db.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
       WHERE h.inhparent = 'telemetry'::regclass AND c.relname ~ '^telemetry_p[0-9]{8}$' ORDER BY 1`,
    );
    return r.rows.map((x) => x.name);
  }

  async function indexesOf(table: string): Promise<Array<{ name: string; method: string; valid: boolean }>> {
    const r = await db.query<{ name: string; method: string; valid: boolean }>(
      `SELECT ic.relname AS name, am.amname AS method, i.indisvalid AS valid
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
       WHERE i.indrelid = to_regclass($1) ORDER BY 1`,
      [table],
    );
    return r.rows;
  }

  /** Upper bound of the legacy partition's range, epoch ms. */
  async function legacyEnd(): Promise<number> {
    const r = await db.query<{ legacy_end: Date }>(
      `SELECT (regexp_match(pg_get_expr(relpartbound, oid), 'TO \\(''([^'']*)''\\)'))[1]::timestamptz AS legacy_end
       FROM pg_class WHERE relname = 'telemetry_p_legacy'`,
    );
    return r.rows[0]!.legacy_end.getTime();
  }

  it('should end the legacy range at the start of migration day when the table held no row of that day', async () => {
    expect(migrationDays).toContain(await legacyEnd());
  });

  it('should create the partitions of the clock day and the next two days, with only a BRIN index', async () => {
    const r = await partitions.runOnce();
    expect(r).toMatchObject({
      created: ['telemetry_p20400310', 'telemetry_p20400311', 'telemetry_p20400312'],
      failed: [],
    });
    expect(await dailyPartitions()).toEqual([
      'telemetry_p20400310',
      'telemetry_p20400311',
      'telemetry_p20400312',
    ]);
    // BRIN on time, plus the unique reading key every partition carries (docs/adr/0014-idempotent-telemetry.md);
    // no series index on a day that is still open
    expect(await indexesOf('telemetry_p20400310')).toEqual([
      { name: 'telemetry_p20400310_time_idx', method: 'brin', valid: true },
      {
        name: 'telemetry_p20400310_time_site_id_device_id_channel_coalesce_idx',
        method: 'btree',
        valid: true,
      },
    ]);
    const bound = await db.query<{ b: string }>(
      `SELECT pg_get_expr(relpartbound, oid) AS b FROM pg_class WHERE relname = 'telemetry_p20400310'`,
    );
    expect(bound.rows[0]!.b).toBe("FOR VALUES FROM ('2040-03-10 00:00:00+00') TO ('2040-03-11 00:00:00+00')");
    // a second round finds everything in place
    await expect(partitions.runOnce()).resolves.toMatchObject({
      created: [],
      indexed: [],
      dropped: [],
      failed: [],
    });
  });

  it("should route COPY rows of today to today's partition, old rows to legacy and a row 10 years ahead to DEFAULT", async () => {
    await copyRows([
      ...Array.from({ length: 10 }, (_, i) => reading(D(3, 10, 12) + i * 1000, i)),
      reading(Date.UTC(2001, 0, 1), -1),
      reading(D(3, 10, 12) + 3650 * 24 * H, 99),
    ]);
    expect(await partitionCounts()).toEqual({
      telemetry_p20400310: 10,
      telemetry_p_legacy: 1,
      telemetry_p_default: 1,
    });
  });

  it('should build the series index of a day once it has ended, and leave the open day on BRIN only', async () => {
    clock.set(D(3, 11, 0, 5));
    const r = await partitions.runOnce();
    expect(r).toMatchObject({
      created: ['telemetry_p20400313'],
      indexed: ['telemetry_p20400310'],
      failed: [],
    });
    expect(await indexesOf('telemetry_p20400310')).toEqual([
      { name: 'telemetry_p20400310_series_idx', method: 'btree', valid: true },
      { name: 'telemetry_p20400310_time_idx', method: 'brin', valid: true },
      {
        name: 'telemetry_p20400310_time_site_id_device_id_channel_coalesce_idx',
        method: 'btree',
        valid: true,
      },
    ]);
    expect((await indexesOf('telemetry_p20400311')).map((i) => i.name)).toEqual([
      'telemetry_p20400311_time_idx',
      'telemetry_p20400311_time_site_id_device_id_channel_coalesce_idx',
    ]);
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'info',
        fields: expect.objectContaining({ partition: 'telemetry_p20400310' }),
      }),
    );
  });

  it('should rebuild a series index left invalid by an interrupted build', async () => {
    await db.query(
      `UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'telemetry_p20400310_series_idx'::regclass`,
    );
    const r = await partitions.runOnce();
    expect(r).toMatchObject({ indexed: ['telemetry_p20400310'], failed: [] });
    expect(await indexesOf('telemetry_p20400310')).toContainEqual({
      name: 'telemetry_p20400310_series_idx',
      method: 'btree',
      valid: true,
    });
    expect(log.lines.some((l) => l.msg.startsWith('rebuilding an invalid series index'))).toBe(true);
  });

  it('should plan a one-series query on the closed day with its series index and on today with BRIN, pruning the rest', async () => {
    const other = uniqueId('st-bulk');
    // 40 devices x 2 channels, one reading per 30 s over the closed day (03-10) and today (03-11) until 12:00
    await db.query(
      `INSERT INTO telemetry (time, site_id, device_id, channel, value)
       SELECT t, $1, 'gd-' || d, c, d
       FROM generate_series($2::timestamptz, $3::timestamptz, interval '30 seconds') t,
            generate_series(1, 40) d, unnest(ARRAY['conc', 'fault']) c`,
      [other, new Date(D(3, 10)), new Date(D(3, 11, 12))],
    );
    await db.query('ANALYZE telemetry_p20400310');
    await db.query('ANALYZE telemetry_p20400311');
    const plan = async (from: number, to: number): Promise<string> => {
      const r = await db.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) ${RAW}`, [
        other,
        'gd-7',
        'conc',
        new Date(from),
        new Date(to),
        1000,
      ]);
      return JSON.stringify(r.rows[0]!['QUERY PLAN']);
    };
    const closed = await plan(D(3, 10, 6), D(3, 10, 8));
    expect(closed).toContain('"Index Name":"telemetry_p20400310_series_idx"');
    expect(closed.match(/"Relation Name":"([^"]+)"/g)).toEqual(['"Relation Name":"telemetry_p20400310"']);
    const today = await plan(D(3, 11, 6), D(3, 11, 8));
    // the open day is read by time: its BRIN or the time-led unique reading key, never a series index
    expect(today).toMatch(
      /"Index Name":"telemetry_p20400311_time_(idx|site_id_device_id_channel_coalesce_idx)"/,
    );
    expect(today).not.toContain('series_idx');
    expect(today.match(/"Relation Name":"([^"]+)"/g)).toEqual(['"Relation Name":"telemetry_p20400311"']);
  });

  it('should return the same raw and bucketed rows for a series spanning two partitions and DEFAULT', async () => {
    const s = uniqueId('st-span');
    // one reading a minute from 03-10 23:00 to 03-11 00:59, plus one on 03-14 (no partition yet: DEFAULT)
    const rs = Array.from({ length: 120 }, (_, i) =>
      reading(D(3, 10, 23) + i * 60_000, i, 'gd-1', 'conc', s),
    );
    rs.push(reading(D(3, 14, 6), 1000, 'gd-1', 'conc', s));
    await copyRows(rs);
    expect(await partitionCounts(s)).toEqual({
      telemetry_p20400310: 60,
      telemetry_p20400311: 60,
      telemetry_p_default: 1,
    });
    const q = new TelemetryQueryRepository(db);
    const raw = await q.raw({
      siteId: s,
      deviceId: 'gd-1',
      channel: 'conc',
      from: D(3, 10),
      to: D(3, 15),
      limit: 1000,
    });
    expect(raw.map((p) => [p.time.getTime(), p.value])).toEqual(
      [...rs].sort((a, b) => b.ts - a.ts).map((r) => [r.ts, r.value]),
    );
    const buckets = await q.bucketed({
      siteId: s,
      deviceId: 'gd-1',
      from: D(3, 10),
      to: D(3, 15),
      limit: 100,
      bucketSeconds: 3600,
    });
    expect(buckets.map((b) => [b.bucket.getTime(), b.n, b.min, b.max, b.avg, b.last])).toEqual([
      [D(3, 14, 6), 1, 1000, 1000, 1000, 1000],
      [D(3, 11, 0), 60, 60, 119, 89.5, 119],
      [D(3, 10, 23), 60, 0, 59, 29.5, 59],
    ]);
  });

  it('should move the rows that waited in DEFAULT into their day when its partition is created', async () => {
    clock.set(D(3, 12, 0, 10)); // creates 03-14, where the previous step left a row in DEFAULT
    const r = await partitions.runOnce();
    expect(r).toMatchObject({
      created: ['telemetry_p20400314'],
      indexed: ['telemetry_p20400311'],
      failed: [],
    });
    expect(r.movedFromDefault).toBe(1);
    const where = await db.query<{ part: string }>(
      `SELECT tableoid::regclass::text AS part FROM telemetry WHERE time = $1 AND value = 1000`,
      [new Date(D(3, 14, 6))],
    );
    expect(where.rows).toEqual([{ part: 'telemetry_p20400314' }]);
  });

  it("should store today's rows in DEFAULT when today's partition cannot be created, say so once, and recover", async () => {
    // a stray table holding the name makes the creation of 03-20 fail
    await db.query(`CREATE TABLE telemetry_p20400320 (x int)`);
    clock.set(D(3, 20, 10));
    const missing = (): Line[] =>
      log.lines.filter((l) => l.msg.startsWith("no partition for today's telemetry"));
    const r1 = await partitions.runOnce();
    expect(r1.created).toEqual(['telemetry_p20400321', 'telemetry_p20400322']);
    expect(r1.failed).toEqual([
      expect.objectContaining({
        partition: 'telemetry_p20400320',
        step: 'create',
        error: expect.stringMatching(/^42P07 /),
      }),
    ]);
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        fields: expect.objectContaining({ partition: 'telemetry_p20400320', step: 'create' }),
      }),
    );
    const s = uniqueId('st-miss');
    await copyRows([reading(D(3, 20, 10), 5, 'gd-1', 'conc', s)]);
    expect(await partitionCounts(s)).toEqual({ telemetry_p_default: 1 });
    await partitions.runOnce();
    expect(missing()).toHaveLength(1);
    expect(missing()[0]!.fields).toEqual({ day: '2040-03-20', partition: 'telemetry_p_default' });

    await db.query(`DROP TABLE telemetry_p20400320`);
    const r3 = await partitions.runOnce();
    expect(r3).toMatchObject({ created: ['telemetry_p20400320'], failed: [] });
    expect(await partitionCounts(s)).toEqual({ telemetry_p20400320: 1 });
  });

  it('should drop whole expired partitions and delete old rows only in legacy and default', async () => {
    const s = uniqueId('st-ret');
    await copyRows([
      reading(Date.UTC(2001, 0, 1), 1, 'gd-1', 'conc', s), // legacy, expired
      reading(D(3, 15, 6), 2, 'gd-1', 'conc', s), // no partition (DEFAULT), expired at the cutoff below
      reading(D(3, 21, 1), 3, 'gd-1', 'conc', s), // 03-21: older than the cutoff, but its day straddles it
      reading(D(3, 21, 23), 4, 'gd-1', 'conc', s), // 03-21, newer than the cutoff
      reading(D(3, 22, 1), 5, 'gd-1', 'conc', s), // 03-22
      reading(D(3, 22, 1) + 3650 * 24 * H, 6, 'gd-1', 'conc', s), // DEFAULT, far ahead
    ]);
    const before = await partitionCounts(s);
    expect(before).toEqual({
      telemetry_p_legacy: 1,
      telemetry_p_default: 2,
      telemetry_p20400321: 2,
      telemetry_p20400322: 1,
    });

    // retention 2 days at 03-23 12:00: cutoff 03-21 12:00
    clock.set(D(3, 23, 12));
    const short = new TelemetryPartitions({ db, clock, retentionDays: 2, log, lockTimeoutMs: 10_000 });
    const r = await short.runOnce();
    expect(r.failed).toEqual([]);
    expect(r.dropped).toEqual([
      'telemetry_p20400310',
      'telemetry_p20400311',
      'telemetry_p20400312',
      'telemetry_p20400313',
      'telemetry_p20400314',
      'telemetry_p20400320',
    ]);
    expect(await dailyPartitions()).toEqual([
      'telemetry_p20400321',
      'telemetry_p20400322',
      'telemetry_p20400323',
      'telemetry_p20400324',
      'telemetry_p20400325',
    ]);

    const retention = new RetentionService({ db, clock, retentionDays: 2, chunkRows: 1 });
    expect(await retention.runOnce()).toBeGreaterThanOrEqual(2);
    // daily partitions untouched row by row (the straddling 03-21 keeps its 01:00 row until the day is dropped whole)
    const after = await partitionCounts(s);
    expect(after).toEqual({ telemetry_p_default: 1, telemetry_p20400321: 2, telemetry_p20400322: 1 });
    const values = await db.query<{ v: number }>(
      `SELECT value AS v FROM telemetry WHERE site_id = $1 ORDER BY time`,
      [s],
    );
    expect(values.rows.map((x) => x.v)).toEqual([3, 4, 5, 6]);
  });

  it('should keep every row through the migration down (one plain table) and up again', async () => {
    const checksum = async (): Promise<{ n: number; h: string }> =>
      (
        await db.query<{ n: number; h: string }>(
          `SELECT count(*)::int AS n,
                  md5(string_agg(concat_ws('|', time, site_id, device_id, channel, value, text_value, quality), ','
                      ORDER BY time, site_id, device_id, channel, value)) AS h
           FROM telemetry`,
        )
      ).rows[0]!;
    const s = uniqueId('st-mig');
    // Real-clock rows: 50 in the last hour of yesterday (legacy), 50 in the last minute. This scratch database was
    // migrated empty, so its legacy range ends at the start of migration day and rows of today sit in DEFAULT.
    const now = Date.now();
    const realRows = [
      ...Array.from({ length: 50 }, (_, i) => reading(utcDayStart(now) - H + i * 1000, i, 'gd-1', 'conc', s)),
      ...Array.from({ length: 50 }, (_, i) => reading(now - 49_000 + i * 1000, i, 'gd-1', 'conc', s)),
    ];
    await copyRows([
      ...realRows,
      ...Array.from({ length: 100 }, (_, i) => reading(D(3, 23, 6) + i * 1000, i, 'gd-2', 'conc', s)), // 03-23
      reading(D(3, 23) + 3650 * 24 * H, 7, 'gd-3', 'conc', s), // DEFAULT
    ]);
    /** Where the real-clock rows belong for the legacy range's current end; the 2040 rows add `extra`. */
    const expected = async (extra: Record<string, number>): Promise<Record<string, number>> => {
      const end = await legacyEnd();
      const inLegacy = realRows.filter((r) => r.ts < end).length;
      const out: Record<string, number> = { ...extra };
      if (inLegacy > 0) out.telemetry_p_legacy = inLegacy;
      out.telemetry_p_default = (out.telemetry_p_default ?? 0) + realRows.length - inLegacy;
      return out;
    };
    expect(await partitionCounts(s)).toEqual(
      await expected({ telemetry_p20400323: 100, telemetry_p_default: 1 }),
    );
    const before = await checksum();

    // revert down to (and including) this migration, whatever was added after it
    const files = readdirSync(migrationsDir())
      .filter((f) => f.endsWith('.sql'))
      .sort();
    const count = files.length - files.indexOf(`${MIGRATION}.sql`);
    const down = await runMigrations({ databaseUrl: scratch.url, direction: 'down', count });
    expect(down.at(-1)).toBe(MIGRATION);

    const relkind = async (): Promise<string> =>
      (
        await db.query<{ k: string }>(
          `SELECT relkind::text AS k FROM pg_class WHERE oid = 'telemetry'::regclass`,
        )
      ).rows[0]!.k;
    expect(await relkind()).toBe('r');
    expect((await indexesOf('telemetry')).map((i) => [i.name, i.method])).toEqual([
      ['telemetry_series_idx', 'btree'],
      ['telemetry_time_brin', 'brin'],
    ]);
    expect(await checksum()).toEqual(before);
    expect(await partitionCounts(s)).toEqual({ telemetry: 201 });
    const view = await db.query<{ n: number }>(
      `SELECT sum(n)::int AS n FROM telemetry_1m WHERE site_id = $1`,
      [s],
    );
    expect(view.rows[0]!.n).toBe(201);
    // on the plain table the partition service stands aside instead of failing every round
    await expect(partitions.runOnce()).resolves.toMatchObject({ skipped: 'not-partitioned' });

    const upAt = utcDayStart(Date.now());
    await runMigrations({ databaseUrl: scratch.url, direction: 'up' });
    expect(await relkind()).toBe('p');
    expect(await checksum()).toEqual(before);
    // the table now held rows of today: the legacy range runs to the end of migration day, keeping them in place
    expect([upAt + 24 * H, utcDayStart(Date.now()) + 24 * H]).toContain(await legacyEnd());
    // the 2040 rows wait in DEFAULT until their partitions exist again
    expect(await partitionCounts(s)).toEqual(await expected({ telemetry_p_default: 101 }));
    const retention = new RetentionService({ db, clock: systemClock, retentionDays: 90 });
    await retention.runOnce(); // legacy/default rows from 2040 and 2050 are not old by the real clock
    expect(await checksum()).toEqual(before);
  });
});
