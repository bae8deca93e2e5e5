import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import { makeAlarmTestConfig, makeCondition, makePrincipal, T0 } from '../../test/factories/alarm.factory';
import { ScopeService } from '../auth/scope.service';
import { ManualClock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { FileAlarmEventLog, type AlarmEventLog } from './alarm-event.log';
import { AlarmService, type AlarmSystemStatus, type AnnouncedAlarmEvent } from './alarm.service';
import type { AlarmWrite } from './alarm.store';
import { DEFAULT_ALARM_SETTINGS } from './domain/alarm-settings';
import { toSnapshot } from './domain/alarm-state.machine';
import type { ConditionChange } from './domain/condition-change';
import { ChainVerifier, GENESIS_HASH, sealEntry } from './domain/journal-chain';
import { InMemoryAlarmStore } from './testing/in-memory-alarm.store';
import { InMemoryAlarmEventLog } from './testing/in-memory-event.log';
import { ManualScheduler, settle } from '../common/testing/manual.scheduler';
import { makeAlarm, raisedEntry } from '../../test/factories/alarm.factory';

/** Durable before announced, no seq reuse, `journalled` marking (docs/adr/0011-journal-before-announce.md). */

const admin = makePrincipal('admin', '', 'admin');
const gas = (deviceId: string, extra: Partial<ConditionChange> = {}): ConditionChange =>
  makeCondition({ deviceId, sourceId: `src-${deviceId}`, ...extra });

type Harness = {
  service: AlarmService;
  store: InMemoryAlarmStore;
  wal: AlarmEventLog;
  conditions: Subject<ConditionChange>;
  events: AnnouncedAlarmEvent[];
  /** Seqs in the write-ahead log at the moment each event was announced. */
  walAtAnnounce: number[][];
  statuses: AlarmSystemStatus[];
  scheduler: ManualScheduler;
  metrics: HazwatchMetrics;
};

async function harness(store: InMemoryAlarmStore, wal: AlarmEventLog, wait = true): Promise<Harness> {
  const clock = new ManualClock(T0);
  const scheduler = new ManualScheduler(clock);
  const conditions = new Subject<ConditionChange>();
  const metrics = new HazwatchMetrics(false);
  const config = makeAlarmTestConfig();
  const service = new AlarmService(
    store,
    clock,
    conditions,
    DEFAULT_ALARM_SETTINGS,
    config,
    new ScopeService(config),
    metrics,
    scheduler,
    {
      writeQueue: { maxBatch: 100, retryInitialMs: 100, retryMaxMs: 1_000, warnAbove: 10_000 },
      actionCommitWaitMs: 0,
      shutdownDrainMs: 0,
    },
    undefined,
    undefined,
    wal,
  );
  const events: AnnouncedAlarmEvent[] = [];
  const walAtAnnounce: number[][] = [];
  const statuses: AlarmSystemStatus[] = [];
  service.events$.subscribe((e) => {
    events.push(e as AnnouncedAlarmEvent);
    walAtAnnounce.push(wal.load().map((w) => w.entry.seq));
  });
  service.status$.subscribe((s) => statuses.push(s));
  service.start();
  if (wait) await service.whenReady();
  return { service, store, wal, conditions, events, walAtAnnounce, statuses, scheduler, metrics };
}

const verify = (store: InMemoryAlarmStore): { ok: boolean; broken?: string } => {
  const v = new ChainVerifier();
  for (const r of store.rows) {
    const b = v.push(r);
    if (b) return { ok: false, broken: `${b.seq}: ${b.reason}` };
  }
  return { ok: true };
};

describe('alarm events: durable before announced', () => {
  beforeAll(() => JsonLogger.setLevel('error'));
  const running: AlarmService[] = [];
  const start = async (store: InMemoryAlarmStore, wal: AlarmEventLog): Promise<Harness> => {
    const h = await harness(store, wal);
    running.push(h.service);
    return h;
  };
  afterEach(async () => {
    for (const s of running.splice(0)) await s.stop();
  });

  it('should have each event in the write-ahead log before any subscriber sees it, marked not yet journalled', async () => {
    const h = await start(new InMemoryAlarmStore(), new InMemoryAlarmEventLog());
    h.conditions.next(gas('d1'));
    h.conditions.next(gas('d2'));
    expect(h.events.map((e) => e.seq)).toEqual([1, 2]);
    expect(h.walAtAnnounce[0]).toContain(1);
    expect(h.walAtAnnounce[1]).toContain(2);
    expect(h.events.every((e) => e.journalled === false)).toBe(true);
    await settle();
    expect(h.service.journalledSeq()).toBe(2);
    expect(h.service.list({}, admin).every((a) => a.journalled)).toBe(true);
    // once the journal holds everything the log is emptied
    expect(h.wal.load()).toEqual([]);
  });

  it('should, after a kill -9 while the database hangs, journal every announced event and never reuse a seq', async () => {
    const wal = new InMemoryAlarmEventLog();
    const db = new InMemoryAlarmStore();
    const before = await start(db, wal);
    before.conditions.next(gas('d1'));
    await settle();
    db.hang();
    for (const d of ['d2', 'd3', 'd4'])
      before.conditions.next(gas(d, { priority: d === 'd3' ? 'critical' : 'high' }));
    await settle();
    const seen = before.events.map((e) => e.seq);
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(before.service.list({}, admin).filter((a) => !a.journalled)).toHaveLength(3);
    // kill -9: the process is gone (never stopped); the database is what it committed
    running.splice(0);
    const restartedDb = db.snapshot();
    expect(restartedDb.rows.map((r) => r.seq)).toEqual([1]);
    const after = await start(restartedDb, wal);
    expect(after.service.currentSeq()).toBe(4);
    after.conditions.next(gas('d5'));
    expect(after.events.map((e) => e.seq)).toEqual([5]);
    await settle();
    expect(restartedDb.rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(verify(restartedDb)).toEqual({ ok: true });
    // a client resuming from seq 1 gets every later event
    expect((await after.service.eventsSince(1, admin)).map((e) => e.seq)).toEqual([2, 3, 4, 5]);
  });

  it('should make a flood of events durable with one fdatasync on the file log, announcing each after it in seq order', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hazwatch-wal-')), 'events.wal');
    const wal = new FileAlarmEventLog(file);
    const h = await start(new InMemoryAlarmStore(), wal);
    const before = wal.syncs;
    for (let i = 0; i < 50; i++) h.conditions.next(gas(`d${i}`));
    // written, not yet announced: the group's fdatasync comes first
    expect(h.events).toHaveLength(0);
    expect(new FileAlarmEventLog(file).load()).toHaveLength(50);
    await Promise.resolve();
    expect(wal.syncs - before).toBe(1);
    expect(h.events.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(h.walAtAnnounce.every((seqs, i) => seqs.includes(i + 1))).toBe(true);
  });

  it('should keep announcing while the database refuses, then journal in order and report the journalled seq', async () => {
    const db = new InMemoryAlarmStore();
    const h = await start(db, new InMemoryAlarmEventLog());
    db.down = true;
    h.conditions.next(gas('d1'));
    h.conditions.next(gas('d2'));
    await settle();
    expect(h.events.map((e) => [e.seq, e.journalled])).toEqual([
      [1, false],
      [2, false],
    ]);
    expect(h.service.status().storageDegraded).toBe(true);
    expect(h.service.status().journalledSeq).toBe(0);
    const replay = await h.service.eventsSince(0, admin);
    expect(replay.map((e) => (e as AnnouncedAlarmEvent).journalled)).toEqual([false, false]);
    db.down = false;
    await h.scheduler.advance(1_000);
    expect(db.rows.map((r) => r.seq)).toEqual([1, 2]);
    expect(h.service.status()).toMatchObject({ storageDegraded: false, journalledSeq: 2 });
    expect(verify(db)).toEqual({ ok: true });
  });

  it('should still announce when the write-ahead log cannot be written, and say so loudly', async () => {
    const wal = new InMemoryAlarmEventLog();
    const h = await start(new InMemoryAlarmStore(), wal);
    wal.failAppends = true;
    h.conditions.next(gas('d1'));
    expect(h.events.map((e) => e.seq)).toEqual([1]);
    expect(h.service.status()).toMatchObject({
      storageDegraded: true,
      walError: expect.stringContaining('ENOSPC'),
    });
    expect(
      (await h.metrics.registry.getSingleMetric('hazwatch_alarms_wal_errors_total')?.get())?.values[0]?.value,
    ).toBe(1);
    wal.failAppends = false;
    h.conditions.next(gas('d2'));
    expect(h.service.status().walError).toBeUndefined();
  });

  it('should keep unwritten events in the log over a graceful stop with the database hanging and write them at the next start', async () => {
    const wal = new InMemoryAlarmEventLog();
    const db = new InMemoryAlarmStore();
    const h = await harness(db, wal);
    db.hang();
    h.conditions.next(gas('d1'));
    h.conditions.next(gas('d2'));
    await h.service.stop();
    expect(wal.seqs()).toEqual([1, 2]);
    const restartedDb = db.snapshot();
    const after = await start(restartedDb, wal);
    await settle();
    expect(restartedDb.rows.map((r) => r.seq)).toEqual([1, 2]);
    expect(after.service.currentSeq()).toBe(2);
  });

  it('should move aside a log that does not continue the journal and still never reuse its seqs', async () => {
    const wal = new InMemoryAlarmEventLog();
    const alarm = makeAlarm({ seq: 7 });
    const entry = sealEntry('f'.repeat(64), {
      seq: 7,
      at: T0,
      alarmId: alarm.id,
      siteId: alarm.siteId,
      event: 'raised',
      fromState: 'normal',
      toState: 'unacknowledged',
      actor: 'hazwatch',
      actorRole: 'system',
      comment: null,
      snapshot: toSnapshot(alarm),
    });
    wal.append({ entry, alarm });
    const h = await start(new InMemoryAlarmStore(), wal);
    expect(wal.quarantined).toHaveLength(1);
    expect(h.service.currentSeq()).toBe(7);
    h.conditions.next(gas('d1'));
    expect(h.events.map((e) => e.seq)).toEqual([8]);
  });
});

describe('FileAlarmEventLog', () => {
  const dir = (): string => mkdtempSync(join(tmpdir(), 'hazwatch-alarm-wal-'));
  const write = (seq: number, prev: string): AlarmWrite => {
    const alarm = makeAlarm({ seq, message: 'ünï\u0000"q"' });
    const entry = raisedEntry(alarm, seq, prev);
    return { entry, alarm };
  };
  const chain = (n: number): AlarmWrite[] => {
    const out: AlarmWrite[] = [];
    let prev = GENESIS_HASH;
    for (let i = 1; i <= n; i++) {
      const w = write(i, prev);
      prev = w.entry.hash;
      out.push(w);
    }
    return out;
  };

  it('should read back exactly what was appended, across a reopen', () => {
    const file = join(dir(), 'alarms', 'events.wal');
    const log = new FileAlarmEventLog(file);
    const ws = chain(3);
    for (const w of ws) log.append(w);
    log.close();
    const back = new FileAlarmEventLog(file).load();
    expect(back.map((w) => w.entry)).toEqual(ws.map((w) => w.entry));
    expect(back[0]?.alarm.message).toBe('ünï\u0000"q"');
  });

  it('should group appends of one synchronous run into one fdatasync and call back in order only after it', async () => {
    const file = join(dir(), 'events.wal');
    const log = new FileAlarmEventLog(file);
    const ws = chain(4);
    const done: Array<[number, string | undefined]> = [];
    for (const w of ws.slice(0, 3)) log.appendGrouped(w, (err) => done.push([w.entry.seq, err?.message]));
    expect(done).toEqual([]);
    expect(log.syncs).toBe(0);
    await Promise.resolve();
    expect(log.syncs).toBe(1);
    expect(done).toEqual([
      [1, undefined],
      [2, undefined],
      [3, undefined],
    ]);
    // a plain append ends any open group first, then syncs on its own
    log.appendGrouped(ws[3] as AlarmWrite, (err) => done.push([4, err?.message]));
    log.close();
    expect(done[3]).toEqual([4, undefined]);
    expect(new FileAlarmEventLog(file).load().map((w) => w.entry.seq)).toEqual([1, 2, 3, 4]);
  });

  it('should report a failed fdatasync to every event of the group, in order', async () => {
    const log = new FileAlarmEventLog(join(dir(), 'events.wal'));
    const ws = chain(2);
    const fs = jest.requireActual<typeof import('node:fs')>('node:fs');
    const spy = jest.spyOn(fs, 'fdatasyncSync').mockImplementation(() => {
      throw new Error('EIO: i/o error, fdatasync');
    });
    try {
      const done: Array<[number, string | undefined]> = [];
      for (const w of ws) log.appendGrouped(w, (err) => done.push([w.entry.seq, err?.message]));
      await Promise.resolve();
      expect(done).toEqual([
        [1, 'EIO: i/o error, fdatasync'],
        [2, 'EIO: i/o error, fdatasync'],
      ]);
    } finally {
      spy.mockRestore();
    }
  });

  it('should cut a torn last line (a crash mid-append) and keep appending cleanly after it', () => {
    const file = join(dir(), 'events.wal');
    const log = new FileAlarmEventLog(file);
    const ws = chain(3);
    log.append(ws[0] as AlarmWrite);
    log.close();
    appendFileSync(file, '{"entry":{"seq":2,"at"');
    const reopened = new FileAlarmEventLog(file);
    expect(reopened.load().map((w) => w.entry.seq)).toEqual([1]);
    reopened.append(ws[1] as AlarmWrite);
    expect(new FileAlarmEventLog(file).load().map((w) => w.entry.seq)).toEqual([1, 2]);
  });

  it('should empty the file once the journal holds everything, and rewrite it with the uncommitted tail when large', () => {
    const d = dir();
    const file = join(d, 'events.wal');
    const log = new FileAlarmEventLog(file, 1_000);
    const ws = chain(6);
    for (const w of ws.slice(0, 2)) log.append(w);
    log.compact(2, []);
    expect(statSync(file).size).toBe(0);
    for (const w of ws.slice(2)) log.append(w);
    log.compact(4, ws.slice(4));
    expect(new FileAlarmEventLog(file).load().map((w) => w.entry.seq)).toEqual([5, 6]);
    expect(readdirSync(d).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('should throw naming the file and line for a corrupt line, and move it aside on quarantine', () => {
    const d = dir();
    const file = join(d, 'events.wal');
    appendFileSync(file, 'not json\n');
    const log = new FileAlarmEventLog(file);
    expect(() => log.load()).toThrow(/events\.wal line 1/);
    const to = log.quarantine('corrupt');
    expect(existsSync(file)).toBe(false);
    expect(readFileSync(`${to}.why`, 'utf8')).toBe('corrupt\n');
  });
});
