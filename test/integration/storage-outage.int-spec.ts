import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { systemClock } from '../../src/common/clock';
import { JsonLogger } from '../../src/common/logger';
import type { Reading } from '../../src/common/types';
import { HazwatchMetrics } from '../../src/metrics/metrics.registry';
import { Database } from '../../src/storage/database.service';
import { TelemetryWriter } from '../../src/storage/telemetry-writer.service';
import { WorkerTelemetrySink } from '../../src/storage/copy-worker.sink';
import { PgTelemetrySink, type TelemetrySink } from '../../src/storage/telemetry.sink';
import { TelemetrySpool } from '../../src/storage/telemetry.spool';
import { reportFault } from '../setup/fault-report';
import { pollUntil } from '../setup/poll-until';
import { TcpProxy } from '../setup/tcp-proxy';
import { TEST_DATABASE_URL, describeWithDb, prepareTestDatabase, uniqueId } from '../setup/test-db';

const suite = describeWithDb('storage-outage.int-spec');
/** Minimum outage length; set STORAGE_OUTAGE_MS=30000 for the 30 s scenario (default keeps npm test fast). */
const OUTAGE_MS = Number(process.env.STORAGE_OUTAGE_MS ?? 0);

const counterValue = async (c: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> =>
  (await c.get()).values[0]?.value ?? 0;

/** The compiled COPY worker (`npm test` and `.ci/run` build first). */
const WORKER_FILE = join(__dirname, '../../dist/src/storage/copy.worker.js');

const sinks: Array<[string, (db: Database) => TelemetrySink]> = [
  ['COPY on the main thread', (db) => new PgTelemetrySink(db, 5_000)],
  [
    'COPY in the worker thread',
    (db) => new WorkerTelemetrySink(db, new JsonLogger('test'), { timeoutMs: 5_000, file: WORKER_FILE }),
  ],
];

suite.each(sinks)('telemetry writer across a database outage (TCP proxy cut), %s', (sinkName, makeSink) => {
  const url = TEST_DATABASE_URL!;
  let proxy: TcpProxy;
  let db: Database;
  let pool: Pool;
  let dir: string;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    await prepareTestDatabase(url);
    pool = new Pool({ connectionString: url, max: 2 });
  });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hazwatch-outage-it-'));
    const target = new URL(url);
    proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    const port = await proxy.start();
    const viaProxy = new URL(url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(port);
    db = await Database.open({ url: viaProxy.toString(), migrate: false });
  });

  afterEach(async () => {
    await db.close();
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  });

  afterAll(async () => {
    await pool?.end();
  });

  it('should lose no valid reading and store each exactly once when the database is cut off while readings keep arriving', async () => {
    const site = uniqueId('st-outage');
    const metrics = new HazwatchMetrics(false);
    const writer = new TelemetryWriter({
      sink: makeSink(db),
      spool: new TelemetrySpool(join(dir, 'spool'), 1_000_000_000, 64 * 1024),
      clock: systemClock,
      metrics,
      batchSize: 500,
      flushMs: 20,
      queueMax: 2_000,
      retryInitialMs: 50,
      retryMaxMs: 500,
    });
    writer.start();

    let sent = 0;
    const produce = (n: number): void => {
      const now = Date.now();
      const rs: Reading[] = [];
      for (let i = 0; i < n; i++, sent++) {
        // two channels per message, like a gas detector (conc + fault)
        rs.push({
          siteId: site,
          deviceId: `gd-${sent % 7}`,
          channel: 'conc',
          ts: now,
          value: sent,
          quality: 'good',
          receivedAt: now,
          // distinct readings of one device in the same millisecond differ by seq (the unique reading key,
          // docs/adr/0014-idempotent-telemetry.md); without it they would be one reading
          seq: sent,
        });
      }
      writer.enqueue(rs);
    };
    const count = async (): Promise<{ n: number; distinct: number; min: number; max: number }> => {
      const r = await pool.query<{ n: number; distinct: number; min: number; max: number }>(
        'SELECT count(*)::int AS n, count(DISTINCT value)::int AS distinct, min(value) AS min, max(value) AS max FROM telemetry WHERE site_id = $1',
        [site],
      );
      return r.rows[0]!;
    };

    // Before the outage: readings flow to the table.
    produce(3_000);
    await pollUntil(async () => (await count()).n === 3_000, { what: 'pre-outage readings committed' });

    // Outage: sockets closed, new connections refused. Readings keep arriving.
    await proxy.cut();
    const cutAt = Date.now();
    const producer = setInterval(() => produce(250), 10);
    try {
      await pollUntil(
        async () =>
          writer.isDatabaseFailing() &&
          writer.spoolBytes() > 0 &&
          (await counterValue(metrics.writeErrors)) >= 3 &&
          sent >= 10_000 &&
          // the liveness probe (every 2 s) has seen the cut: the outage lasts at least until then
          !(await db.isUp()) &&
          Date.now() - cutAt >= OUTAGE_MS,
        { what: 'readings spooled during the outage', timeoutMs: OUTAGE_MS + 30_000 },
      );
    } finally {
      clearInterval(producer);
    }
    produce(777); // a last partial batch while still down
    const sentDuringOutage = sent - 3_000;
    expect(readdirSync(join(dir, 'spool')).length).toBeGreaterThan(0);
    expect((await count()).n).toBe(3_000); // nothing got through the cut
    expect(writer.queueDepth()).toBeLessThanOrEqual(2_000 + 777);
    await expect(db.isUp()).resolves.toBe(false);

    // Restore: everything spooled and queued reaches the table, exactly once.
    const outageMs = Date.now() - cutAt;
    await proxy.restore();
    const restoredAt = Date.now();
    await pollUntil(
      async () => (await count()).n >= sent && writer.spoolBytes() === 0 && writer.queueDepth() === 0,
      {
        what: `all ${sent} readings committed after restore`,
        timeoutMs: 60_000,
      },
    );
    const final = await count();
    const lost = reportFault(
      `database-refuse (TCP cut while readings arrive; spool, then replay; ${sinkName})`,
      {
        sent,
        stored: final.distinct,
        duplicated: final.n - final.distinct,
      },
    );
    expect(lost).toBe(0);
    expect(final).toEqual({ n: sent, distinct: sent, min: 0, max: sent - 1 });
    expect(writer.lagMs(Date.now())).toBe(0);
    expect(writer.isDatabaseFailing()).toBe(false);
    expect(await counterValue(metrics.rowsWritten)).toBe(sent);
    expect(readdirSync(join(dir, 'spool'))).toEqual([]);
    await expect(db.isUp()).resolves.toBe(true);
    await writer.close();
    console.info(
      `storage-outage: ${sentDuringOutage + 777} readings arrived during a ${outageMs} ms outage; ` +
        `all ${sent} stored exactly once, ${Date.now() - restoredAt} ms after restore`,
    );
  });
});
