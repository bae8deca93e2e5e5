/**
 * A journal a database administrator cannot rewrite unseen (docs/adr/0015-journal-anchors.md): an acknowledgement is
 * rewritten the way someone with the database's credentials would — trigger dropped, row changed, every later hash
 * recomputed. The chain alone still verifies; the signed anchors published before the rewrite (the copies regulators
 * hold) do not, and the report names the seq range that was rewritten.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { Subject } from 'rxjs';
import { AlarmRepository } from '../../src/alarms/alarm.repository';
import { AlarmService } from '../../src/alarms/alarm.service';
import { alarmId } from '../../src/alarms/domain/alarm-id';
import { DEFAULT_ALARM_SETTINGS } from '../../src/alarms/domain/alarm-settings';
import type { AlarmEventDto } from '../../src/alarms/domain/alarm.types';
import type { ConditionChange } from '../../src/alarms/domain/condition-change';
import { formatAnchor, type JournalAnchor } from '../../src/alarms/domain/journal-anchor';
import { hashRow } from '../../src/alarms/domain/journal-chain';
import { JournalAnchorService } from '../../src/alarms/journal-anchor.service';
import { ScopeService } from '../../src/auth/scope.service';
import { ManualClock } from '../../src/common/clock';
import { JsonLogger } from '../../src/common/logger';
import type { AppConfig } from '../../src/config/app-config';
import { HazwatchMetrics } from '../../src/metrics/metrics.registry';
import { Database } from '../../src/storage/database.service';
import { systemScheduler } from '../../src/common/timer.port';
import { makeAlarmTestConfig, makeCondition, makePrincipal, T0 } from '../factories/alarm.factory';
import { pollUntil } from '../setup/poll-until';
import {
  TEST_DATABASE_URL,
  createScratchDatabase,
  describeWithDb,
  prepareTestDatabase,
} from '../setup/test-db';

const suite = describeWithDb('journal-anchor.int-spec');
const operator = makePrincipal('operator', 'tianjin/binhai', 'control room bohai');
const config = makeAlarmTestConfig();

suite('journal anchors against a database administrator rewrite (scratch database)', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let db: Database;
  let sql: Client;
  let anchors: JournalAnchorService;
  const clock = new ManualClock(T0);

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    scratch = await createScratchDatabase(TEST_DATABASE_URL!, 'anchors');
    await prepareTestDatabase(scratch.url);
    db = await Database.open({ url: scratch.url, migrate: false });
    sql = new Client({ connectionString: scratch.url });
    await sql.connect();
    const anchorConfig = {
      ...config,
      dataDir: mkdtempSync(join(tmpdir(), 'hzw-anchor-')),
      env: { ...config.env, JOURNAL_ANCHOR_KEY: '' },
    } as AppConfig;
    anchors = new JournalAnchorService(anchorConfig, db, clock);
  });

  afterAll(async () => {
    await sql?.end();
    await db?.close();
    await scratch?.drop();
  });

  it('should report the divergence at the right seq after trigger drop, row change and hash recomputation', async () => {
    const conditions = new Subject<ConditionChange>();
    const events: AlarmEventDto[] = [];
    const service = new AlarmService(
      new AlarmRepository(db),
      clock,
      conditions,
      DEFAULT_ALARM_SETTINGS,
      config,
      new ScopeService(config),
      new HazwatchMetrics(false),
      systemScheduler,
      { actionCommitWaitMs: 5_000, shutdownDrainMs: 5_000 },
    );
    service.events$.subscribe((e) => events.push(e));
    service.start();
    await service.whenReady();
    const committed = async (seq: number): Promise<void> => {
      await pollUntil(async () => (await anchors.head()).seq >= seq, {
        what: `journal row ${seq} committed`,
      });
    };

    const gas = makeCondition({ value: 12 });
    const nh3 = makeCondition({ sourceId: 'bhc-nh3', deviceId: 'nh-gd-1', value: 80, priority: 'critical' });
    conditions.next(gas);
    conditions.next(nh3);
    await committed(service.currentSeq());
    const before = await anchors.publish('interval'); // regulators hold this one (rows up to the raises)
    clock.advance(60_000);
    await service.ack(alarmId(gas), operator, 'crew dispatched, leak isolated');
    const ack = events.find(
      (e) => e.event === 'acknowledged' || e.comment === 'crew dispatched, leak isolated',
    );
    expect(ack).toBeDefined();
    const ackSeq = ack!.seq;
    clock.advance(60_000);
    conditions.next({ ...gas, active: false, ts: clock.now() });
    await committed(service.currentSeq());
    const after = await anchors.publish('alarm'); // …and this one, covering the acknowledgement
    await service.stop();
    expect(before.seq).toBeLessThan(ackSeq);
    expect(after.seq).toBeGreaterThanOrEqual(ackSeq);

    // The rewrite: drop the append-only trigger, change the acknowledgement, recompute every hash from there on.
    await sql.query('DROP TRIGGER alarm_journal_no_update_delete ON alarm_journal');
    const rows = await new AlarmRepository(db).journal({ afterSeq: 0, limit: 1_000 });
    let prev = rows.find((r) => r.seq === ackSeq - 1)!.hash;
    for (const row of rows.filter((r) => r.seq >= ackSeq)) {
      const changed =
        row.seq === ackSeq
          ? { ...row, comment: 'false alarm, no action', prevHash: prev }
          : { ...row, prevHash: prev };
      const hash = hashRow(prev, changed);
      await sql.query('UPDATE alarm_journal SET comment = $2, prev_hash = $3, hash = $4 WHERE seq = $1', [
        row.seq,
        changed.comment,
        prev,
        hash,
      ]);
      prev = hash;
    }
    // …and remove the stored anchors that would give it away
    await sql.query('DELETE FROM journal_anchor');

    // The chain alone cannot tell (this is the defect anchors fix), nor can the database's own anchor copies:
    expect(await service.verifyJournal()).toMatchObject({ ok: true });
    expect(await anchors.verify()).toMatchObject({ ok: true, anchors: { source: 'stored', considered: 0 } });

    // The anchors regulators received (objects or the one-line CAP form) expose it, at the right seq.
    const forged: JournalAnchor = { ...after, hash: prev }; // a signature cannot be moved to another hash
    const report = await anchors.verify(
      [before, formatAnchor(after), forged].map((a) => (typeof a === 'string' ? parse(a) : a)),
    );
    expect(report.ok).toBe(false);
    expect(report.firstBroken).toBeUndefined(); // the chain itself is consistent: only the anchors disagree
    expect(report.anchors).toMatchObject({
      source: 'supplied',
      considered: 3,
      badSignature: 1,
      matched: 1,
      lastMatchedSeq: before.seq,
      divergences: 1,
      firstDivergence: {
        seq: after.seq,
        anchoredHash: after.hash,
        journalHash: expect.stringMatching(/^[0-9a-f]{64}$/),
        rewrittenBetween: { afterSeq: before.seq, atOrBeforeSeq: after.seq },
      },
    });
    expect(report.anchors.firstDivergence!.journalHash).not.toBe(after.hash);
    expect(ackSeq).toBeGreaterThan(report.anchors.firstDivergence!.rewrittenBetween.afterSeq);
    expect(ackSeq).toBeLessThanOrEqual(report.anchors.firstDivergence!.rewrittenBetween.atOrBeforeSeq);
  });
});

function parse(line: string): JournalAnchor {
  const [seq, hash, at, keyId, signature] = line.split(' ');
  return { seq: Number(seq), hash: hash!, at: at!, keyId: keyId!, signature: signature! };
}
