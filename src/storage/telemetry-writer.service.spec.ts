import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import type { Reading } from '../common/types';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { pollUntil } from '../../test/setup/poll-until';
import {
  MERGE_FACTOR,
  TelemetryWriter,
  type RejectedRow,
  type TelemetryWriterOptions,
} from './telemetry-writer.service';
import { chunkText } from './copy-chunk';
import type { TelemetrySink } from './telemetry.sink';
import { TelemetrySpool } from './telemetry.spool';
import { ManualScheduler, settle } from '../common/testing/manual.scheduler';

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);

/** Captures log lines so tests can assert on them (and keep test output clean). */
class RecordingLogger extends JsonLogger {
  readonly lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  override child(): JsonLogger {
    return this;
  }
  override debug(msg: unknown, fields?: Record<string, unknown>): void {
    this.lines.push({ level: 'debug', msg: String(msg), fields });
  }
  override info(msg: unknown, fields?: Record<string, unknown>): void {
    this.lines.push({ level: 'info', msg: String(msg), fields });
  }
  override warn(msg: unknown, fields?: Record<string, unknown>): void {
    this.lines.push({ level: 'warn', msg: String(msg), fields });
  }
  override error(msg: unknown, fields?: Record<string, unknown> | string): void {
    this.lines.push({
      level: 'error',
      msg: String(msg),
      fields: typeof fields === 'string' ? { trace: fields } : fields,
    });
  }
}

type Gate = { resolve(): void; reject(err: unknown): void };

/** Records committed lines; can be switched down, made to reject rows as data, or held open by hand. */
class FakeSink implements TelemetrySink {
  readonly committed: string[] = [];
  readonly calls: number[] = [];
  down = false;
  hold = false;
  rejectLine?: (line: string) => boolean;
  inFlight = 0;
  maxInFlight = 0;
  private gates: Gate[] = [];

  async copy(chunk: string | Buffer, rows: number): Promise<void> {
    this.calls.push(rows);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.hold) await new Promise<void>((resolve, reject) => this.gates.push({ resolve, reject }));
      if (this.down)
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      const lines = chunkText(chunk).split('\n').slice(0, -1);
      expect(lines).toHaveLength(rows);
      if (this.rejectLine && lines.some(this.rejectLine)) {
        throw Object.assign(new Error('invalid input syntax for type double precision'), { code: '22P02' });
      }
      this.committed.push(...lines);
    } finally {
      this.inFlight--;
    }
  }

  releaseAll(): void {
    const g = this.gates;
    this.gates = [];
    g.forEach((x) => x.resolve());
  }

  held(): number {
    return this.gates.length;
  }

  /** Values (5th column) of committed rows. */
  values(): string[] {
    return this.committed.map((l) => l.split('\t')[4]!);
  }
}

function readings(n: number, from = 0, over: Partial<Reading> = {}): Reading[] {
  return Array.from({ length: n }, (_, i) => ({
    siteId: 'site-a',
    deviceId: 'gd-1',
    channel: 'conc',
    ts: T0 + from + i,
    value: from + i,
    quality: 'good' as const,
    receivedAt: T0 + from + i,
    ...over,
  }));
}

describe('TelemetryWriter', () => {
  let dir: string;
  let clock: ManualClock;
  let scheduler: ManualScheduler;
  let sink: FakeSink;
  let metrics: HazwatchMetrics;
  let rejected: RejectedRow[];
  let log: RecordingLogger;
  const writers: TelemetryWriter[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hazwatch-writer-'));
    clock = new ManualClock(T0);
    scheduler = new ManualScheduler(clock);
    sink = new FakeSink();
    metrics = new HazwatchMetrics(false);
    rejected = [];
    log = new RecordingLogger();
  });
  afterEach(async () => {
    sink.down = false;
    sink.hold = false;
    sink.releaseAll();
    for (const w of writers.splice(0)) await w.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function makeWriter(over: Partial<TelemetryWriterOptions> = {}, spoolMax = 10_000_000): TelemetryWriter {
    const w = new TelemetryWriter({
      sink,
      spool: new TelemetrySpool(join(dir, 'spool'), spoolMax, 4096),
      clock,
      metrics,
      scheduler,
      batchSize: 100,
      flushMs: 100,
      queueMax: 1000,
      retryInitialMs: 100,
      retryMaxMs: 1000,
      onReject: (r) => rejected.push(r),
      log,
      ...over,
    });
    writers.push(w);
    w.start();
    return w;
  }

  const counter = async (c: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> =>
    (await c.get()).values[0]?.value ?? 0;

  describe('batching', () => {
    it('should hold a partial batch until flushMs has passed and then write it in one COPY', async () => {
      const w = makeWriter();
      w.enqueue(readings(30));
      await scheduler.advance(99);
      expect(sink.calls).toEqual([]);
      expect(w.queueDepth()).toBe(30);

      await scheduler.advance(1);

      expect(sink.calls).toEqual([30]);
      expect(sink.values()).toEqual(readings(30).map((r) => String(r.value)));
      expect(w.queueDepth()).toBe(0);
      expect(await counter(metrics.rowsWritten)).toBe(30);
    });

    it('should note per site when its last valid reading arrived (hazwatch_site_last_reading_timestamp_seconds)', async () => {
      const w = makeWriter();
      const base = readings(3);
      w.enqueue([
        { ...base[0]!, siteId: 'north', receivedAt: 1_000 },
        { ...base[1]!, siteId: 'north', receivedAt: 1_000 },
        { ...base[2]!, siteId: 'south', receivedAt: 2_000 },
      ]);
      w.enqueue([{ ...base[0]!, siteId: 'north', receivedAt: 5_000 }]);
      // a reading that cannot be stored does not count as data from its site
      w.enqueue([{ ...base[0]!, siteId: 'east', ts: Number.NaN, receivedAt: 6_000 }]);
      const text = await metrics.registry.metrics();
      expect(text).toContain('hazwatch_site_last_reading_timestamp_seconds{site="north"} 5');
      expect(text).toContain('hazwatch_site_last_reading_timestamp_seconds{site="south"} 2');
      expect(text).not.toContain('site="east"');
      await scheduler.advance(100);
    });

    it('should write a full batch at once without waiting for the flush timer when batchSize is reached', async () => {
      const w = makeWriter({ batchSize: 50 });
      w.enqueue(readings(120));
      await settle();
      // two full batches went out without any time passing; the remaining 20 wait for the timer
      expect(sink.calls.slice(0, 2)).toEqual([50, 50]);
      expect(sink.calls).toHaveLength(2);
      await scheduler.advance(100);
      expect(sink.calls).toEqual([50, 50, 20]);
      expect(w.lagMs(clock.now())).toBe(0);
    });

    it('should keep at most one COPY in flight on the live lane when batches queue up', async () => {
      const w = makeWriter({ batchSize: 10 });
      sink.hold = true;
      w.enqueue(readings(50));
      await settle();
      expect(sink.held()).toBe(1);
      for (let i = 0; i < 5; i++) {
        sink.releaseAll();
        await settle();
      }
      expect(sink.maxInFlight).toBe(1);
      expect(sink.committed).toHaveLength(50);
    });

    it('should send a backlog in merged COPYs of up to MERGE_FACTOR batches, in order, and lone batches alone', async () => {
      const w = makeWriter({ batchSize: 10 });
      sink.hold = true;
      w.enqueue(readings(10 + 7 * 10));
      await settle();
      expect(sink.calls).toEqual([10]);
      for (let i = 0; i < 4; i++) {
        sink.releaseAll();
        await settle();
      }
      // 70 queued behind the first: one COPY of MERGE_FACTOR (5) batches, then the last 2 batches together.
      expect(sink.calls).toEqual([10, 10 * MERGE_FACTOR, 20]);
      expect(sink.values()).toEqual(readings(80).map((r) => String(r.value)));
      expect(await counter(metrics.rowsWritten)).toBe(80);
      expect(w.queueDepth()).toBe(0);
      expect(w.lagMs(clock.now())).toBe(0);
    });

    it('should report the age of the oldest uncommitted reading as lag, and 0 when empty', async () => {
      const w = makeWriter();
      expect(w.lagMs(clock.now())).toBe(0);
      w.enqueue(readings(1, 0, { receivedAt: T0 - 250 }));
      expect(w.lagMs(T0)).toBe(250);
      await scheduler.advance(100);
      expect(w.lagMs(clock.now())).toBe(0);
    });

    it('should observe arrival-to-commit lag once per message (readings that arrived together) when a batch commits', async () => {
      const w = makeWriter();
      // 3 messages: 4 readings at T0, 2 at T0 + 20, 4 at T0 + 50 (committed at T0 + 100)
      w.enqueue(readings(4, 0, { receivedAt: T0 }));
      w.enqueue(readings(2, 4, { receivedAt: T0 + 20 }));
      w.enqueue(readings(4, 6, { receivedAt: T0 + 50 }));
      await scheduler.advance(100);
      const lag = await metrics.ingestCommitLag.get();
      const count = lag.values.find(
        (v) => v.metricName === 'hazwatch_ingest_commit_lag_seconds_count',
      )?.value;
      const sum = lag.values.find((v) => v.metricName === 'hazwatch_ingest_commit_lag_seconds_sum')?.value;
      expect(count).toBe(3);
      expect(sum).toBeCloseTo(0.1 + 0.08 + 0.05, 6);
    });
  });

  describe('database outage', () => {
    it('should spool batches when the sink fails and replay them exactly once when it recovers', async () => {
      const w = makeWriter();
      sink.down = true;
      w.enqueue(readings(100, 0)); // full batch: goes to the sink right away
      await settle();
      expect(w.isDatabaseFailing()).toBe(true);
      expect(w.spoolBytes()).toBeGreaterThan(0);

      w.enqueue(readings(250, 100)); // arrives during the outage
      await scheduler.advance(100); // seals the partial batch → spool
      expect(w.queueDepth()).toBe(0);
      expect(sink.committed).toHaveLength(0);
      expect(await counter(metrics.writeErrors)).toBeGreaterThanOrEqual(1);

      // retries keep failing, with backoff
      await pollUntil(
        async () => {
          await scheduler.advance(100);
          return (await counter(metrics.writeErrors)) >= 3;
        },
        { what: 'three failed attempts' },
      );
      expect(sink.committed).toHaveLength(0);
      sink.down = false;
      await scheduler.advance(1000);
      await pollUntil(() => sink.committed.length === 350 && w.spoolBytes() === 0, {
        what: 'spool replayed',
      });

      expect([...sink.values()].map(Number).sort((a, b) => a - b)).toEqual(readings(350).map((r) => r.value));
      expect(w.isDatabaseFailing()).toBe(false);
      expect(w.lagMs(clock.now())).toBe(0);
      expect(await counter(metrics.rowsWritten)).toBe(350);
      // each transition logged once, every failure logged and counted
      expect(log.lines.filter((l) => l.msg.startsWith('database unavailable'))).toHaveLength(1);
      expect(log.lines.filter((l) => l.msg.startsWith('database reachable again'))).toHaveLength(1);
      const failures = log.lines.filter((l) => l.msg.startsWith('telemetry write failed')).length;
      expect(failures).toBeGreaterThanOrEqual(3);
      expect(await counter(metrics.writeErrors)).toBe(failures);
    });

    it('should never drop a reading when the sink fails at random moments', async () => {
      const w = makeWriter({ batchSize: 37, queueMax: 200 });
      let seed = 42;
      const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      let sent = 0;
      for (let step = 0; step < 120; step++) {
        if (rnd() < 0.15) sink.down = !sink.down;
        const n = Math.floor(rnd() * 60);
        w.enqueue(readings(n, sent));
        sent += n;
        await scheduler.advance(Math.floor(rnd() * 150));
      }
      sink.down = false;
      await scheduler.advance(2000);
      await pollUntil(
        async () => {
          await scheduler.advance(100);
          return sink.committed.length >= sent && w.spoolBytes() === 0 && w.queueDepth() === 0;
        },
        { what: 'all readings committed' },
      );
      const got = sink
        .values()
        .map(Number)
        .sort((a, b) => a - b);
      expect(got).toEqual(Array.from({ length: sent }, (_, i) => i));
    });

    it('should spill to the spool when memory holds queueMax readings even though the database is up', async () => {
      const w = makeWriter({ batchSize: 100, queueMax: 300 });
      sink.hold = true; // a slow database
      w.enqueue(readings(600));
      await settle();
      expect(w.queueDepth()).toBeLessThanOrEqual(300);
      expect(w.spoolBytes()).toBeGreaterThan(0);
      sink.hold = false;
      sink.releaseAll();
      await pollUntil(
        async () => {
          sink.releaseAll();
          await scheduler.advance(100);
          return sink.committed.length === 600 && w.spoolBytes() === 0;
        },
        { what: 'spilled batches written' },
      );
      expect(sink.maxInFlight).toBeLessThanOrEqual(2);
      expect(new Set(sink.values()).size).toBe(600);
    });

    it('should raise pressure when memory and spool are full, keep every reading, and lower it after recovery', async () => {
      const w = makeWriter({ batchSize: 100, queueMax: 1000 }, 8_000); // a tiny spool: ~2 batches
      const seen: boolean[] = [];
      w.pressure$.subscribe((p) => seen.push(p));
      sink.down = true;
      w.enqueue(readings(100));
      await settle();
      w.enqueue(readings(1400, 100));
      await settle();
      expect(w.pressure$.value).toBe(true);
      expect(w.queueDepth()).toBeGreaterThanOrEqual(1000);

      w.enqueue(readings(50, 1500)); // still accepted while under pressure
      sink.down = false;
      await pollUntil(
        async () => {
          await scheduler.advance(200);
          return sink.committed.length === 1550;
        },
        { what: 'everything written after recovery' },
      );
      expect(w.pressure$.value).toBe(false);
      expect(seen).toEqual([false, true, false]);
      expect(new Set(sink.values()).size).toBe(1550);
    });
  });

  describe('bad rows', () => {
    it('should reject only the rows the database refuses as data when a batch contains them', async () => {
      const w = makeWriter({ batchSize: 64 });
      sink.rejectLine = (l) => l.includes('\tBAD');
      const rs = readings(64);
      const mixed = rs.map((r, i) => (i === 5 || i === 40 ? { ...r, channel: 'status', value: 'BAD' } : r));
      w.enqueue(mixed);
      await pollUntil(() => sink.committed.length === 62, { what: 'good rows committed' });
      expect(rejected.map((r) => r.payload.split('\t')[5])).toEqual(['BAD', 'BAD']);
      expect(rejected[0]).toMatchObject({ siteId: 'site-a', deviceId: 'gd-1' });
      expect(await counter(metrics.rowsRejected)).toBe(2);
      expect(w.isDatabaseFailing()).toBe(false);
    });

    it('should spool exactly the uncommitted rows when the database fails while bad rows are being isolated', async () => {
      const w = makeWriter({ batchSize: 8 });
      sink.rejectLine = (l) => l.includes('\tBAD');
      const rs = readings(8).map((r, i) => (i === 7 ? { ...r, channel: 'status', value: 'BAD' } : r));
      // whole batch fails (data) → first half [0..3] commits → second half fails transiently
      let calls = 0;
      const copy = sink.copy.bind(sink);
      sink.copy = async (chunk, rows) => {
        calls++;
        if (calls === 3) throw Object.assign(new Error('connection terminated'), { code: 'ECONNRESET' });
        return copy(chunk, rows);
      };
      w.enqueue(rs);
      await pollUntil(() => w.isDatabaseFailing() && w.spoolBytes() > 0, { what: 'remaining rows spooled' });
      expect(sink.committed).toHaveLength(4);
      await pollUntil(
        async () => {
          await scheduler.advance(200);
          return sink.committed.length === 7 && w.spoolBytes() === 0;
        },
        { what: 'replayed' },
      );
      expect(sink.values().map(Number)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(rejected).toHaveLength(1);
    });

    it('should reject a reading that cannot be encoded without blocking the others', async () => {
      const w = makeWriter();
      w.enqueue([...readings(2), { ...readings(1, 2)[0]!, ts: Number.NaN }]);
      await scheduler.advance(100);
      expect(sink.committed).toHaveLength(2);
      expect(rejected).toHaveLength(1);
      expect(rejected[0]!.detail).toContain('timestamp');
    });
  });

  describe('shutdown and restart', () => {
    it('should commit everything held in memory when closed while the database is up', async () => {
      const w = makeWriter();
      w.enqueue(readings(250));
      await w.close();
      expect(sink.committed).toHaveLength(250);
      expect(w.spoolBytes()).toBe(0);
    });

    it('should spool everything when closed while the database is down, and replay it on the next start', async () => {
      const w1 = makeWriter();
      sink.down = true;
      w1.enqueue(readings(100));
      await settle();
      w1.enqueue(readings(150, 100));
      await w1.close();
      expect(sink.committed).toHaveLength(0);
      expect(w1.spoolBytes()).toBeGreaterThan(0);
      w1.enqueue(readings(5, 250)); // late arrival after close: straight to the spool

      sink.down = false;
      const w2 = makeWriter(); // same spool directory, as after a restart
      await scheduler.advance(0);
      await pollUntil(
        async () => {
          await scheduler.advance(100);
          return sink.committed.length === 255 && w2.spoolBytes() === 0;
        },
        { what: 'previous run replayed' },
      );
      expect(
        sink
          .values()
          .map(Number)
          .sort((a, b) => a - b),
      ).toEqual(readings(255).map((r) => r.value));
    });

    it('should resolve flush once batches are committed', async () => {
      const w = makeWriter();
      w.enqueue(readings(30));
      await w.flush();
      expect(sink.committed).toHaveLength(30);
      expect(scheduler.pending).toBe(0);
    });
  });

  describe('durability marks (acknowledge after commit, docs/adr/0008-ack-after-commit.md)', () => {
    it('should report a batch durable only once its COPY committed, never when it merely entered memory', async () => {
      const w = makeWriter({ batchSize: 10 });
      const marks: number[] = [];
      w.onDurable((m) => marks.push(m));
      sink.hold = true;
      w.enqueue(readings(5));
      const mark = w.ackMark();
      expect(mark).toBe(1);
      w.sealOpen();
      await settle();
      expect(sink.held()).toBe(1);
      expect(w.durableMark()).toBe(0);
      expect(marks).toEqual([]);
      sink.releaseAll();
      await settle();
      expect(sink.committed).toHaveLength(5);
      expect(marks).toEqual([1]);
      // Nothing open: a message with nothing to write is durable with what came before it.
      expect(w.ackMark()).toBe(1);
    });

    it('should seal a quiet batch at once when no COPY is in flight, and group what arrives during a COPY into the next one', async () => {
      const w = makeWriter({ batchSize: 1000, flushMs: 100 });
      const marks: number[] = [];
      w.onDurable((m) => marks.push(m));
      sink.hold = true;
      w.enqueue(readings(5));
      w.sealWhenIdle(); // live lane idle: sealed and written now
      await settle();
      expect(sink.calls).toEqual([5]);
      for (let k = 0; k < 3; k++) {
        w.enqueue(readings(2, 100 + 10 * k));
        w.sealWhenIdle(); // a COPY is in flight: wait for it
        await settle();
      }
      expect(sink.calls).toEqual([5]);
      sink.hold = false;
      sink.releaseAll();
      await settle();
      expect(sink.calls).toEqual([5, 6]); // one COPY for the three quiet moments, started as the first one ended
      expect(sink.committed).toHaveLength(11);
      expect(marks[marks.length - 1]).toBe(2);
    });

    it('should still seal a grouped batch at the flush timer when the COPY in flight takes longer', async () => {
      const w = makeWriter({ batchSize: 1000, flushMs: 100 });
      sink.hold = true;
      w.enqueue(readings(5));
      w.sealWhenIdle();
      await settle();
      w.enqueue(readings(3, 100));
      w.sealWhenIdle();
      await scheduler.advance(100);
      expect(sink.calls).toEqual([5]); // sealed by the timer, queued behind the held COPY
      expect(w.queueDepth()).toBe(8);
      sink.hold = false;
      sink.releaseAll();
      await settle();
      expect(sink.calls).toEqual([5, 3]);
    });

    it('should report the spool lane durable only after an fsync, and keep the mark contiguous when a later batch is spooled first', async () => {
      const w = makeWriter({ batchSize: 100, queueMax: 1000 });
      const marks: number[] = [];
      w.onDurable((m) => marks.push(m));
      const spool = (w as unknown as { spool: TelemetrySpool }).spool;
      const syncs: number[] = [];
      const realSync = spool.sync.bind(spool);
      spool.sync = () => {
        syncs.push(spool.bytes());
        realSync();
      };
      sink.hold = true;
      w.enqueue(readings(100)); // batch 1: live, held in its COPY
      await settle();
      w.enqueue(readings(1000, 100)); // batches 2..11: 2..10 in memory, 11 beyond queueMax → spool
      await settle();
      expect(syncs.length).toBeGreaterThanOrEqual(1);
      expect(marks).toEqual([]); // batch 11 is on disk but 1..10 are not durable yet: no ack may overtake them
      sink.hold = false;
      sink.releaseAll();
      await pollUntil(
        async () => {
          await scheduler.advance(100);
          return w.durableMark() === 11;
        },
        { what: 'all eleven batches durable' },
      );
      expect(marks[marks.length - 1]).toBe(11);
      expect([...marks].sort((a, b) => a - b)).toEqual(marks);
    });

    it('should not report a spooled batch durable when the fsync fails, and keep it in memory instead', async () => {
      const w = makeWriter({ batchSize: 100, queueMax: 1000 });
      const spool = (w as unknown as { spool: TelemetrySpool }).spool;
      spool.sync = () => {
        throw new Error('EIO');
      };
      sink.down = true;
      w.enqueue(readings(100));
      await settle();
      w.enqueue(readings(100, 100));
      w.sealOpen();
      await settle();
      expect(w.durableMark()).toBe(0);
      sink.down = false;
      await pollUntil(
        async () => {
          await scheduler.advance(200);
          return w.durableMark() === 2;
        },
        { what: 'committed after the database came back' },
      );
      expect(new Set(sink.values()).size).toBe(200);
    });
  });

  describe('back-pressure hysteresis', () => {
    it('should raise pressure at queueMax and lower it only at half of it, not at every commit', async () => {
      const w = makeWriter({ batchSize: 100, queueMax: 1000 }, 1_048_576);
      const spool = (w as unknown as { spool: TelemetrySpool }).spool;
      spool.append = () => false; // spool full
      const seen: boolean[] = [];
      w.pressure$.subscribe((p) => seen.push(p));
      sink.hold = true;
      w.enqueue(readings(1200));
      await settle();
      expect(w.pressure$.value).toBe(true);
      // Commit one COPY at a time: depth falls 1200 → ... ; pressure must stay on until ≤ 500.
      const depths: Array<[number, boolean]> = [];
      while (w.queueDepth() > 0) {
        sink.releaseAll();
        await settle();
        depths.push([w.queueDepth(), w.pressure$.value]);
      }
      for (const [d, p] of depths) expect(p).toBe(d > 500);
      expect(seen).toEqual([false, true, false]);
    });
  });
});
