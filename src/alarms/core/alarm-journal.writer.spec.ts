import { makeAlarm, T0 } from '../../../test/factories/alarm.factory';
import { ManualClock } from '../../common/clock';
import { JsonLogger } from '../../common/logger';
import { ManualScheduler, settle } from '../../common/testing/manual.scheduler';
import { HazwatchMetrics } from '../../metrics/metrics.registry';
import type { AlarmWrite } from '../alarm.store';
import { newAlarm, toSnapshot } from '../domain/alarm-state.machine';
import { SYSTEM_ACTOR, type Actor, type AlarmEventDto, type AlarmRecord } from '../domain/alarm.types';
import { ChainVerifier, GENESIS_HASH, sealEntry } from '../domain/journal-chain';
import { InMemoryAlarmStore } from '../testing/in-memory-alarm.store';
import { InMemoryAlarmEventLog } from '../testing/in-memory-event.log';
import { AlarmJournalWriter } from './alarm-journal.writer';
import { AlarmRegistry } from './alarm-registry';

/** Keeps error lines for assertions instead of printing them. */
class RecordingLogger extends JsonLogger {
  readonly errors: string[] = [];
  override child(): JsonLogger {
    return this;
  }
  override error(msg: unknown): void {
    this.errors.push(String(msg));
  }
}

const operator: Actor = { name: 'control room', role: 'operator', tokenId: 'op' };

/** Records, in order, what happened to each seq: `wal:N`, `persist:N`, `announce:N`. */
class RecordingLog extends InMemoryAlarmEventLog {
  constructor(private readonly trace: string[]) {
    super();
  }
  override append(w: AlarmWrite): void {
    super.append(w);
    this.trace.push(`wal:${w.entry.seq}`);
  }
}

function setup(opts: { recentEvents?: number } = {}) {
  const trace: string[] = [];
  const clock = new ManualClock(T0);
  const scheduler = new ManualScheduler(clock);
  const store = new InMemoryAlarmStore();
  const persist = store.persist.bind(store);
  store.persist = async (batch: readonly AlarmWrite[]): Promise<void> => {
    for (const w of batch) trace.push(`persist:${w.entry.seq}`);
    return persist(batch);
  };
  const wal = new RecordingLog(trace);
  const metrics = new HazwatchMetrics(false);
  const registry = new AlarmRegistry(metrics);
  const raised: string[] = [];
  let statusChanges = 0;
  const log = new RecordingLogger('test');
  const writer = new AlarmJournalWriter({
    store,
    registry,
    clock,
    scheduler,
    metrics,
    log,
    wal,
    recentEvents: opts.recentEvents ?? 100,
    writeQueue: { maxBatch: 100, retryInitialMs: 100, retryMaxMs: 1_000, warnAbove: 10_000 },
    onRaised: (siteId) => raised.push(siteId),
    onStatusChange: () => (statusChanges += 1),
  });
  const announced: Array<AlarmEventDto & { journalled?: boolean }> = [];
  /** What the registry and the write-ahead log held at the moment each event was announced. */
  const atAnnounce: Array<{
    record: AlarmRecord | undefined;
    walSeqs: number[];
    queued: number;
    committed: number;
  }> = [];
  writer.events$.subscribe((e) => {
    trace.push(`announce:${e.seq}`);
    announced.push(e);
    atAnnounce.push({
      record: registry.get(e.id),
      walSeqs: wal.seqs(),
      queued: writer.queueState().pending,
      committed: writer.committedSeq,
    });
  });
  return {
    log,
    trace,
    clock,
    scheduler,
    store,
    wal,
    registry,
    writer,
    announced,
    atAnnounce,
    raised,
    statusChanges: () => statusChanges,
  };
}

const raise = (writer: AlarmJournalWriter, alarm: AlarmRecord, at = T0) =>
  writer.apply(
    alarm,
    { kind: 'activate', at, priority: 'high', value: 2.5, limit: 2, message: 'chlorine level 2' },
    SYSTEM_ACTOR,
    null,
  );

const fresh = (id: string): AlarmRecord =>
  newAlarm({
    id,
    siteId: 'bohai-chem',
    sourceId: 'bhc-cl2',
    ruleId: 'gas-limit',
    deviceId: id,
    condition: 'gas_l2',
    priority: 'high',
    latching: false,
    at: T0,
  });

describe('AlarmJournalWriter: the ordering invariant of the single write path', () => {
  it('gives every event the next seq and chains it onto the previous hash, continuing the loaded journal tail', async () => {
    const h = setup();
    const tail = sealEntry(GENESIS_HASH, {
      seq: 41,
      at: T0,
      alarmId: 'x',
      siteId: 'bohai-chem',
      event: 'raised',
      fromState: 'normal',
      toState: 'unacknowledged',
      actor: 'hazwatch',
      actorRole: 'system',
      comment: null,
      snapshot: toSnapshot(makeAlarm({ seq: 41 })),
    });
    h.writer.startAt(41, tail.hash);

    const a = raise(h.writer, fresh('d1'));
    const b = raise(h.writer, fresh('d2'));
    expect(a.ok && b.ok).toBe(true);
    const acked = a.ok
      ? h.writer.apply(a.alarm, { kind: 'ack', at: T0 + 1, actor: operator }, operator, 'seen')
      : a;
    expect(acked.ok).toBe(true);

    expect(h.announced.map((e) => e.seq)).toEqual([42, 43, 44]);
    expect(h.writer.seq).toBe(44);
    const entries = h.writer.recent;
    expect(entries[0]?.prevHash).toBe(tail.hash);
    for (let i = 1; i < entries.length; i++) expect(entries[i]?.prevHash).toBe(entries[i - 1]?.hash);
    expect(entries[2]?.actor).toBe('control room [token op]');

    await h.scheduler.advance(0);
    const v = new ChainVerifier();
    for (const row of [tail, ...h.store.rows]) expect(v.push(row)).toBeNull();
    expect(h.store.rows.map((r) => r.seq)).toEqual([42, 43, 44]);
  });

  it('makes each event durable in the write-ahead log, then queues it, then announces it unjournalled', async () => {
    const h = setup();
    raise(h.writer, fresh('d1'));
    raise(h.writer, fresh('d2'));

    // at the moment of each announcement: the event is in the write-ahead log and in the registry
    expect(h.atAnnounce.map((x) => x.walSeqs)).toEqual([[1], [1, 2]]);
    expect(h.atAnnounce.map((x) => x.record?.seq)).toEqual([1, 2]);
    // ... and queued for the journal table, not yet committed there: announced `journalled: false`
    expect(h.atAnnounce.map((x) => [x.queued, x.committed])).toEqual([
      [1, 0],
      [2, 0],
    ]);
    expect(h.announced.every((e) => e.journalled === false)).toBe(true);
    await h.scheduler.advance(0);
    const at = (step: string): number => h.trace.indexOf(step);
    for (const seq of [1, 2]) {
      expect(at(`wal:${seq}`)).toBeGreaterThanOrEqual(0);
      expect(at(`wal:${seq}`)).toBeLessThan(at(`announce:${seq}`));
      expect(at(`wal:${seq}`)).toBeLessThan(at(`persist:${seq}`));
    }
    expect(at('persist:1')).toBeLessThan(at('persist:2'));
    expect(h.writer.committedSeq).toBe(2);
    // committed events leave the write-ahead log
    expect(h.wal.seqs()).toEqual([]);
  });

  it('counts a raise into unacknowledged for the flood indicator before announcing it', () => {
    const h = setup();
    const r = raise(h.writer, fresh('d1'));
    expect(h.raised).toEqual(['bohai-chem']);
    if (r.ok) h.writer.apply(r.alarm, { kind: 'ack', at: T0, actor: operator }, operator, null);
    expect(h.raised).toEqual(['bohai-chem']);
  });

  it('announces even when the write-ahead log fails, and reports it until appends recover', async () => {
    const h = setup();
    h.wal.failAppends = true;
    raise(h.writer, fresh('d1'));
    expect(h.announced.map((e) => e.seq)).toEqual([1]);
    expect(h.writer.walError).toMatch(/ENOSPC/);
    raise(h.writer, fresh('d3'));
    expect(h.log.errors.filter((m) => m.includes('write-ahead log'))).toHaveLength(1); // loud once, not per event
    const changes = h.statusChanges();
    expect(changes).toBeGreaterThan(0);

    h.wal.failAppends = false;
    raise(h.writer, fresh('d2'));
    expect(h.writer.walError).toBeUndefined();
    expect(h.announced.map((e) => e.seq)).toEqual([1, 2, 3]);
    await settle();
  });

  it('spends no seq on a command that changes nothing or is rejected', () => {
    const h = setup();
    const r = raise(h.writer, fresh('d1'));
    if (!r.ok) throw r.error;
    const again = raise(h.writer, r.alarm); // same activation: no journalled change
    const rejected = h.writer.apply(fresh('d9'), { kind: 'ack', at: T0, actor: operator }, operator, null);
    expect(again.ok && again.event).toBeFalsy();
    expect(rejected.ok).toBe(false);
    expect(h.writer.seq).toBe(1);
    expect(h.announced).toHaveLength(1);
  });

  it('adopts saved events only when they continue the chain, and never reuses a seq that was reserved', () => {
    const source = setup();
    raise(source.writer, fresh('d1'));
    raise(source.writer, fresh('d2'));
    const saved = source.wal.load();

    const ok = setup();
    expect(ok.writer.adopt(saved, 'test log', () => 'moved')).toBe('adopted');
    expect(ok.writer.seq).toBe(2);
    expect(ok.registry.size).toBe(2);
    expect(ok.announced).toEqual([]); // restored events are queued, not announced again
    const next = raise(ok.writer, fresh('d3'));
    expect(next.ok && next.alarm.seq).toBe(3);
    expect(ok.writer.recent[2]?.prevHash).toBe(saved[1]?.entry.hash);

    const broken = setup();
    broken.writer.startAt(5, 'f'.repeat(64));
    const quarantined: string[] = [];
    expect(broken.writer.adopt(saved, 'test log', (why) => (quarantined.push(why), 'moved'))).toBe(
      'rejected',
    );
    expect(quarantined).toHaveLength(1);
    expect(broken.registry.size).toBe(0);
    broken.writer.reserveThrough(9);
    const after = raise(broken.writer, fresh('d4'));
    expect(after.ok && after.alarm.seq).toBe(10);
  });

  it('keeps every uncommitted event for resume, trimming only committed ones beyond the limit', async () => {
    const h = setup({ recentEvents: 1 });
    h.store.down = true;
    for (const d of ['d1', 'd2', 'd3']) raise(h.writer, fresh(d));
    expect(h.writer.recent.map((e) => e.seq)).toEqual([1, 2, 3]);
    h.store.down = false;
    await h.scheduler.advance(1_000);
    expect(h.writer.committedSeq).toBe(3);
    expect(h.writer.recent.map((e) => e.seq)).toEqual([3]);
  });
});
