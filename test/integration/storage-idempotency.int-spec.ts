import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { systemClock } from '../../src/common/clock';
import { JsonLogger } from '../../src/common/logger';
import type { Reading } from '../../src/common/types';
import { HazwatchMetrics } from '../../src/metrics/metrics.registry';
import { CopyRowEncoder } from '../../src/storage/copy-row.encoder';
import { Database } from '../../src/storage/database.service';
import { migrationsDir, runMigrations } from '../../src/storage/migration.runner';
import { telemetryOutcomeListener } from '../../src/storage/storage.module';
import { TelemetryWriter } from '../../src/storage/telemetry-writer.service';
import { PgTelemetrySink, type CopyOutcome } from '../../src/storage/telemetry.sink';
import { TelemetrySpool } from '../../src/storage/telemetry.spool';
import {
  TEST_DATABASE_URL,
  createScratchDatabase,
  describeWithDb,
  prepareTestDatabase,
  uniqueId,
} from '../setup/test-db';

/**
 * At-least-once delivery yields exactly-once rows (docs/adr/0014-idempotent-telemetry.md): the same readings written
 * again — a spool replay of a batch whose commit the writer never heard, a message the broker redelivered — are stored
 * once; a reading with the same key and another value is refused (first wins) and kept in telemetry_conflict.
 */
const suite = describeWithDb('storage-idempotency.int-spec');
const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);

function readings(site: string, n: number, over: Partial<Reading> = {}): Reading[] {
  const out: Reading[] = [];
  for (let i = 0; i < n; i++) {
    const base = {
      siteId: site,
      deviceId: `d${i % 10}`,
      ts: T0 + i,
      quality: 'good' as const,
      receivedAt: T0 + i,
      seq: i,
    };
    out.push({ ...base, channel: 'conc', value: i / 10, ...over });
    out.push({ ...base, channel: 'fault', value: false, ...over });
  }
  return out;
}

function copyText(rs: readonly Reading[]): string {
  const enc = new CopyRowEncoder();
  return rs.map((r) => enc.encode(r) as string).join('');
}

suite('idempotent telemetry writes (real PostgreSQL)', () => {
  const url = TEST_DATABASE_URL!;
  let db: Database;
  let pool: Pool;
  let dir: string;
  let metrics: HazwatchMetrics;
  const outcomes: CopyOutcome[] = [];

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
    dir = mkdtempSync(join(tmpdir(), 'hazwatch-idem-it-'));
    outcomes.length = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const sink = (): PgTelemetrySink =>
    new PgTelemetrySink(db, 30_000, (o) => {
      outcomes.push(o);
      telemetryOutcomeListener(metrics)(o);
    });

  async function stored(site: string): Promise<{ rows: number; keys: number }> {
    const r = await pool.query<{ rows: number; keys: number }>(
      `SELECT count(*)::int AS rows,
              count(DISTINCT (time, device_id, channel, seq))::int AS keys
       FROM telemetry WHERE site_id = $1`,
      [site],
    );
    return r.rows[0]!;
  }

  function writer(spoolDir = join(dir, 'spool')): TelemetryWriter {
    return new TelemetryWriter({
      sink: sink(),
      spool: new TelemetrySpool(spoolDir, 100_000_000),
      clock: systemClock,
      metrics,
      batchSize: 1000,
      flushMs: 20,
      queueMax: 100_000,
      retryInitialMs: 20,
      retryMaxMs: 100,
    });
  }

  it('should store one row per reading when the same batch is written live and again by a spool replay', async () => {
    const site = uniqueId('idem-replay');
    const rs = readings(site, 500);
    const live = writer();
    live.start();
    live.enqueue(rs);
    await live.flush();
    await live.close();
    expect(await stored(site)).toEqual({ rows: 1000, keys: 1000 });

    // The same batch again from the spool, as after a COPY that committed but whose answer was lost (database hang).
    const spoolDir = join(dir, 'spool-2');
    const spool = new TelemetrySpool(spoolDir, 100_000_000);
    spool.append(copyText(rs), T0);
    spool.close();
    const before =
      (await metrics.registry.getSingleMetric('hazwatch_storage_duplicate_rows_total')?.get())?.values[0]
        ?.value ?? 0;
    const replay = writer(spoolDir);
    replay.start();
    await pollSpoolEmpty(replay);
    await replay.close();

    expect(await stored(site)).toEqual({ rows: 1000, keys: 1000 });
    expect(outcomes).toEqual([{ rows: 1000, inserted: 0, duplicates: 1000, conflicts: 0 }]);
    const after =
      (await metrics.registry.getSingleMetric('hazwatch_storage_duplicate_rows_total')?.get())?.values[0]
        ?.value ?? 0;
    expect(after - before).toBe(1000);
  });

  it('should store a redelivered message once, whether it lands in the same batch or a later one', async () => {
    const site = uniqueId('idem-redeliver');
    const first = readings(site, 100);
    const again = first.slice(10, 14); // two messages (two readings each) redelivered by the broker
    const w = writer();
    w.start();
    w.enqueue(first);
    w.enqueue(again); // same open batch
    await w.flush();
    w.enqueue(again); // a later batch
    w.enqueue(readings(site, 1, { ts: T0 + 10_000, seq: 10_000 })); // plus one new reading in that batch
    await w.flush();
    await w.close();

    expect(await stored(site)).toEqual({ rows: 202, keys: 202 });
    expect(outcomes.map((o) => [o.inserted, o.duplicates, o.conflicts])).toEqual([
      [200, 4, 0],
      [2, 4, 0],
    ]);
  });

  it('should keep the first value at a key and record a different later value in telemetry_conflict (once)', async () => {
    const site = uniqueId('idem-conflict');
    const s = sink();
    const r: Reading = {
      siteId: site,
      deviceId: 'd1',
      channel: 'conc',
      ts: T0,
      value: 1.5,
      quality: 'good',
      receivedAt: T0,
      seq: 7,
    };
    await s.copy(copyText([r]), 1);
    await s.copy(copyText([{ ...r, value: 9.5 }]), 1);
    await s.copy(copyText([{ ...r, value: 9.5 }]), 1); // the conflicting message redelivered
    await s.copy(copyText([{ ...r, quality: 'bad' }]), 1);

    const rows = await pool.query<{ value: number; quality: number }>(
      'SELECT value, quality FROM telemetry WHERE site_id = $1',
      [site],
    );
    expect(rows.rows).toEqual([{ value: 1.5, quality: 0 }]);
    const conflicts = await pool.query<{ value: number; quality: number; seq: string }>(
      'SELECT value, quality, seq FROM telemetry_conflict WHERE site_id = $1 ORDER BY value, quality',
      [site],
    );
    expect(conflicts.rows).toEqual([
      { value: 1.5, quality: 2, seq: '7' },
      { value: 9.5, quality: 0, seq: '7' },
    ]);
    expect(outcomes.map((o) => o.conflicts)).toEqual([1, 1, 1]);
  });

  it('should keep readings that differ only in seq (a device whose clock repeats a timestamp), and readings without seq', async () => {
    const site = uniqueId('idem-seq');
    const s = sink();
    const r: Reading = {
      siteId: site,
      deviceId: 'd1',
      channel: 'conc',
      ts: T0,
      value: 1,
      quality: 'good',
      receivedAt: T0,
    };
    await s.copy(copyText([{ ...r, seq: 1 }, { ...r, seq: 2 }, r]), 3);
    await s.copy(copyText([{ ...r, seq: 2 }, r]), 2); // both again
    const rows = await pool.query<{ seq: string | null }>(
      'SELECT seq FROM telemetry WHERE site_id = $1 ORDER BY seq NULLS FIRST',
      [site],
    );
    expect(rows.rows).toEqual([{ seq: null }, { seq: '1' }, { seq: '2' }]);
  });

  it('should replay a spool segment written before seq existed (seven columns) and still de-duplicate it', async () => {
    const site = uniqueId('idem-v1');
    const rs = readings(site, 5, { seq: undefined });
    const v1 = copyText(rs).replace(/\t\\N\n/g, '\n'); // the old encoder's lines: no seq field
    expect(v1.split('\n')[0]!.split('\t')).toHaveLength(7);
    const s = sink();
    await s.copy(v1, 10);
    await s.copy(v1, 10);
    await s.copy(copyText(rs), 10); // the same readings from the current encoder
    expect(await stored(site)).toEqual({ rows: 10, keys: 10 });
  });

  async function pollSpoolEmpty(w: TelemetryWriter): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (w.spoolBytes() > 0) {
      if (Date.now() > deadline) throw new Error('spool not replayed within 20 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  }
});

suite('migration 1764001400000_telemetry-idempotency on a table that already holds duplicates', () => {
  const url = TEST_DATABASE_URL!;
  let scratch: { url: string; drop(): Promise<void> };
  let oldDir: string;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    scratch = await createScratchDatabase(url, 'idem_migration');
    // The migrations before this one, in a directory of their own.
    oldDir = mkdtempSync(join(tmpdir(), 'hazwatch-idem-mig-'));
    for (const f of readdirSync(migrationsDir()))
      if (f < '1764001400000') copyFileSync(join(migrationsDir(), f), join(oldDir, f));
  });
  afterAll(async () => {
    await scratch?.drop();
    rmSync(oldDir, { recursive: true, force: true });
  });

  it('should keep one row per key, move differing copies to telemetry_conflict, then refuse new duplicates', async () => {
    await runMigrations({ databaseUrl: scratch.url, direction: 'up', dir: oldDir });
    const c = new Pool({ connectionString: scratch.url, max: 1 });
    try {
      const now = new Date();
      const yesterday = new Date(Date.now() - 86_400_000);
      // Duplicates as the old writer left them: in today's partition and in the legacy/default range.
      for (const t of [now, yesterday]) {
        await c.query(
          `INSERT INTO telemetry (time, site_id, device_id, channel, value, text_value, quality)
           VALUES ($1, 's', 'd', 'conc', 1, NULL, 0), ($1, 's', 'd', 'conc', 1, NULL, 0), ($1, 's', 'd', 'conc', 2, NULL, 0),
                  ($1, 's', 'd', 'mode', NULL, 'auto', 0), ($1, 's', 'd', 'mode', NULL, 'auto', 0)`,
          [t],
        );
      }
      await runMigrations({ databaseUrl: scratch.url, direction: 'up' });
      const rows = await c.query<{ channel: string; value: number | null; n: number }>(
        'SELECT channel, value, count(*)::int AS n FROM telemetry GROUP BY 1, 2 ORDER BY 1, 2',
      );
      expect(rows.rows).toEqual([
        { channel: 'conc', value: 1, n: 2 },
        { channel: 'mode', value: null, n: 2 },
      ]);
      const conflicts = await c.query<{ value: number; n: number }>(
        'SELECT value, count(*)::int AS n FROM telemetry_conflict GROUP BY 1',
      );
      expect(conflicts.rows).toEqual([{ value: 2, n: 2 }]);
      await expect(
        c.query(
          `INSERT INTO telemetry (time, site_id, device_id, channel, value, quality) VALUES ($1, 's', 'd', 'conc', 1, 0)`,
          [now],
        ),
      ).rejects.toMatchObject({ code: '23505' });
      // Down and up again keep the rows (when this migration is the newest: down 1 must undo this one).
      const newest = readdirSync(migrationsDir())
        .filter((f) => f.endsWith('.sql'))
        .sort()
        .pop();
      if (newest !== '1764001400000_telemetry-idempotency.sql') return;
      await runMigrations({ databaseUrl: scratch.url, direction: 'down', count: 1 });
      await runMigrations({ databaseUrl: scratch.url, direction: 'up' });
      const again = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM telemetry');
      expect(again.rows[0]!.n).toBe(4);
    } finally {
      await c.end();
    }
  });
});
