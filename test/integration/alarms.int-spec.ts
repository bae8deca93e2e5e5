import { Client } from 'pg';
import { Subject } from 'rxjs';
import { AlarmRepository, JournalConflictError } from '../../src/alarms/alarm.repository';
import { AlarmService, type AlarmServiceOptions } from '../../src/alarms/alarm.service';
import { alarmId } from '../../src/alarms/domain/alarm-id';
import { DEFAULT_ALARM_SETTINGS, type AlarmSettings } from '../../src/alarms/domain/alarm-settings';
import type { AlarmEventDto } from '../../src/alarms/domain/alarm.types';
import type { ConditionChange } from '../../src/alarms/domain/condition-change';
import { toSnapshot } from '../../src/alarms/domain/alarm-state.machine';
import { GENESIS_HASH, sealEntry } from '../../src/alarms/domain/journal-chain';
import { ScopeService } from '../../src/auth/scope.service';
import { ManualClock } from '../../src/common/clock';
import { JsonLogger } from '../../src/common/logger';
import { HazwatchMetrics } from '../../src/metrics/metrics.registry';
import { Database } from '../../src/storage/database.service';
import { systemScheduler } from '../../src/common/timer.port';
import { makeAlarm, makeAlarmTestConfig, makeCondition, makePrincipal, T0 } from '../factories/alarm.factory';
import { pollUntil } from '../setup/poll-until';
import { TcpProxy } from '../setup/tcp-proxy';
import {
  TEST_DATABASE_URL,
  createScratchDatabase,
  describeWithDb,
  prepareTestDatabase,
} from '../setup/test-db';

const suite = describeWithDb('alarms.int-spec');

const operator = makePrincipal('operator', 'tianjin/binhai', 'control room bohai');
const supervisor = makePrincipal('supervisor', 'tianjin/binhai', 'shift supervisor');
const admin = makePrincipal('admin', '', 'admin');
const config = makeAlarmTestConfig();
/** Inside the 60-minute shelf of the first test, so no shelve expiry interleaves with the outage test's events. */
const OUTAGE_T = T0 + 30 * 60_000;
const FAST: Partial<AlarmServiceOptions> = {
  actionCommitWaitMs: 5_000,
  shutdownDrainMs: 5_000,
  writeQueue: { maxBatch: 50, retryInitialMs: 50, retryMaxMs: 250, warnAbove: 100_000 },
};

function makeService(
  db: Database,
  opts: {
    clock?: ManualClock;
    settings?: Partial<AlarmSettings>;
    options?: Partial<AlarmServiceOptions>;
  } = {},
) {
  const conditions = new Subject<ConditionChange>();
  const events: AlarmEventDto[] = [];
  const service = new AlarmService(
    new AlarmRepository(db),
    opts.clock ?? new ManualClock(T0),
    conditions,
    { ...DEFAULT_ALARM_SETTINGS, ...opts.settings },
    config,
    new ScopeService(config),
    new HazwatchMetrics(false),
    systemScheduler,
    { ...FAST, ...opts.options },
  );
  service.events$.subscribe((e) => events.push(e));
  service.start();
  return { service, conditions, events };
}

suite('alarms on PostgreSQL (fresh scratch database per suite: the journal chain is global)', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let db: Database;
  let sql: Client;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    scratch = await createScratchDatabase(TEST_DATABASE_URL!, 'alarms');
    await prepareTestDatabase(scratch.url);
    db = await Database.open({ url: scratch.url, migrate: false });
    sql = new Client({ connectionString: scratch.url });
    await sql.connect();
  });

  afterAll(async () => {
    await sql?.end();
    await db?.close();
    await scratch?.drop();
  });

  it('should persist alarms and journal, and rebuild identical state after a restart with no duplicate raise and no lost ack', async () => {
    const a = makeService(db, { settings: { latch: [{ condition: 'trip' }] } });
    await a.service.whenReady();
    const gas = makeCondition({ value: 0.1 + 0.2, message: '氯气 二级报警 "Cl₂" \\ tab\there' });
    const trip = makeCondition({
      ruleId: 'valve:cl-xv-1',
      deviceId: 'cl-xv-1',
      condition: 'trip',
      value: 'closed',
      limit: 'closed',
    });
    const nh3 = makeCondition({
      sourceId: 'bhc-nh3',
      deviceId: 'nh-gd-1',
      value: 123456789.125,
      priority: 'critical',
    });
    a.conditions.next(gas);
    a.conditions.next(trip);
    a.conditions.next(nh3);
    await a.service.ack(alarmId(gas), operator, 'crew dispatched');
    a.conditions.next({ ...trip, active: false, ts: T0 + 1_000 });
    await a.service.shelve(alarmId(nh3), supervisor, 60, 'sensor swap');
    const before = a.service.records();
    const seq = a.service.currentSeq();
    await a.service.stop();

    const rows = await sql.query<{ n: string }>('SELECT count(*) AS n FROM alarm_journal');
    expect(Number(rows.rows[0]!.n)).toBe(seq);

    const b = makeService(db, {
      settings: { latch: [{ condition: 'trip' }] },
      clock: new ManualClock(T0 + 60_000),
    });
    await b.service.whenReady();
    expect(b.service.records()).toEqual(before);
    expect(b.service.currentSeq()).toBe(seq);
    expect(b.service.get(alarmId(gas), operator)).toMatchObject({
      state: 'acknowledged',
      ackedBy: 'control room bohai',
      value: 0.1 + 0.2,
    });
    expect(b.service.get(alarmId(trip), operator).state).toBe('latched');
    // the rule engine re-reports active conditions after a restart: nothing is raised again
    b.conditions.next(gas);
    b.conditions.next(nh3);
    expect(b.events).toEqual([]);
    // the chain continues across the restart and verifies (jsonb round trip of numbers and text included)
    b.conditions.next({ ...gas, active: false, ts: T0 + 61_000 });
    expect(b.events[0]?.seq).toBe(seq + 1);
    await pollUntil(async () => (await b.service.verifyJournal()).rowsChecked === seq + 1, {
      what: 'journal row committed',
    });
    expect(await b.service.verifyJournal()).toEqual({ ok: true, rowsChecked: seq + 1, lastSeq: seq + 1 });
    const resumed = await b.service.eventsSince(0, admin);
    expect(resumed.map((e) => e.seq)).toEqual(Array.from({ length: seq + 1 }, (_, i) => i + 1));
    await b.service.stop();
  });

  it('should refuse UPDATE, DELETE and TRUNCATE on the journal', async () => {
    await expect(sql.query(`UPDATE alarm_journal SET actor = 'x' WHERE seq = 1`)).rejects.toThrow(
      /append-only: UPDATE/,
    );
    await expect(sql.query(`DELETE FROM alarm_journal WHERE seq = 1`)).rejects.toThrow(/append-only: DELETE/);
    await expect(sql.query(`TRUNCATE alarm_journal`)).rejects.toThrow(/append-only: TRUNCATE/);
  });

  it('should be idempotent for a batch already committed and refuse a different row under the same seq', async () => {
    const repo = new AlarmRepository(db);
    const tail = await repo.loadState();
    const alarm = makeAlarm({ id: 'al-idempotence-test0', ruleId: 'idempotence', seq: tail.lastSeq + 1 });
    const entry = sealEntry(tail.lastHash, {
      seq: tail.lastSeq + 1,
      at: T0 + 120_000,
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
    await repo.persist([{ entry, alarm }]);
    await repo.persist([{ entry, alarm }]); // a retry after a lost COMMIT reply
    const n = await sql.query<{ n: string }>('SELECT count(*) AS n FROM alarm_journal WHERE seq = $1', [
      entry.seq,
    ]);
    expect(n.rows[0]!.n).toBe('1');
    const forged = sealEntry(GENESIS_HASH, { ...entry, actor: 'someone else' });
    await expect(repo.persist([{ entry: forged, alarm }])).rejects.toBeInstanceOf(JournalConflictError);
  });

  it('should hold events in order while the database is unreachable and write them all when it returns', async () => {
    const target = new URL(scratch.url);
    const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    const port = await proxy.start();
    const viaProxy = new URL(scratch.url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(port);
    const pdb = await Database.open({ url: viaProxy.toString(), migrate: false });
    const s = makeService(pdb, { clock: new ManualClock(OUTAGE_T), options: { actionCommitWaitMs: 100 } });
    try {
      await s.service.whenReady();
      const startSeq = s.service.currentSeq();
      await proxy.cut();
      for (let i = 0; i < 40; i++)
        s.conditions.next(makeCondition({ ruleId: `outage-${i}`, ts: OUTAGE_T + i }));
      await s.service.ack(
        alarmId(makeCondition({ ruleId: 'outage-7' })),
        operator,
        'acked during the outage',
      );
      // live events are not held back by storage
      expect(s.events.map((e) => e.seq)).toEqual(Array.from({ length: 41 }, (_, i) => startSeq + 1 + i));
      await pollUntil(() => s.service.storageDegraded(), { what: 'storage degraded', timeoutMs: 20_000 });
      expect(s.service.status().pendingWrites).toBe(41);
      // resume still works from memory while the database is down
      expect((await s.service.eventsSince(startSeq + 39, operator)).map((e) => e.seq)).toEqual([
        startSeq + 40,
        startSeq + 41,
      ]);

      await proxy.restore();
      await pollUntil(() => !s.service.storageDegraded() && s.service.status().pendingWrites === 0, {
        what: 'pending alarm writes drained',
        timeoutMs: 30_000,
      });
      const rows = await sql.query<{ seq: string; event: string }>(
        'SELECT seq, event FROM alarm_journal WHERE seq > $1 ORDER BY seq',
        [startSeq],
      );
      expect(rows.rows.map((r) => Number(r.seq))).toEqual(
        Array.from({ length: 41 }, (_, i) => startSeq + 1 + i),
      );
      expect(rows.rows.at(-1)!.event).toBe('acknowledged');
      expect((await s.service.verifyJournal()).ok).toBe(true);
    } finally {
      await s.service.stop();
      await pdb.close();
      await proxy.close();
    }
  });

  it('should detect a journal row edited with the trigger disabled and name it', async () => {
    const s = makeService(db);
    await s.service.whenReady();
    expect((await s.service.verifyJournal()).ok).toBe(true);
    await sql.query('ALTER TABLE alarm_journal DISABLE TRIGGER alarm_journal_no_update_delete');
    try {
      await sql.query(
        `UPDATE alarm_journal SET snapshot = jsonb_set(snapshot, '{value}', '0') WHERE seq = 3`,
      );
    } finally {
      await sql.query('ALTER TABLE alarm_journal ENABLE TRIGGER alarm_journal_no_update_delete');
    }
    const v = await s.service.verifyJournal(2);
    expect(v).toEqual({
      ok: false,
      rowsChecked: 2,
      firstBroken: { seq: 3, reason: expect.stringMatching(/modified/) },
    });
    await s.service.stop();
  });

  it('should query the journal by site and time and give KPIs only annunciated raises', async () => {
    const repo = new AlarmRepository(db);
    const all = await repo.journal({ limit: 10_000 });
    expect(all.length).toBeGreaterThan(40);
    const wq = await repo.journal({ siteIds: ['wuqing-gas'], limit: 10_000 });
    expect(wq).toEqual([]);
    const window = await repo.journal({ from: OUTAGE_T, to: OUTAGE_T + 1, limit: 10_000 });
    expect(window.length).toBe(41);
    expect(window.every((e) => e.at === OUTAGE_T)).toBe(true);
    const raises = await repo.raises({ from: T0 - 1, to: T0 + 86_400_000 });
    expect(raises.every((r) => r.siteId === 'bohai-chem' && typeof r.priority === 'string')).toBe(true);
    expect(raises.length).toBe(
      all.filter(
        (e) => e.event === 'raised' && !['shelved', 'suppressed', 'out_of_service'].includes(e.toState),
      ).length,
    );
  });
});
