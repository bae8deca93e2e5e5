/**
 * COPY micro-benchmark (docs/adr/0023-binary-copy-and-series-key.md): ms per COPY of 100k bench-like telemetry rows,
 * text vs binary format, into tables that differ only in their unique key, interleaved round by round so that load
 * from other work hits every variant alike. Also the Node side: encoding cost per 100k rows (CPU time of this process).
 *
 *   node dist/bench/copy.microbench.js --database-url postgres://postgres@127.0.0.1:5432/postgres [--rounds 5]
 *     [--rows 100000] [--preload 1000000] [--variants brin,key,key_c,series_key]
 *
 * It creates a database `copybench_<pid>` next to the given one and drops it at the end.
 */
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Reading } from '../src/common/types';
import { CopyRowEncoder, CopyTextBuffer, TELEMETRY_COLUMNS } from '../src/storage/copy-row.encoder';
import {
  BINARY_HEADER,
  BINARY_TRAILER,
  BinaryRowEncoder,
  CopyBinaryBuffer,
} from '../src/storage/copy-binary';

const COLUMNS = `time timestamptz NOT NULL, site_id text NOT NULL, device_id text NOT NULL, channel text NOT NULL,
  value double precision, text_value text, quality smallint NOT NULL DEFAULT 0, seq bigint`;

/** The unique keys compared. Every table also has the BRIN on time that today's partition has. */
export const VARIANTS: Record<string, { columns: string; index: string | undefined }> = {
  brin: { columns: COLUMNS, index: undefined },
  key: {
    columns: COLUMNS,
    index: '(time, site_id, device_id, channel, (COALESCE(seq, -1)))',
  },
  key_c: {
    columns: COLUMNS,
    index: '(time, site_id COLLATE "C", device_id COLLATE "C", channel COLLATE "C", (COALESCE(seq, -1)))',
  },
  series_key: {
    columns: `${COLUMNS}, series_key bigint GENERATED ALWAYS AS
      (hashtextextended(site_id || chr(31) || device_id || chr(31) || channel, 0)) STORED`,
    index: '(time, series_key, (COALESCE(seq, -1)))',
  },
};

type Args = { url: string; rounds: number; rows: number; preload: number; variants: string[] };

function parseArgs(argv: string[]): Args {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const url = get('database-url') ?? process.env.DATABASE_URL;
  if (!url) throw new Error('--database-url (or DATABASE_URL) is required');
  const variants = (get('variants') ?? Object.keys(VARIANTS).join(',')).split(',');
  for (const v of variants) if (!VARIANTS[v]) throw new Error(`--variants: unknown variant '${v}'`);
  return {
    url,
    rounds: Number(get('rounds') ?? 5),
    rows: Number(get('rows') ?? 100_000),
    preload: Number(get('preload') ?? 1_000_000),
    variants,
  };
}

/** Bench-like readings: 1000 gas detectors × (conc, fault), one message per device per 20 ms step, with seq. */
export function benchReadings(rows: number, startMs: number): Reading[] {
  const out: Reading[] = [];
  const devices = 1000;
  for (let i = 0; out.length < rows; i++) {
    const d = i % devices;
    const step = Math.floor(i / devices);
    const ts = startMs + step * 20 + (d % 20);
    const common = {
      siteId: `bench-s${d % 4}`,
      deviceId: `gd-${String(d).padStart(4, '0')}`,
      ts,
      quality: 'good' as const,
      receivedAt: ts,
      seq: step,
    };
    out.push({ ...common, channel: 'conc', value: (i % 97) / 10 });
    if (out.length < rows) out.push({ ...common, channel: 'fault', value: false });
  }
  return out;
}

function encodeText(readings: readonly Reading[]): Buffer {
  const enc = new CopyRowEncoder();
  const buf = new CopyTextBuffer(readings.length * 100);
  for (const r of readings) {
    const line = enc.encode(r);
    if (typeof line !== 'string') throw new Error(line.error);
    buf.append(line);
  }
  return buf.take();
}

function encodeBinary(readings: readonly Reading[]): Buffer {
  const enc = new BinaryRowEncoder();
  const buf = new CopyBinaryBuffer(readings.length * 100);
  for (const r of readings) {
    const err = enc.encode(r, buf);
    if (err) throw new Error(err);
  }
  return buf.take();
}

/** CPU ms (user + system) of this process to encode `readings`, median of 5 after a warm-up. */
function encodeCpuMs(readings: readonly Reading[], encode: (r: readonly Reading[]) => Buffer): number {
  encode(readings);
  const runs: number[] = [];
  for (let k = 0; k < 5; k++) {
    const c0 = process.cpuUsage();
    encode(readings);
    const c = process.cpuUsage(c0);
    runs.push((c.user + c.system) / 1000);
  }
  return median(runs);
}

type CopyCost = { wallMs: number; backendCpuMs: number | undefined; walBytes: number };

/**
 * CPU time (user + system, ms) of a local PostgreSQL backend from /proc: far less sensitive to other work on the
 * machine than wall time (10 ms resolution). Undefined when the server is not on this machine.
 */
function backendCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return undefined;
  }
}

async function walLsn(client: Client): Promise<bigint> {
  const r = await client.query<{ b: string }>(
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS b`,
  );
  return BigInt(r.rows[0]!.b.split('.')[0]!);
}

async function copy(
  client: Client,
  pid: number,
  table: string,
  body: Buffer,
  binary: boolean,
): Promise<CopyCost> {
  const sql = `COPY ${table} (${TELEMETRY_COLUMNS}) FROM STDIN${binary ? ' (FORMAT binary)' : ''}`;
  const parts = binary ? [BINARY_HEADER, body, BINARY_TRAILER] : [body];
  const wal0 = await walLsn(client);
  const cpu0 = backendCpuMs(pid);
  const t0 = performance.now();
  await pipeline(Readable.from(parts), client.query(copyFrom(sql)));
  const wallMs = performance.now() - t0;
  const cpu1 = backendCpuMs(pid);
  const walBytes = Number((await walLsn(client)) - wal0);
  return {
    wallMs,
    backendCpuMs: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0,
    walBytes,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dbName = `copybench_${process.pid}`;
  const admin = new Client({ connectionString: args.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const u = new URL(args.url);
  u.pathname = `/${dbName}`;
  const client = new Client({ connectionString: u.toString() });
  await client.connect();
  try {
    const t0 = Date.UTC(2040, 2, 10);
    const sample = benchReadings(args.rows, t0);
    const textCpu = encodeCpuMs(sample, encodeText);
    const binCpu = encodeCpuMs(sample, encodeBinary);
    const textBytes = encodeText(sample).length;
    const binBytes = encodeBinary(sample).length;
    console.log(
      `encode ${args.rows} rows (CPU ms, median of 5): text ${textCpu.toFixed(1)} (${textBytes} bytes), ` +
        `binary ${binCpu.toFixed(1)} (${binBytes} bytes)`,
    );
    for (const v of args.variants) {
      const spec = VARIANTS[v]!;
      await client.query(`CREATE TABLE t_${v} (${spec.columns}) WITH (autovacuum_enabled = off)`);
      await client.query(`CREATE INDEX ON t_${v} USING brin (time)`);
      if (spec.index) await client.query(`CREATE UNIQUE INDEX t_${v}_key ON t_${v} ${spec.index}`);
      // The day so far: `preload` earlier rows of the same series.
      await client.query(
        `INSERT INTO t_${v} (${TELEMETRY_COLUMNS})
         SELECT to_timestamp(($1::float8 - 86400000 + g * 20) / 1000), 'bench-s' || (g % 4), 'gd-' || lpad((g % 1000)::text, 4, '0'),
                CASE WHEN g % 2 = 0 THEN 'conc' ELSE 'fault' END, g % 97, NULL, 0, g / 1000
         FROM generate_series(1, $2::int) g`,
        [t0, args.preload],
      );
      await client.query(`VACUUM ANALYZE t_${v}`);
    }
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const results: Record<string, CopyCost[]> = {};
    const spanMs = (args.rows / 2000) * 20 + 1000;
    for (let round = 0; round < args.rounds; round++) {
      const load = loadavg()[0]!.toFixed(1);
      const line: string[] = [];
      // Rotate the order every round so no variant always goes first.
      const order = args.variants.map((_, i) => args.variants[(i + round) % args.variants.length]!);
      for (const [f, binary] of [false, true].entries()) {
        const readings = benchReadings(args.rows, t0 + (round * 2 + f) * spanMs);
        const body = binary ? encodeBinary(readings) : encodeText(readings);
        for (const v of order) {
          const cost = await copy(client, pid, `t_${v}`, body, binary);
          const key = `${v} ${binary ? 'binary' : 'text'}`;
          (results[key] ??= []).push(cost);
          line.push(`${key} ${cost.wallMs.toFixed(0)}/${cost.backendCpuMs ?? '–'}`);
        }
      }
      console.log(`round ${round + 1} (load ${load}), wall/backend CPU ms: ${line.join(', ')}`);
    }
    console.log(
      `\nms per COPY of ${args.rows} rows into a table of ${args.preload}+ rows (${args.rounds} rounds):`,
    );
    console.log('variant      format   wall median   min   max | backend CPU median   min | WAL MB median');
    const col = (x: number | undefined, w: number): string =>
      (x === undefined ? '–' : x.toFixed(0)).padStart(w);
    for (const [key, costs] of Object.entries(results)) {
      const [v, f] = key.split(' ');
      const wall = costs.map((c) => c.wallMs);
      const cpu = costs.map((c) => c.backendCpuMs).filter((c): c is number => c !== undefined);
      const wal = costs.map((c) => c.walBytes / 1e6);
      console.log(
        `${v!.padEnd(12)} ${f!.padEnd(7)} ${col(median(wall), 12)} ${col(Math.min(...wall), 5)} ` +
          `${col(Math.max(...wall), 5)} | ${col(cpu.length ? median(cpu) : undefined, 18)} ` +
          `${col(cpu.length ? Math.min(...cpu) : undefined, 5)} | ${median(wal).toFixed(1).padStart(13)}`,
      );
    }
    for (const v of args.variants) {
      const r = await client.query<{ bytes: string }>(
        `SELECT pg_relation_size(c) AS bytes FROM to_regclass('t_${v}_key') c WHERE c IS NOT NULL`,
      );
      const n = await client.query<{ n: string }>(`SELECT count(*) AS n FROM t_${v}`);
      if (r.rows[0])
        console.log(
          `${v}: unique index ${(Number(r.rows[0].bytes) / 1e6).toFixed(0)} MB for ${n.rows[0]!.n} rows ` +
            `(${(Number(r.rows[0].bytes) / Number(n.rows[0]!.n)).toFixed(1)} bytes/row)`,
        );
    }
  } finally {
    await client.end();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
    await admin.end();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
