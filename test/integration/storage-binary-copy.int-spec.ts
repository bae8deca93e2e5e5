import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Pool, type PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { systemClock } from '../../src/common/clock';
import { JsonLogger } from '../../src/common/logger';
import type { Reading } from '../../src/common/types';
import { HazwatchMetrics } from '../../src/metrics/metrics.registry';
import { BinaryRowEncoder, CopyBinaryBuffer } from '../../src/storage/copy-binary';
import { CopyRowEncoder, MAX_TS, MIN_TS } from '../../src/storage/copy-row.encoder';
import { Database } from '../../src/storage/database.service';
import { TelemetryWriter, type RejectedRow } from '../../src/storage/telemetry-writer.service';
import { copyBody, PgTelemetrySink, type CopyOutcome } from '../../src/storage/telemetry.sink';
import { TelemetrySpool } from '../../src/storage/telemetry.spool';
import { reportFault } from '../setup/fault-report';
import {
  TEST_DATABASE_URL,
  createScratchDatabase,
  describeWithDb,
  prepareTestDatabase,
  uniqueId,
} from '../setup/test-db';

/**
 * Binary COPY against a real PostgreSQL (docs/adr/0023-binary-copy-and-series-key.md): the encoder's tuples store the
 * same rows as COPY text; a binary chunk that meets stored keys takes the de-duplicating path; a row the database
 * refuses is isolated by bisection of binary tuples; spool segments of every format replay, idempotently.
 */
const suite = describeWithDb('storage-binary-copy.int-spec');
const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);

function binary(rs: readonly Reading[]): Buffer {
  const enc = new BinaryRowEncoder();
  const out = new CopyBinaryBuffer(1024);
  for (const r of rs) {
    const err = enc.encode(r, out);
    if (err) throw new Error(err);
  }
  return out.take();
}

function text(rs: readonly Reading[]): string {
  const enc = new CopyRowEncoder();
  return rs.map((r) => enc.encode(r) as string).join('');
}

function readings(site: string, n: number, over: Partial<Reading> = {}): Reading[] {
  return Array.from({ length: n }, (_, i) => ({
    siteId: site,
    deviceId: `d${i % 5}`,
    channel: 'conc',
    ts: T0 + i,
    value: i,
    quality: 'good' as const,
    receivedAt: T0 + i,
    seq: i,
    ...over,
  }));
}

async function copyInto(client: PoolClient, table: string, chunk: string | Buffer): Promise<void> {
  const body = copyBody(chunk);
  await pipeline(
    Readable.from(body.parts),
    client.query(copyFrom(`COPY ${table} (${body.columns}) FROM STDIN${body.options}`)),
  );
}

suite('binary COPY (real PostgreSQL)', () => {
  const url = TEST_DATABASE_URL!;
  let db: Database;
  let pool: Pool;
  let dir: string;
  const outcomes: CopyOutcome[] = [];

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    await prepareTestDatabase(url);
    db = await Database.open({ url, metrics: new HazwatchMetrics(false) });
    pool = new Pool({ connectionString: url, max: 2 });
  });
  afterAll(async () => {
    await db?.close();
    await pool?.end();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hazwatch-binary-it-'));
    outcomes.length = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const sink = (): PgTelemetrySink => new PgTelemetrySink(db, 30_000, (o) => outcomes.push(o));

  it('should store through binary COPY exactly the rows COPY text stores, for every field shape', async () => {
    const site = uniqueId('bin-roundtrip');
    const base = readings(site, 1)[0]!;
    const rs: Reading[] = [
      base,
      { ...base, channel: 'fault', value: true, quality: 'uncertain', seq: undefined },
      { ...base, channel: 'fault2', value: false, quality: 'bad', seq: Number.MAX_SAFE_INTEGER },
      { ...base, channel: 'mode', value: 'auto\tmanual\\x\nz «中文»', seq: 4_294_967_296 },
      { ...base, siteId: `${site}-工厂`, deviceId: 'gd-✓', value: -1.25e-300 },
      { ...base, deviceId: 'nul\u0000dev', value: 'nul\u0000inside', ts: MIN_TS },
      { ...base, channel: 'max', ts: MAX_TS, value: Number.MAX_VALUE, seq: 4_294_967_295 },
      { ...base, channel: 'epoch', ts: 0, value: 0.1 + 0.2 },
      { ...base, channel: 'before-epoch', ts: -1, value: -7 },
      { ...base, channel: 'pg-epoch', ts: 946_684_800_000, value: 1 },
    ];
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('CREATE TEMP TABLE rt_bin (LIKE telemetry) ON COMMIT DROP');
      await client.query('CREATE TEMP TABLE rt_text (LIKE telemetry) ON COMMIT DROP');
      await copyInto(client, 'rt_bin', binary(rs));
      await copyInto(client, 'rt_text', text(rs));
      const cols = `(extract(epoch FROM time) * 1000)::bigint::text AS ms, site_id, device_id, channel, value, text_value,
                    quality, seq`;
      const b = await client.query(`SELECT ${cols} FROM rt_bin ORDER BY channel, time`);
      const t = await client.query(`SELECT ${cols} FROM rt_text ORDER BY channel, time`);
      await client.query('COMMIT');
      expect(b.rows).toHaveLength(rs.length);
      expect(b.rows).toEqual(t.rows);
      const byChannel = new Map(b.rows.map((r: Record<string, unknown>) => [r.channel, r]));
      expect(byChannel.get('mode')).toMatchObject({
        value: null,
        text_value: 'auto\tmanual\\x\nz «中文»',
        seq: '4294967296',
      });
      expect(byChannel.get('fault2')).toMatchObject({
        value: 0,
        quality: 2,
        seq: String(Number.MAX_SAFE_INTEGER),
      });
      expect(byChannel.get('fault')).toMatchObject({ value: 1, quality: 1, seq: null });
      expect(byChannel.get('max')).toMatchObject({ ms: String(MAX_TS), value: Number.MAX_VALUE });
      expect(byChannel.get('before-epoch')).toMatchObject({ ms: '-1' });
      expect(byChannel.get('pg-epoch')).toMatchObject({ ms: '946684800000' });
    } finally {
      client.release();
    }
  });

  it('should de-duplicate a binary chunk that meets stored keys, and keep a differing value in telemetry_conflict', async () => {
    const site = uniqueId('bin-conflict');
    const rs = readings(site, 20);
    const s = sink();
    await s.copy(binary(rs), 20);
    await s.copy(binary(rs.slice(5, 15)), 10); // redelivered
    await s.copy(binary([...readings(site, 2, { ts: T0 + 100, seq: 100 }), { ...rs[3]!, value: 99 }]), 3);
    const stored = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM telemetry WHERE site_id = $1',
      [site],
    );
    expect(stored.rows[0]!.n).toBe(22);
    expect(outcomes.map((o) => [o.inserted, o.duplicates, o.conflicts])).toEqual([
      [0, 10, 0],
      [2, 1, 1],
    ]);
    const conflict = await pool.query('SELECT value, seq FROM telemetry_conflict WHERE site_id = $1', [site]);
    expect(conflict.rows).toEqual([{ value: 99, seq: '3' }]);
  });

  it('should replay spool segments of every format (7-field text, 8-field text, binary) and store each reading once', async () => {
    const site = uniqueId('bin-spool');
    const rs = readings(site, 30, { seq: undefined });
    const spoolDir = join(dir, 'spool');
    const spool = new TelemetrySpool(spoolDir, 100_000_000);
    spool.append(text(rs.slice(0, 10)).replace(/\t\\N\n/g, '\n'), T0); // before seq existed
    spool.append(text(rs.slice(5, 20)), T0 + 1); // text, overlapping
    spool.append(binary(rs.slice(15, 30)), T0 + 2); // this version, overlapping
    spool.close();
    expect(readdirSync(spoolDir).map((n) => n.split('.').pop())).toEqual(['copy', 'bcopy']);
    const w = new TelemetryWriter({
      sink: sink(),
      spool: new TelemetrySpool(spoolDir, 100_000_000),
      clock: systemClock,
      metrics: new HazwatchMetrics(false),
      batchSize: 1000,
      flushMs: 20,
      queueMax: 100_000,
      retryInitialMs: 20,
      retryMaxMs: 100,
    });
    w.start();
    const deadline = Date.now() + 20_000;
    while (w.spoolBytes() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await w.close();
    expect(w.spoolBytes()).toBe(0);
    const stored = await pool.query<{ n: number; keys: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT (time, device_id))::int AS keys FROM telemetry WHERE site_id = $1',
      [site],
    );
    expect(stored.rows[0]).toEqual({ n: 30, keys: 30 });
  });
});

suite('bisection of binary batches (real PostgreSQL, a scratch database with a CHECK constraint)', () => {
  const url = TEST_DATABASE_URL!;
  let scratch: { url: string; drop(): Promise<void> };
  let db: Database;
  let dir: string;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    scratch = await createScratchDatabase(url, 'bin_bisect');
    db = await Database.open({ url: scratch.url, metrics: new HazwatchMetrics(false) });
    const c = await db.acquire();
    try {
      // A rule the encoder cannot know: the database refuses the row as data (23514), like a bad value would.
      await c.query('ALTER TABLE telemetry ADD CONSTRAINT bench_no_666 CHECK (value IS DISTINCT FROM 666)');
    } finally {
      c.release();
    }
    dir = mkdtempSync(join(tmpdir(), 'hazwatch-bisect-it-'));
  });
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should store every other row of a binary batch and dead-letter the refused ones as readable lines', async () => {
    const site = 'bisect-site';
    const rs = readings(site, 100);
    rs[17] = { ...rs[17]!, value: 666 };
    rs[80] = { ...rs[80]!, value: 666 };
    const rejected: RejectedRow[] = [];
    const w = new TelemetryWriter({
      sink: new PgTelemetrySink(db),
      spool: new TelemetrySpool(join(dir, 'spool'), 100_000_000),
      clock: systemClock,
      metrics: new HazwatchMetrics(false),
      batchSize: 1000,
      flushMs: 20,
      queueMax: 100_000,
      onReject: (r) => rejected.push(r),
    });
    w.start();
    w.enqueue(rs);
    await w.flush();
    await w.close();
    const c = await db.acquire();
    try {
      const r = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM telemetry WHERE site_id = $1', [
        site,
      ]);
      const lost = reportFault(
        'poison rows in a binary batch (2 of 100 refused by the database)',
        { sent: 98, stored: r.rows[0]!.n, duplicated: 0 },
        `the 98 valid rows stored, ${rejected.length} refused rows dead-lettered`,
      );
      expect(lost).toBe(0);
      expect(r.rows[0]!.n).toBe(98);
    } finally {
      c.release();
    }
    expect(rejected.map((r) => r.payload)).toEqual([text([rs[17]]), text([rs[80]])].map((l) => l.trimEnd()));
    expect(rejected[0]).toMatchObject({
      siteId: site,
      deviceId: 'd2',
      detail: expect.stringContaining('23514'),
    });
  });
});
