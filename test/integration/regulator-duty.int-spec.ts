/**
 * Regulator duty workflows on the whole app (in-process, real PostgreSQL, fake voice provider): a video-analytics
 * token reports an operator-off-post event, which starts a duty check of that control room at once (a retry of the
 * event id changes nothing); the control room never answers, so the check is missed and opens a feedback obligation
 * (反馈) for the enterprise; past its deadline an alarm escalates it; the enterprise files who/why/what, the regulator
 * returns and then accepts it. The video token reads nothing and reaches only its own enterprise.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { JsonLogger } from '../../src/common/logger';
import { feedsConfigDir, startFeedsApp, type FeedsApp } from '../../src/regulator/testing/feeds-app.harness';
import { pollUntil } from '../setup/poll-until';
import { TEST_DATABASE_URL, createScratchDatabase, describeWithDb } from '../setup/test-db';

const suite = describeWithDb('regulator-duty.int-spec');

const NANGANG_ROOM = 'sip:8002@192.0.2.1';

type DutyEvent = {
  eventId: string;
  siteId: string;
  dutyCheckId: string | null;
  outcome: string;
  duplicate: boolean;
};
type Feedback = {
  id: string;
  dutyCheckId: string;
  siteId: string;
  status: string;
  returned: number;
  overdueAt: number | null;
};
type Alarm = { siteId: string; condition: string; active: boolean; ruleId: string };
type DutyCheck = { id: string; trigger: string; status: string; result?: string };

suite('regulator duty workflows (whole app, PostgreSQL)', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let app: FeedsApp;
  let video: string;
  let binhai: string;
  let wuqing: string;
  let operator: string;
  let admin: string;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    scratch = await createScratchDatabase(TEST_DATABASE_URL!, 'duty');
    const configDir = feedsConfigDir('dutyFeedbackDeadlineMinutes: 0.03\noverdueCheckSeconds: 0.1\n');
    writeFileSync(
      join(configDir, 'callouts.yaml'),
      stringify({
        voice: {
          provider: 'fake',
          fake: { callSeconds: 1, default: 'ACKED', byNumber: { [NANGANG_ROOM]: ['NO_ANSWER'] } },
        },
        // scheduled checks far away: only the video event starts one here
        dutyCheck: { cron: '0 3 1 1 *', jitterMinutes: 0, retryAfterSeconds: 1 },
        sites: [
          {
            siteId: 'nangang-petro',
            controlRoom: { name: '南港石化中控室', number: NANGANG_ROOM },
            responsible: { main: [{ name: '周伟', number: '+8613800002001' }] },
          },
        ],
      }),
    );
    app = await startFeedsApp({ databaseUrl: scratch.url, configDir });
    video = await app.token('video', 'tianjin/binhai/nangang/nangang-petro', 'video analytics nangang');
    binhai = await app.token('regulator', 'tianjin/binhai', 'Binhai ESB');
    wuqing = await app.token('regulator', 'tianjin/wuqing', 'Wuqing ESB');
    operator = await app.token('operator', 'tianjin/binhai/nangang/nangang-petro', 'control room nangang');
    admin = await app.token('admin', '', 'admin');
  });
  afterAll(async () => {
    await app?.close();
    await scratch?.drop();
  });

  const offPost = (token: string, body: Record<string, unknown>) =>
    app.http('POST', '/api/duty-events', token, {
      kind: 'off_post',
      cameraId: 'npc-cr-cam-02',
      snapshotUrl: 'https://video.nangang.example/snap/000123.jpg',
      ...body,
    });

  it('should start a duty check on an off-post event, once per event id, only for the video token’s enterprise', async () => {
    const first = await offPost(video, { eventId: 'vid-000123', site: 'nangang-petro' });
    expect(first.status).toBe(201);
    const ev = first.body as DutyEvent;
    expect(ev).toMatchObject({
      eventId: 'vid-000123',
      siteId: 'nangang-petro',
      outcome: 'started',
      duplicate: false,
    });
    expect(ev.dutyCheckId).toMatch(/^dc-nangang-petro-.*-v$/);
    const again = await offPost(video, { eventId: 'vid-000123', site: 'nangang-petro' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ dutyCheckId: ev.dutyCheckId, duplicate: true });
    expect(
      (await offPost(video, { eventId: 'vid-000123', site: 'nangang-petro', cameraId: 'other' })).status,
    ).toBe(409);
    // least privilege: nothing outside its enterprise, nothing to read
    expect((await offPost(video, { eventId: 'vid-000124', site: 'bohai-chem' })).status).toBe(404);
    expect((await app.http('GET', '/api/alarms', video)).status).toBe(403);
    expect((await app.http('GET', '/api/duty-events', video)).status).toBe(403);
    expect((await app.http('GET', '/api/sites', video)).status).toBe(403);
    // other roles cannot pose as the video system
    expect((await offPost(binhai, { eventId: 'vid-000125', site: 'nangang-petro' })).status).toBe(403);
    expect((await offPost(video, { eventId: 'bad id!', site: 'nangang-petro' })).status).toBe(400);
    // recorded, visible to the district, not to another district
    const events = (await app.http('GET', '/api/duty-events', binhai)).body as DutyEvent[];
    expect(events.map((e) => e.eventId)).toEqual(['vid-000123']);
    expect((await app.http('GET', '/api/duty-events', wuqing)).body).toEqual([]);
    const checks = (await app.http('GET', '/api/duty-checks?site=nangang-petro', binhai)).body as DutyCheck[];
    expect(checks.find((c) => c.id === ev.dutyCheckId)?.trigger).toBe('video');
  });

  it('should open a feedback obligation for a missed check, escalate it when overdue, and track it to closure', async () => {
    const fb = await pollUntil(
      async () =>
        ((await app.http('GET', '/api/duty-feedback', binhai)).body as Feedback[]).find(
          (f) => f.siteId === 'nangang-petro',
        ),
      { timeoutMs: 30_000, intervalMs: 250, what: 'the feedback obligation of the missed check' },
    );
    expect(fb.status).toBe('awaiting');
    expect((await app.http('GET', `/api/duty-feedback/${fb.id}`, wuqing)).status).toBe(404);
    const overdueAlarm = await pollUntil(
      async () =>
        ((await app.http('GET', '/api/alarms', admin)).body as Alarm[]).find(
          (a) => a.condition === 'duty_feedback_overdue' && a.active && a.ruleId.endsWith(fb.id),
        ),
      { timeoutMs: 20_000, intervalMs: 200, what: 'the overdue feedback alarm' },
    );
    expect(overdueAlarm.siteId).toBe('nangang-petro');
    // the regulator does not answer for the enterprise
    expect(
      (await app.http('POST', `/api/duty-feedback/${fb.id}`, binhai, { who: 'x', why: 'y', actions: 'z' }))
        .status,
    ).toBe(403);
    const filed = await app.http('POST', `/api/duty-feedback/${fb.id}`, operator, {
      who: '郑军 班长',
      why: '交接班时电话转接错误',
      actions: '恢复直线电话并复测',
    });
    expect(filed.status).toBe(200);
    expect(filed.body).toMatchObject({ status: 'filed', who: '郑军 班长' });
    await pollUntil(
      async () =>
        !((await app.http('GET', '/api/alarms', admin)).body as Alarm[]).some(
          (a) => a.condition === 'duty_feedback_overdue' && a.active && a.ruleId.endsWith(fb.id),
        ),
      { timeoutMs: 10_000, what: 'the overdue alarm cleared by the filing' },
    );
    expect(
      (await app.http('POST', `/api/duty-feedback/${fb.id}/review`, binhai, { decision: 'return' })).status,
    ).toBe(400);
    const returned = await app.http('POST', `/api/duty-feedback/${fb.id}/review`, binhai, {
      decision: 'return',
      comment: '请附通话记录',
    });
    expect(returned.body).toMatchObject({ status: 'awaiting', returned: 1 });
    await app.http('POST', `/api/duty-feedback/${fb.id}`, operator, {
      who: '郑军 班长',
      why: '交接班时电话转接错误（附通话记录）',
      actions: '恢复直线电话并复测',
    });
    const accepted = await app.http('POST', `/api/duty-feedback/${fb.id}/review`, binhai, {
      decision: 'accept',
    });
    expect(accepted.body).toMatchObject({ status: 'accepted', reviewedBy: 'Binhai ESB' });
    expect(
      (await app.http('POST', `/api/duty-feedback/${fb.id}`, operator, { who: 'a', why: 'b', actions: 'c' }))
        .status,
    ).toBe(409);
  });
});
