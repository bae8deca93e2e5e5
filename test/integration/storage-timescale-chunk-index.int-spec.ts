import { ManualClock } from '../../src/common/clock';
import { JsonLogger } from '../../src/common/logger';
import { Database } from '../../src/storage/database.service';
import { TelemetryPartitions } from '../../src/storage/telemetry-partitions.service';
import { createScratchDatabase } from '../setup/test-db';
import { timescaleSkipReason } from '../setup/timescale';

/**
 * The series btree of closed TimescaleDB chunks (docs/adr/0022-timescale-chunk-series-index.md), on a real server with
 * the extension: TEST_TIMESCALE_URL, else TEST_DATABASE_URL; skipped with a printed reason where it is missing.
 */
const url = process.env.TEST_TIMESCALE_URL ?? process.env.TEST_DATABASE_URL;
const reason = timescaleSkipReason(url);
if (reason) console.warn(`storage-timescale-chunk-index.int-spec: skipped — ${reason}`);
const suite = reason ? describe.skip : describe;

const DAY = 86_400_000;

type ChunkIndexRow = { chunk_name: string; closed: boolean; compressed: boolean; series: boolean | null };
const CHUNKS = `
  SELECT c.chunk_name::text, c.range_end <= $1::timestamptz AS closed, c.is_compressed AS compressed,
         (SELECT bool_and(i.indisvalid) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
           WHERE i.indrelid = format('%I.%I', c.chunk_schema, c.chunk_name)::regclass
             AND ic.relname = c.chunk_name || '_series_idx') AS series
  FROM timescaledb_information.chunks c WHERE c.hypertable_name = 'telemetry' ORDER BY c.range_start`;

suite('series btree of closed TimescaleDB chunks', () => {
  it('should index closed chunks once, never the open one, skip compressed ones and rebuild an invalid one', async () => {
    JsonLogger.setLevel('error');
    const scratch = await createScratchDatabase(url!, 'storage_tsdb_chunkidx');
    const db = await Database.open({ url: scratch.url, probeIntervalMs: 0 });
    try {
      expect(db.timescale).toBe(true);
      const now = Date.now();
      const today = Math.floor(now / DAY) * DAY;
      // three closed days and today (24 h chunks): 20 series × 60 readings each
      for (const day of [today - 3 * DAY, today - 2 * DAY, today - DAY, today])
        await db.query(
          `INSERT INTO telemetry (time, site_id, device_id, channel, value, quality, seq)
           SELECT $1::timestamptz + m * INTERVAL '1 minute', 's', 'd' || dev, 'conc', m, 0, m
           FROM generate_series(0, 59) m, generate_series(1, 20) dev`,
          [new Date(day)],
        );
      const chunks = async (): Promise<ChunkIndexRow[]> =>
        (await db.query<ChunkIndexRow>(CHUNKS, [new Date(now)])).rows;
      const before = await chunks();
      expect(before.map((c) => [c.closed, c.series])).toEqual([
        [true, null],
        [true, null],
        [true, null],
        [false, null],
      ]);
      // the oldest closed chunk is compressed: compression has the series order, no index for it
      await db.query(
        `SELECT compress_chunk(format('%I.%I', chunk_schema, chunk_name))
                      FROM timescaledb_information.chunks WHERE hypertable_name = 'telemetry' AND chunk_name = $1`,
        [before[0]!.chunk_name],
      );

      const svc = new TelemetryPartitions({ db, clock: new ManualClock(now), retentionDays: 90 });
      const first = await svc.runOnce();
      expect(first.failed).toEqual([]);
      // newest closed chunk first
      expect(first.indexed).toEqual([
        `_timescaledb_internal.${before[2]!.chunk_name}`,
        `_timescaledb_internal.${before[1]!.chunk_name}`,
      ]);
      expect((await chunks()).map((c) => [c.compressed, c.series])).toEqual([
        [true, null],
        [false, true],
        [false, true],
        [false, null],
      ]);
      expect((await svc.runOnce()).indexed).toEqual([]);

      // a per-series read of a closed day goes through the chunk's series index
      const plan = await db.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN (COSTS OFF) SELECT time, value FROM telemetry
         WHERE site_id = 's' AND device_id = 'd7' AND channel = 'conc' AND time >= $1 AND time < $2 ORDER BY time DESC`,
        [new Date(today - DAY), new Date(today - DAY + 3_600_000)],
      );
      expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toContain(
        `${before[2]!.chunk_name}_series_idx`,
      );

      // an interrupted build (invalid index) is dropped and built again
      await db.query(
        `UPDATE pg_index SET indisvalid = false WHERE indexrelid = format('_timescaledb_internal.%I', $1::text)::regclass`,
        [`${before[1]!.chunk_name}_series_idx`],
      );
      expect((await chunks())[1]!.series).toBe(false);
      const third = await svc.runOnce();
      expect(third.indexed).toEqual([`_timescaledb_internal.${before[1]!.chunk_name}`]);
      expect((await chunks())[1]!.series).toBe(true);

      // a day later the chunk that was open is closed: indexed next round
      const later = new TelemetryPartitions({ db, clock: new ManualClock(today + DAY), retentionDays: 90 });
      expect((await later.runOnce()).indexed).toEqual([`_timescaledb_internal.${before[3]!.chunk_name}`]);
    } finally {
      await db.close();
      await scratch.drop();
    }
  });
});
