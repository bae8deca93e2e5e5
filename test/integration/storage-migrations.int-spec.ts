import { Client } from 'pg';
import { JsonLogger } from '../../src/common/logger';
import { HazwatchMetrics } from '../../src/metrics/metrics.registry';
import { Database, DatabaseUnavailableError } from '../../src/storage/database.service';
import { migrationsDir, runMigrations } from '../../src/storage/migration.runner';
import { pollUntil } from '../setup/poll-until';
import { TcpProxy } from '../setup/tcp-proxy';
import {
  TEST_DATABASE_URL,
  assertTestDatabase,
  createScratchDatabase,
  describeWithDb,
} from '../setup/test-db';
import { readdirSync } from 'node:fs';

const suite = describeWithDb('storage-migrations.int-spec');

async function relations(url: string): Promise<string[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ name: string }>(
      `SELECT c.relname || ':' || c.relkind::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relname IN ('telemetry', 'telemetry_1m', 'ingest_reject', 'device_state',
         'telemetry_series_idx', 'telemetry_time_brin', 'telemetry_p_legacy', 'telemetry_p_default',
         'telemetry_p_legacy_series_idx')
       ORDER BY 1`,
    );
    return r.rows.map((x) => x.name);
  } finally {
    await c.end();
  }
}

suite('storage migrations and start-up (scratch databases)', () => {
  const url = TEST_DATABASE_URL!;
  beforeAll(() => JsonLogger.setLevel('error'));

  it('should refuse a database whose name lacks "test"', () => {
    expect(() => assertTestDatabase('postgres://postgres@127.0.0.1:5432/hazwatch')).toThrow(
      /must contain "test"/,
    );
  });

  it('should apply every migration up, remove everything down, and apply them up again', async () => {
    const scratch = await createScratchDatabase(url, 'storage_mig');
    try {
      const files = readdirSync(migrationsDir()).filter((f) => f.endsWith('.sql'));
      const up1 = await runMigrations({ databaseUrl: scratch.url, direction: 'up' });
      expect(up1).toHaveLength(files.length);
      expect(up1).toEqual(
        expect.arrayContaining([
          '1764000000000_telemetry',
          '1764000000001_telemetry-1m',
          '1764000000002_ingest-reject',
          '1764000000003_device-state',
        ]),
      );
      expect(await relations(scratch.url)).toEqual([
        'device_state:r',
        'ingest_reject:r',
        'telemetry:p',
        'telemetry_1m:v',
        'telemetry_p_default:r',
        'telemetry_p_legacy:r',
        'telemetry_p_legacy_series_idx:i',
        'telemetry_time_brin:I',
      ]);
      expect(await runMigrations({ databaseUrl: scratch.url, direction: 'up' })).toEqual([]);

      const down = await runMigrations({
        databaseUrl: scratch.url,
        direction: 'down',
        count: Number.POSITIVE_INFINITY,
      });
      expect(down).toEqual([...up1].reverse());
      expect(await relations(scratch.url)).toEqual([]);

      const up2 = await runMigrations({ databaseUrl: scratch.url, direction: 'up' });
      expect(up2).toEqual(up1);
      expect(await relations(scratch.url)).toHaveLength(8);
    } finally {
      await scratch.drop();
    }
  });

  it('should let concurrent starters migrate one after the other instead of failing on the lock', async () => {
    const scratch = await createScratchDatabase(url, 'storage_lock');
    try {
      const results = await Promise.all(
        [1, 2, 3].map(() => runMigrations({ databaseUrl: scratch.url, direction: 'up' })),
      );
      const applied = results.flat();
      expect(new Set(applied).size).toBe(applied.length); // nothing applied twice
      expect(results.filter((r) => r.length > 0)).toHaveLength(1);
    } finally {
      await scratch.drop();
    }
  });

  it('should start without a reachable database, report it down, and migrate once it answers', async () => {
    const scratch = await createScratchDatabase(url, 'storage_start');
    const target = new URL(url);
    const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    const port = await proxy.start();
    await proxy.cut();
    const viaProxy = new URL(scratch.url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(port);
    const metrics = new HazwatchMetrics(false);
    const db = await Database.open({
      url: viaProxy.toString(),
      metrics,
      retryInitialMs: 50,
      retryMaxMs: 200,
    });
    try {
      expect(db.ready).toBe(false);
      await expect(db.isUp()).resolves.toBe(false);
      expect((await metrics.dbUp.get()).values[0]?.value).toBe(0);
      await expect(db.acquire()).rejects.toBeInstanceOf(DatabaseUnavailableError);
      const pendingQuery = db.query<{ n: number }>('SELECT count(*)::int AS n FROM telemetry'); // waits for migrations

      await proxy.restore();
      await pollUntil(() => db.ready, { what: 'database ready after restore', timeoutMs: 20_000 });
      await expect(pendingQuery).resolves.toMatchObject({ rows: [{ n: 0 }] });
      await expect(db.isUp()).resolves.toBe(true);
      expect((await metrics.dbUp.get()).values[0]?.value).toBe(1);
    } finally {
      await db.close();
      await proxy.close();
      await scratch.drop();
    }
  });

  it('should stop start-up with a clear error when the server answers but the database does not exist', async () => {
    const missing = new URL(url);
    missing.pathname = `/no_such_test_db_${Date.now().toString(36)}`;
    await expect(Database.open({ url: missing.toString() })).rejects.toThrow(
      /database start-up failed .*does not exist/,
    );
  });

  it('should roll back a transaction when its callback throws and commit it otherwise', async () => {
    const scratch = await createScratchDatabase(url, 'storage_tx');
    const db = await Database.open({ url: scratch.url });
    try {
      await db.query('CREATE TABLE tx_probe (v int)');
      await expect(
        db.withTransaction(async (tx) => {
          await tx.query('INSERT INTO tx_probe VALUES (1)');
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      const n = await db.withTransaction(async (tx) => {
        await tx.query('INSERT INTO tx_probe VALUES (2)');
        return (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM tx_probe')).rows[0]!.n;
      });
      expect(n).toBe(1);
      expect((await db.query<{ v: number }>('SELECT v FROM tx_probe')).rows).toEqual([{ v: 2 }]);
    } finally {
      await db.close();
      await scratch.drop();
    }
  });
});
