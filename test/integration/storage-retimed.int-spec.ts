import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { systemClock } from '../../src/common/clock';
import { JsonLogger } from '../../src/common/logger';
import type { Reading } from '../../src/common/types';
import type { ChannelSpec } from '../../src/config/device-channels';
import { decodeTelemetry } from '../../src/ingest/domain/decode';
import { DeviceTracker } from '../../src/ingest/domain/device-tracker';
import { HazwatchMetrics } from '../../src/metrics/metrics.registry';
import { BinaryRowEncoder, CopyBinaryBuffer } from '../../src/storage/copy-binary';
import { Database } from '../../src/storage/database.service';
import { RetentionService } from '../../src/storage/retention.service';
import { TelemetryWriter } from '../../src/storage/telemetry-writer.service';
import { PgTelemetrySink, type CopyOutcome } from '../../src/storage/telemetry.sink';
import { TelemetrySpool } from '../../src/storage/telemetry.spool';
import { reportFault } from '../setup/fault-report';
import { pollUntil } from '../setup/poll-until';
import { TEST_DATABASE_URL, describeWithDb, prepareTestDatabase, uniqueId } from '../setup/test-db';

/**
 * Re-timed readings stored once (docs/adr/0027-retimed-readings-key.md). A device whose clock runs ahead has its
 * readings timed at arrival (docs/ingest-time-and-sequence.md); a redelivery of the same message (broker after a
 * server kill between commit and PUBACK, spool replay after a commit whose answer was lost) arrives later and gets
 * another time. Ingest's real decoder and clock tracker make the readings here, the real writer, spool and sink store
 * them, and SQL counts the rows.
 */
const suite = describeWithDb('storage-retimed.int-spec');
const T0 = Date.UTC(2026, 11, 3, 10, 0, 0);
const AHEAD_MS = 60_000; // the device clock runs a minute fast: beyond INGEST_FUTURE_TOLERANCE_S, within the max skew
const CHANNELS: ReadonlyMap<string, ChannelSpec> = new Map<string, ChannelSpec>([
  ['conc', { type: 'number', span: [0, 100], physical: [0, 100] }],
  ['temp', { type: 'number', span: [0, 100], physical: [0, 100] }],
]);

/** Decodes `n` messages of device `dev` (seq from `seq0`, or none) as ingest does, arriving from `arrival0` on. */
function deliver(
  tracker: DeviceTracker,
  site: string,
  dev: string,
  n: number,
  arrival0: number,
  seq0: number | undefined,
): Reading[] {
  const out: Reading[] = [];
  for (let i = 0; i < n; i++) {
    const body = {
      ts: T0 + AHEAD_MS + i * 1000,
      ...(seq0 === undefined ? {} : { seq: seq0 + i }),
      values: { conc: i / 10, temp: 50 + i / 10 }, // unique per message: SQL tells readings apart by value
    };
    const r = decodeTelemetry(JSON.stringify(body), {
      siteId: site,
      deviceId: dev,
      channels: CHANNELS,
      receivedAt: arrival0 + i * 1000,
      maxSkewMs: 300_000,
      tracker,
    });
    out.push(...r.readings);
  }
  return out;
}

function binary(rs: readonly Reading[]): Buffer {
  const enc = new BinaryRowEncoder();
  const buf = new CopyBinaryBuffer();
  for (const r of rs) expect(enc.encode(r, buf)).toBeUndefined();
  return buf.take();
}

suite('re-timed readings stored once (real PostgreSQL)', () => {
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
    dir = mkdtempSync(join(tmpdir(), 'hazwatch-retimed-it-'));
    outcomes.length = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const sink = (): PgTelemetrySink => new PgTelemetrySink(db, 30_000, (o) => outcomes.push(o));

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

  async function stored(site: string): Promise<{ rows: number; readings: number; keys: number }> {
    const r = await pool.query<{ rows: number; readings: number; keys: number }>(
      `SELECT (SELECT count(*)::int FROM telemetry WHERE site_id = $1) AS rows,
              (SELECT count(DISTINCT (device_id, channel, value))::int FROM telemetry WHERE site_id = $1) AS readings,
              (SELECT count(*)::int FROM telemetry_retimed WHERE site_id = $1) AS keys`,
      [site],
    );
    return r.rows[0]!;
  }

  it('should give re-timed readings their device time as sourceTs, and a redelivery another ts but the same sourceTs', () => {
    const first = deliver(new DeviceTracker('s', 'd'), 's', 'd', 2, T0, 7);
    const again = deliver(new DeviceTracker('s', 'd'), 's', 'd', 2, T0 + 5_000, 7);
    expect(first.map((r) => [r.ts, r.sourceTs])).toEqual([
      [T0, T0 + AHEAD_MS],
      [T0, T0 + AHEAD_MS],
      [T0 + 1000, T0 + AHEAD_MS + 1000],
      [T0 + 1000, T0 + AHEAD_MS + 1000],
    ]);
    expect(again.map((r) => r.sourceTs)).toEqual(first.map((r) => r.sourceTs));
    expect(again.map((r) => r.ts)).not.toEqual(first.map((r) => r.ts));
  });

  it('should store re-timed readings once when the broker redelivers them after a kill between commit and PUBACK, and again when a spool segment replays them', async () => {
    const site = uniqueId('retimed-redeliver');
    // 200 messages with seq and 50 without, plus 100 readings of a device whose clock is right (plain COPY).
    const live = [
      ...deliver(new DeviceTracker(site, 'gd-1'), site, 'gd-1', 200, T0, 1000),
      ...deliver(new DeviceTracker(site, 'gd-2'), site, 'gd-2', 50, T0, undefined),
    ];
    const plain: Reading[] = [];
    for (let i = 0; i < 50; i++)
      for (const [channel, value] of [
        ['conc', i / 10],
        ['temp', 50 + i / 10],
      ] as const)
        plain.push({
          siteId: site,
          deviceId: 'gd-ok',
          channel,
          ts: T0 + i,
          value,
          quality: 'good',
          receivedAt: T0 + i,
          seq: i,
        });
    const w1 = writer();
    w1.start();
    w1.enqueue([...live, ...plain]);
    await w1.flush();
    await w1.close();
    expect(await stored(site)).toEqual({ rows: 600, readings: 600, keys: 500 });

    // The server was killed after the commit, before its PUBACKs: the broker redelivers on the resumed session. The
    // new server's tracker meets the clock again and times each message at its new arrival, 30 s later.
    const redelivered = [
      ...deliver(new DeviceTracker(site, 'gd-1'), site, 'gd-1', 200, T0 + 30_000, 1000),
      ...deliver(new DeviceTracker(site, 'gd-2'), site, 'gd-2', 50, T0 + 30_000, undefined),
    ];
    expect(redelivered[0]!.ts).not.toBe(live[0]!.ts);
    const w2 = writer(join(dir, 'spool-2'));
    w2.start();
    // Half of it in one batch with readings already stored by plain COPY (the 23505 path), half on its own.
    w2.enqueue([...redelivered.slice(0, 250), ...plain]);
    await w2.flush();
    w2.enqueue(redelivered.slice(250));
    await w2.flush();
    await w2.close();
    expect(await stored(site)).toEqual({ rows: 600, readings: 600, keys: 500 });

    // A spool segment holding the first delivery (a COPY whose commit was never heard) replays on the next start.
    const spoolDir = join(dir, 'spool-3');
    const spool = new TelemetrySpool(spoolDir, 100_000_000);
    spool.append(binary([...live, ...plain]), T0);
    spool.close();
    const w3 = writer(spoolDir);
    w3.start();
    await pollUntil(() => w3.spoolBytes() === 0, { timeoutMs: 20_000, what: 'spool replayed' });
    await w3.close();

    const s = await stored(site);
    const dup = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT device_id, channel, value FROM telemetry WHERE site_id = $1
        GROUP BY 1, 2, 3 HAVING count(*) > 1) d`,
      [site],
    );
    const lost = reportFault(
      'retimed-redelivery (device clock 60 s ahead; broker redelivery + spool replay)',
      { sent: 600, stored: s.readings, duplicated: s.rows - s.readings },
      `${3 * 600} rows written for 600 readings`,
    );
    expect(lost).toBe(0);
    expect(dup.rows[0]!.n).toBe(0);
    expect(s).toEqual({ rows: 600, readings: 600, keys: 500 });
    // Every re-timed copy after the first was refused as a duplicate, none recorded as a conflict.
    expect(outcomes.reduce((n, o) => n + o.duplicates, 0)).toBe(500 + 100 + 600);
    expect(outcomes.reduce((n, o) => n + o.conflicts, 0)).toBe(0);
    // The rows carry the time of the first delivery (arrival), the key the device's own time.
    const t = await pool.query<{ time: Date; source_time: Date }>(
      `SELECT r.time, r.source_time FROM telemetry_retimed r WHERE r.site_id = $1 AND r.device_id = 'gd-1'
        AND r.seq_key = 1000 AND r.channel = 'conc'`,
      [site],
    );
    expect(t.rows.map((x) => [x.time.getTime(), x.source_time.getTime()])).toEqual([[T0, T0 + AHEAD_MS]]);
  });

  it('should keep one row when the same re-timed message arrives twice within one chunk', async () => {
    const site = uniqueId('retimed-chunk');
    const a = deliver(new DeviceTracker(site, 'gd-1'), site, 'gd-1', 3, T0, 5);
    const b = deliver(new DeviceTracker(site, 'gd-1'), site, 'gd-1', 3, T0 + 2_000, 5);
    await sink().copy(binary([...a, ...b]), a.length + b.length);
    expect(await stored(site)).toEqual({ rows: 6, readings: 6, keys: 6 });
    const times = await pool.query<{ t: Date }>(
      `SELECT DISTINCT time AS t FROM telemetry WHERE site_id = $1 ORDER BY 1`,
      [site],
    );
    expect(times.rows.map((x) => x.t.getTime())).toEqual([T0, T0 + 1000, T0 + 2000]);
  });

  it('should prune re-timed keys a day after the retention cutoff of their rows', async () => {
    const site = uniqueId('retimed-prune');
    const now = Date.now();
    await pool.query(
      `INSERT INTO telemetry_retimed (site_id, device_id, channel, source_time, seq_key, time) VALUES
        ($1, 'd', 'c', $2, -1, $2), ($1, 'd', 'c', $3, -1, $3)`,
      [site, new Date(now - 92 * 86_400_000), new Date(now - 90.5 * 86_400_000)],
    );
    await new RetentionService({ db, clock: systemClock, retentionDays: 90 }).runOnce();
    const left = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM telemetry_retimed WHERE site_id = $1`,
      [site],
    );
    expect(left.rows[0]!.n).toBe(1); // 92 days old: gone; 90.5 days: kept (its row may live a day past the cutoff)
  });
});
