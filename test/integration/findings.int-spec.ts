/**
 * Findings (隐患) on the whole app and PostgreSQL: a standalone major finding from an inspection, scoped lists by
 * jurisdiction and grade, the 五落实 gate before rectification, the regulator's sign-off, and the overdue escalation
 * alarm raised at the deadline and cleared when the finding is signed off.
 */
import { JsonLogger } from '../../src/common/logger';
import { feedsConfigDir, startFeedsApp, type FeedsApp } from '../../src/feeds/testing/feeds-app.harness';
import { pollUntil } from '../setup/poll-until';
import { TEST_DATABASE_URL, createScratchDatabase, describeWithDb } from '../setup/test-db';

const suite = describeWithDb('findings.int-spec');

type FindingView = { id: string; status: string; grade: string; overdue: boolean; escalatedAt?: string; history?: Array<{ kind: string; to?: string; actor: string }> };
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
    app = await startFeedsApp({ databaseUrl: scratch.url, configDir: feedsConfigDir('sender: hazwatch@findings.test\n') });
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
    expect(((await app.http('GET', '/api/findings?grade=major&status=open', binhai)).body as FindingView[]).map((x) => x.id)).toContain(f.id);
    expect(((await app.http('GET', '/api/findings?grade=general', binhai)).body as FindingView[]).map((x) => x.id)).not.toContain(f.id);
    expect(((await app.http('GET', '/api/findings', wuqing)).body as FindingView[]).map((x) => x.id)).not.toContain(f.id);
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
    expect((await app.http('POST', `/api/findings/${f.id}/transition`, operator, { to: 'rectifying' })).status).toBe(200);
    expect((await app.http('POST', `/api/findings/${f.id}/transition`, operator, { to: 'verified' })).status).toBe(200);
    // only a regulator signs off
    expect((await app.http('POST', `/api/findings/${f.id}/transition`, operator, { to: 'closed' })).status).toBe(403);
    const closed = await app.http('POST', `/api/findings/${f.id}/transition`, binhai, { to: 'closed', comment: '同意销号' });
    expect(closed.status).toBe(200);
    const done = closed.body as FindingView;
    expect(done.status).toBe('closed');
    expect(done.escalatedAt).toBeDefined();
    expect(done.history?.map((h) => h.kind)).toEqual(['created', 'escalated', 'plan', 'transition', 'transition', 'transition']);
    await pollUntil(
      async () => !(await alarms()).some((a) => a.ruleId === `ext:finding-overdue:${f.id}` && a.active),
      { timeoutMs: 10_000, intervalMs: 250, what: 'the finding_overdue alarm to clear' },
    );
  });

  it('should refuse bad input with clear messages', async () => {
    const past = await app.http('POST', '/api/findings', operator, { siteId: 'bohai-chem', origin: 'self_check', grade: 'general', title: '巡检', deadline: '2020-01-01T00:00:00Z' });
    expect(past.status).toBe(400);
    expect(JSON.stringify(past.body)).toContain('deadline must be in the future');
    const noAlarm = await app.http('POST', '/api/findings', operator, { siteId: 'bohai-chem', origin: 'alarm', grade: 'general', title: '报警引出', deadline: new Date(Date.now() + 86_400_000).toISOString() });
    expect(noAlarm.status).toBe(400);
    expect(JSON.stringify(noAlarm.body)).toContain('alarmId is required');
    const other = await app.http('POST', '/api/findings', operator, { siteId: 'wuqing-fine', origin: 'self_check', grade: 'general', title: '自查', deadline: new Date(Date.now() + 86_400_000).toISOString() });
    expect(other.status).toBe(404);
    const grade = await app.http('POST', '/api/findings', operator, { siteId: 'bohai-chem', origin: 'self_check', grade: '重大', title: '自查', deadline: new Date(Date.now() + 86_400_000).toISOString() });
    expect(grade.status).toBe(400);
    expect(JSON.stringify(grade.body)).toContain('grade must be major or general');
  });
});
