/**
 * Findings (隐患) on the whole app and PostgreSQL: a standalone major finding from an inspection, scoped lists by
 * jurisdiction and grade, the 五落实 gate before rectification, the regulator's sign-off, and the overdue escalation
 * alarm raised at the deadline and cleared when the finding is signed off.
 */
import { Client } from 'pg';
import { JsonLogger } from '../../src/common/logger';
import { feedsConfigDir, startFeedsApp, type FeedsApp } from '../../src/regulator/testing/feeds-app.harness';
import { pollUntil } from '../setup/poll-until';
import { TEST_DATABASE_URL, createScratchDatabase, describeWithDb } from '../setup/test-db';

const suite = describeWithDb('findings.int-spec');

type FindingView = {
  id: string;
  status: string;
  grade: string;
  overdue: boolean;
  escalatedAt?: string;
  history?: Array<{ kind: string; to?: string; actor: string; comment?: string }>;
};
type Alarm = { ruleId: string; condition: string; priority: string; active: boolean };

suite('findings workflow (whole app, PostgreSQL)', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let app: FeedsApp;
  let operator: string;
  let binhai: string;
  let wuqing: string;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    scratch = await createScratchDatabase(TEST_DATABASE_URL!, 'findings');
    app = await startFeedsApp({
      databaseUrl: scratch.url,
      configDir: feedsConfigDir('sender: hazwatch@findings.test\n'),
    });
    operator = await app.token('operator', 'tianjin/binhai/lingang/bohai-chem', 'bohai control room');
    binhai = await app.token('regulator', 'tianjin/binhai', 'Binhai ESB');
    wuqing = await app.token('regulator', 'tianjin/wuqing', 'Wuqing ESB');
  });
  afterAll(async () => {
    await app?.close();
    await scratch?.drop();
  });

  const alarms = async (): Promise<Alarm[]> => {
    const r = await app.http('GET', '/api/alarms?site=bohai-chem', binhai);
    const body = r.body as Alarm[] | { alarms: Alarm[] };
    return Array.isArray(body) ? body : body.alarms;
  };

  it('should run a major finding from inspection to sign-off, escalating at the deadline', async () => {
    const created = await app.http('POST', '/api/findings', binhai, {
      siteId: 'bohai-chem',
      sourceId: 'bhc-cl2',
      origin: 'inspection',
      grade: 'major',
      title: '液氯储罐区紧急切断阀未定期测试',
      deadline: new Date(Date.now() + 1_500).toISOString(),
    });
    expect(created.status).toBe(201);
    const f = created.body as FindingView;
    expect(f).toMatchObject({ status: 'open', grade: 'major', overdue: false });

    // scoped lists: Binhai sees it by grade, Wuqing sees nothing of it
    expect(
      ((await app.http('GET', '/api/findings?grade=major&status=open', binhai)).body as FindingView[]).map(
        (x) => x.id,
      ),
    ).toContain(f.id);
    expect(
      ((await app.http('GET', '/api/findings?grade=general', binhai)).body as FindingView[]).map((x) => x.id),
    ).not.toContain(f.id);
    expect(
      ((await app.http('GET', '/api/findings', wuqing)).body as FindingView[]).map((x) => x.id),
    ).not.toContain(f.id);
    expect((await app.http('GET', `/api/findings/${f.id}`, wuqing)).status).toBe(404);

    // the deadline passes: a critical external-condition alarm for the finding
    const overdue = await pollUntil(
      async () => (await alarms()).find((a) => a.ruleId === `ext:finding-overdue:${f.id}` && a.active),
      { timeoutMs: 20_000, intervalMs: 250, what: 'the finding_overdue alarm' },
    );
    expect(overdue).toMatchObject({ condition: 'finding_overdue', priority: 'critical' });

    // 五落实 gate
    const early = await app.http('POST', `/api/findings/${f.id}/transition`, operator, { to: 'rectifying' });
    expect(early.status).toBe(409);
    expect(JSON.stringify(early.body)).toContain('整改资金');
    const plan = await app.http('POST', `/api/findings/${f.id}/plan`, operator, {
      measures: '对切断阀做全行程测试并建立测试台账',
      fundsCny: 15000,
      due: new Date(Date.now() + 86_400_000).toISOString(),
      responsible: '李明（技术负责人）',
      contingency: '液氯泄漏现场处置方案',
    });
    expect(plan.status).toBe(200);
    expect(
      (await app.http('POST', `/api/findings/${f.id}/transition`, operator, { to: 'rectifying' })).status,
    ).toBe(200);
    expect(
      (await app.http('POST', `/api/findings/${f.id}/transition`, operator, { to: 'verified' })).status,
    ).toBe(200);
    // only a regulator signs off
    expect(
      (await app.http('POST', `/api/findings/${f.id}/transition`, operator, { to: 'closed' })).status,
    ).toBe(403);
    const closed = await app.http('POST', `/api/findings/${f.id}/transition`, binhai, {
      to: 'closed',
      comment: '同意销号',
    });
    expect(closed.status).toBe(200);
    const done = closed.body as FindingView;
    expect(done.status).toBe('closed');
    expect(done.escalatedAt).toBeDefined();
    expect(done.history?.map((h) => h.kind).filter((k) => k !== 'notified')).toEqual([
      'created',
      'escalated',
      'plan',
      'transition',
      'transition',
      'transition',
    ]);
    // the 主要负责人 (张建国 in config/callouts.yaml) was called when it was recorded and when it became overdue
    const notices = await pollUntil(
      async () => {
        const h =
          ((await app.http('GET', `/api/findings/${f.id}`, binhai)).body as FindingView).history ?? [];
        const n = h.filter((x) => x.kind === 'notified');
        return n.length === 2 ? n : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'two notices to the 主要负责人' },
    );
    expect(notices.map((n) => n.comment)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^主要负责人 张建国 登记通知: [A-Z_]+ \(\d 次呼叫/),
        expect.stringMatching(/^主要负责人 张建国 逾期通知: [A-Z_]+ \(\d 次呼叫/),
      ]),
    );
    await pollUntil(
      async () => !(await alarms()).some((a) => a.ruleId === `ext:finding-overdue:${f.id}` && a.active),
      { timeoutMs: 10_000, intervalMs: 250, what: 'the finding_overdue alarm to clear' },
    );
  });

  it('should refuse bad input with clear messages', async () => {
    const past = await app.http('POST', '/api/findings', operator, {
      siteId: 'bohai-chem',
      origin: 'self_check',
      grade: 'general',
      title: '巡检',
      deadline: '2020-01-01T00:00:00Z',
    });
    expect(past.status).toBe(400);
    expect(JSON.stringify(past.body)).toContain('deadline must be in the future');
    const noAlarm = await app.http('POST', '/api/findings', operator, {
      siteId: 'bohai-chem',
      origin: 'alarm',
      grade: 'general',
      title: '报警引出',
      deadline: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect(noAlarm.status).toBe(400);
    expect(JSON.stringify(noAlarm.body)).toContain('alarmId is required');
    const other = await app.http('POST', '/api/findings', operator, {
      siteId: 'wuqing-fine',
      origin: 'self_check',
      grade: 'general',
      title: '自查',
      deadline: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect(other.status).toBe(404);
    const grade = await app.http('POST', '/api/findings', operator, {
      siteId: 'bohai-chem',
      origin: 'self_check',
      grade: '重大',
      title: '自查',
      deadline: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect(grade.status).toBe(400);
    expect(JSON.stringify(grade.body)).toContain('grade must be major or general');
  });

  it('should convert a hidden-danger item into a finding only with a deadline the caller sets', async () => {
    const gas = await pollUntil(
      async () => {
        await app.publishGas('bohai-chem', 'nh-gd-1', 60);
        return (
          (await app.http('GET', '/api/alarms?site=bohai-chem', operator)).body as Array<{
            id: string;
            deviceId?: string;
            condition: string;
          }>
        ).find((a) => a.deviceId === 'nh-gd-1' && a.condition === 'gas_l2');
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the ammonia level-2 alarm' },
    );
    const raise = async (title: string): Promise<string> => {
      const r = await app.http('POST', `/api/alarms/${gas.id}/hidden-dangers`, operator, { title });
      expect(r.status).toBe(201);
      return (r.body as { id: string }).id;
    };
    const move = (id: string, token: string, to: string) =>
      app.http('POST', `/api/hidden-dangers/${id}/transition`, token, { to });
    const convert = (id: string, token: string, body: Record<string, unknown>) =>
      app.http('POST', `/api/hidden-dangers/${id}/convert`, token, body);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();

    const hd = await raise('氨罐区可燃气体探测器安装位置不当');
    expect((await move(hd, operator, 'rectifying')).status).toBe(200);

    // no deadline is invented: the conversion needs one, in the future, and a grade
    const noDeadline = await convert(hd, binhai, { grade: 'general' });
    expect(noDeadline.status).toBe(400);
    expect(JSON.stringify(noDeadline.body)).toContain('a hidden-danger item has no deadline');
    const past = await convert(hd, binhai, { grade: 'general', deadline: '2020-01-01T00:00:00Z' });
    expect(past.status).toBe(400);
    expect(JSON.stringify(past.body)).toContain('deadline must be in the future');
    expect((await convert(hd, binhai, { deadline: tomorrow })).status).toBe(400);
    // outside the jurisdiction it does not exist
    expect((await convert(hd, wuqing, { grade: 'general', deadline: tomorrow })).status).toBe(404);
    expect((await convert('hd-nosuchitem', binhai, { grade: 'general', deadline: tomorrow })).status).toBe(
      404,
    );

    const converted = await convert(hd, binhai, {
      grade: 'major',
      deadline: tomorrow,
      comment: '监管检查认定为重大事故隐患',
    });
    expect(converted.status).toBe(201);
    const f = converted.body as FindingView & {
      origin: string;
      alarmId?: string;
      hiddenDangerId?: string;
      deadline: string;
      title: string;
    };
    expect(f).toMatchObject({
      status: 'open',
      grade: 'major',
      origin: 'alarm',
      alarmId: gas.id,
      hiddenDangerId: hd,
      title: '氨罐区可燃气体探测器安装位置不当',
      deadline: tomorrow,
      overdue: false,
    });
    expect(f.escalatedAt).toBeUndefined();
    expect(f.history?.[0]).toMatchObject({ kind: 'created', to: 'open', actor: 'Binhai ESB' });
    expect(f.history?.[0]?.comment).toContain(`由隐患 ${hd}（整改中）转入`);
    expect(f.history?.[0]?.comment).toContain('监管检查认定为重大事故隐患');

    // the item names its finding, records the conversion and no longer moves; a second conversion is refused
    const items = (await app.http('GET', `/api/hidden-dangers?site=bohai-chem`, binhai)).body as Array<{
      id: string;
      status: string;
      findingId: string | null;
      history: Array<{ from: string | null; to: string; comment: string | null }>;
    }>;
    const item = items.find((x) => x.id === hd)!;
    expect(item).toMatchObject({ status: 'rectifying', findingId: f.id });
    expect(item.history.at(-1)).toMatchObject({ from: 'rectifying', to: 'rectifying' });
    expect(item.history.at(-1)?.comment).toContain(`转为隐患 ${f.id}，重大事故隐患，整改期限`);
    const again = await convert(hd, binhai, { grade: 'general', deadline: tomorrow });
    expect(again.status).toBe(409);
    expect(JSON.stringify(again.body)).toContain(`already converted into finding ${f.id}`);
    const stuck = await move(hd, operator, 'verified');
    expect(stuck.status).toBe(409);
    expect(JSON.stringify(stuck.body)).toContain(`converted into finding ${f.id}`);

    // the finding's own rules apply from here: 五落实 before rectification, listed with the findings
    const early = await app.http('POST', `/api/findings/${f.id}/transition`, operator, { to: 'rectifying' });
    expect(early.status).toBe(409);
    expect(JSON.stringify(early.body)).toContain('五落实');
    expect(
      ((await app.http('GET', '/api/findings?grade=major&status=open', binhai)).body as FindingView[]).map(
        (x) => x.id,
      ),
    ).toContain(f.id);

    // an item awaiting or past the regulator's sign-off is not converted
    const verified = await raise('消防通道堆放杂物');
    for (const to of ['rectifying', 'verified'])
      expect((await move(verified, operator, to)).status).toBe(200);
    const awaiting = await convert(verified, binhai, { grade: 'general', deadline: tomorrow });
    expect(awaiting.status).toBe(409);
    expect(JSON.stringify(awaiting.body)).toContain("awaits the regulator's sign-off");
    expect((await move(verified, binhai, 'closed')).status).toBe(200);
    const closed = await convert(verified, binhai, { grade: 'general', deadline: tomorrow });
    expect(closed.status).toBe(409);
    expect(JSON.stringify(closed.body)).toContain('signed off');

    // the enterprise may convert its own open item as well; an item with an alarm takes origin alarm by default
    const own = await raise('装卸区静电接地夹损坏');
    const mine = await convert(own, operator, { grade: 'general', deadline: tomorrow, origin: 'self_check' });
    expect(mine.status).toBe(201);
    expect(mine.body).toMatchObject({
      origin: 'self_check',
      hiddenDangerId: own,
      reportedBy: 'bohai control room',
    });
    expect((mine.body as { alarmId?: string }).alarmId).toBeUndefined();

    // both were recorded findings: the 主要负责人 is called for each (waited for, so the counts of the next test hold)
    for (const id of [f.id, (mine.body as FindingView).id])
      await pollUntil(
        async () =>
          (((await app.http('GET', `/api/findings/${id}`, binhai)).body as FindingView).history ?? []).some(
            (h) => h.kind === 'notified',
          ),
        { timeoutMs: 60_000, intervalMs: 250, what: 'the notice of a converted finding' },
      );
  });

  it('should take one safety commitment per enterprise and day and list the month with the days missing', async () => {
    const body = {
      committedBy: '张建国',
      riskLevel: 'general',
      unitsRunning: 3,
      unitsStopped: 1,
      hotWork: 1,
      confinedSpace: 0,
      statement: '今日各生产装置运行正常，特殊作业已落实安全措施，承诺安全生产。',
    };
    const first = await app.http('POST', '/api/sites/bohai-chem/safety-commitments', operator, body);
    expect(first.status).toBe(201);
    const day = (first.body as { day: string }).day;
    expect((await app.http('POST', '/api/sites/bohai-chem/safety-commitments', operator, body)).status).toBe(
      409,
    );
    expect((await app.http('POST', '/api/sites/bohai-chem/safety-commitments', binhai, body)).status).toBe(
      403,
    );
    const month = day.slice(0, 7);
    const list = (await app.http('GET', `/api/safety-commitments?month=${month}`, binhai)).body as Array<{
      siteId: string;
      missingDays: string[];
      commitments: Array<{ day: string; committedBy: string }>;
    }>;
    const bohai = list.find((x) => x.siteId === 'bohai-chem')!;
    expect(bohai.commitments).toEqual([expect.objectContaining({ day, committedBy: '张建国' })]);
    expect(bohai.missingDays).not.toContain(day);
    const nangang = list.find((x) => x.siteId === 'nangang-petro')!;
    expect(nangang.missingDays).toContain(day);
    expect(list.some((x) => x.siteId === 'wuqing-fine')).toBe(false);
    expect(
      (await app.http('GET', `/api/safety-commitments?month=${month}&site=bohai-chem`, wuqing)).status,
    ).toBe(404);
    expect((await app.http('GET', '/api/safety-commitments?month=2026-13', binhai)).status).toBe(400);
  });

  it('should count duty checks and the responsible persons’ calls per month', async () => {
    const now = new Date();
    const month = new Date(now.getTime() + 8 * 3_600_000).toISOString().slice(0, 7);
    type Person = {
      role: string;
      name: string;
      callsPlaced: number;
      callsAnswered: number;
      callsConfirmed: number;
    };
    const zhang = async (): Promise<Person> => {
      const r = await app.http('GET', `/api/responsible-performance?month=${month}&site=bohai-chem`, binhai);
      const [p] = r.body as Array<{ persons: Person[] }>;
      return (
        p?.persons.find((x) => x.role === 'main' && x.name === '张建国') ?? {
          role: 'main',
          name: '张建国',
          callsPlaced: 0,
          callsAnswered: 0,
          callsConfirmed: 0,
        }
      );
    };
    // the finding notices of the first test count too (they were calls to him); take them as the baseline
    const before = await zhang();
    const db = new Client({ connectionString: scratch.url });
    await db.connect();
    try {
      await db.query(
        `INSERT INTO duty_check (id, site_id, trigger, scheduled_at, status, result, completed_at, state) VALUES ('dc-perf-1', 'bohai-chem', 'manual', $1, 'done', 'on_duty', $1, '{}')`,
        [now],
      );
      for (const [id, answered, outcome] of [
        ['ca-perf-1', now, 'ACKED'],
        ['ca-perf-2', null, 'NO_ANSWER'],
      ] as const)
        await db.query(
          `INSERT INTO call_attempt (id, duty_check_id, site_id, callee_role, callee_name, number, attempt_no, placed_at, answered_at, provider, outcome)
           VALUES ($1, 'dc-perf-1', 'bohai-chem', 'main', '张建国', '+8613800001001', 1, $2, $3, 'fake', $4)`,
          [id, now, answered, outcome],
        );
    } finally {
      await db.end();
    }
    const r = await app.http('GET', `/api/responsible-performance?month=${month}&site=bohai-chem`, binhai);
    expect(r.status).toBe(200);
    const [perf] = r.body as Array<{
      dutyChecks: { done: number; onDuty: number };
      persons: Array<{
        role: string;
        name: string;
        callsPlaced: number;
        callsAnswered: number;
        callsConfirmed: number;
      }>;
    }>;
    expect(perf!.dutyChecks.done).toBeGreaterThanOrEqual(1);
    expect(perf!.dutyChecks.onDuty).toBeGreaterThanOrEqual(1);
    expect(perf!.persons.find((x) => x.role === 'main' && x.name === '张建国')).toMatchObject({
      callsPlaced: before.callsPlaced + 2,
      callsAnswered: before.callsAnswered + 1,
      callsConfirmed: before.callsConfirmed + 1,
    });
    expect(
      (await app.http('GET', `/api/responsible-performance?month=${month}&site=bohai-chem`, wuqing)).status,
    ).toBe(404);
  });
});
