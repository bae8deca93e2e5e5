/**
 * Duty checks end to end on the real server (`node dist/src/main.js`, embedded PostgreSQL, fake voice provider as in
 * `npm start` demo mode) with a short real schedule: every few seconds the control rooms are called. bohai-chem's
 * room presses 1 → an on-duty record; nangang-petro's never answers → one retry, then a missed check that raises an
 * `ext:duty-check` alarm, whose call-out goes to the Binhai duty desk and the 主要负责人. Also: HTTP filters, scope,
 * the monthly summary, and who may trigger a check.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { pollUntil } from '../setup/poll-until';
import { startServer, type ServerProcess } from '../setup/server-process';

type Attempt = {
  calleeRole: string;
  number: string;
  outcome?: string;
  digits: string;
  events: Array<{ kind: string }>;
};
type DutyCheck = {
  id: string;
  siteId: string;
  trigger: string;
  status: string;
  result?: string;
  alarmRaised: boolean;
  attempts: Attempt[];
};
type Callout = {
  id: string;
  alarmId: string;
  siteId: string;
  ruleId: string;
  status: string;
  attempts: Attempt[];
};
type Alarm = {
  id: string;
  siteId: string;
  ruleId: string;
  condition: string;
  priority: string;
  state: string;
  active: boolean;
};

const BOHAI_ROOM = 'sip:8001@192.0.2.1';
const NANGANG_ROOM = 'sip:8002@192.0.2.1';
const DESK = '+862225201110';
const NANGANG_MAIN = '+8613800002001';

function configDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hazwatch-duty-config-'));
  cpSync(join(__dirname, '..', '..', 'config'), dir, { recursive: true });
  writeFileSync(
    join(dir, 'callouts.yaml'),
    stringify({
      voice: {
        provider: 'fake',
        fake: {
          callSeconds: 1,
          default: 'ANSWERED_NO_ACK',
          byNumber: { [BOHAI_ROOM]: ['ACKED'], [NANGANG_ROOM]: ['NO_ANSWER'] },
        },
      },
      policy: {
        startDelaySeconds: { high: 0 },
        ruleLadders: [
          { ruleIdPrefix: 'ext:duty-check', ladder: [{ targets: ['duty_desk', 'main'], afterSeconds: 0 }] },
        ],
      },
      // the file's default is once a night; the Binhai district's own schedule (every 5 s) is what runs here
      dutyCheck: { cron: '0 3 * * *', retryAfterSeconds: 1, missedPriority: 'high' },
      jurisdictionDutyChecks: [{ jurisdiction: 'tianjin/binhai', cron: '*/5 * * * * *' }],
      dutyDesks: [
        { id: 'binhai-duty', name: '滨海新区应急管理局值班室', jurisdiction: 'tianjin/binhai', number: DESK },
      ],
      sites: [
        {
          siteId: 'bohai-chem',
          controlRoom: { name: '渤海化工中控室', number: BOHAI_ROOM },
          responsible: { main: [{ name: '张建国', number: '+8613800001001' }] },
        },
        {
          siteId: 'nangang-petro',
          controlRoom: { name: '南港石化中控室', number: NANGANG_ROOM },
          responsible: { main: [{ name: '周伟', number: NANGANG_MAIN }] },
        },
        {
          siteId: 'wuqing-fine',
          controlRoom: { name: '武清中控室', number: '+862229300000' },
          responsible: {},
          dutyCheck: { enabled: false },
        },
      ],
    }),
  );
  return dir;
}

describe('duty checks end to end (real server, fake voice, short real schedule)', () => {
  let server: ServerProcess;
  let tokens: Record<string, string>;

  beforeAll(async () => {
    server = await startServer({ env: { SIMULATE: 'false', CONFIG_DIR: configDir() } });
    tokens = server.tokens();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const get = async <T>(path: string, role = 'admin'): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${server.url}${path}`, { headers: { Authorization: `Bearer ${tokens[role]}` } });
    return { status: res.status, body: (await res.json()) as T };
  };

  it('should store an on-duty record when the control room presses 1 at the scheduled time', async () => {
    const check = await pollUntil(
      async () => (await get<DutyCheck[]>('/api/duty-checks?site=bohai-chem&result=on_duty')).body[0],
      { timeoutMs: 30_000, intervalMs: 250, what: 'an on-duty check of bohai-chem' },
    );
    expect(check).toMatchObject({
      siteId: 'bohai-chem',
      trigger: 'schedule',
      status: 'done',
      result: 'on_duty',
      alarmRaised: false,
    });
    expect(check.attempts).toEqual([
      expect.objectContaining({
        calleeRole: 'control_room',
        number: BOHAI_ROOM,
        outcome: 'ACKED',
        digits: '1',
      }),
    ]);
    expect(check.attempts[0]?.events.map((e) => e.kind)).toEqual(['placed', 'answered', 'dtmf', 'ended']);
  });

  it('should retry once, then raise an alarm and call the duty desk and the main responsible person when nobody answers', async () => {
    const missed = await pollUntil(
      async () => (await get<DutyCheck[]>('/api/duty-checks?site=nangang-petro&result=no_answer')).body[0],
      { timeoutMs: 30_000, intervalMs: 250, what: 'a missed check of nangang-petro' },
    );
    expect(missed.alarmRaised).toBe(true);
    expect(missed.attempts.map((a) => a.outcome)).toEqual(['NO_ANSWER', 'NO_ANSWER']);
    const alarm = await pollUntil(
      async () =>
        (await get<Alarm[]>('/api/alarms?site=nangang-petro')).body.find(
          (a) => a.ruleId === 'ext:duty-check',
        ),
      { timeoutMs: 10_000, what: 'the duty-check alarm' },
    );
    expect(alarm).toMatchObject({ condition: 'duty_check_missed', priority: 'high', active: true });
    const callout = await pollUntil(
      async () => {
        const c = (await get<Callout[]>(`/api/callouts?alarm=${alarm.id}`)).body[0];
        return c && c.attempts.length >= 2 ? c : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 250, what: 'the call-out of the duty-check alarm' },
    );
    expect(callout.attempts.map((a) => a.number).sort()).toEqual([DESK, NANGANG_MAIN].sort());
    expect(callout.attempts.map((a) => a.calleeRole).sort()).toEqual(['duty_desk', 'main']);
  });

  it('should filter by scope, summarise the month per enterprise and refuse a bad month', async () => {
    const regulator = await get<DutyCheck[]>('/api/duty-checks', 'regulator');
    expect(regulator.status).toBe(200);
    expect(new Set(regulator.body.map((c) => c.siteId))).toEqual(new Set(['bohai-chem', 'nangang-petro']));
    const month = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 7);
    const summary = await get<{
      sites: Array<{ siteId: string; onDuty: number; noAnswer: number; onDutyRate: number | null }>;
    }>(`/api/duty-checks/summary?month=${month}`);
    expect(summary.status).toBe(200);
    const bohai = summary.body.sites.find((s) => s.siteId === 'bohai-chem');
    const nangang = summary.body.sites.find((s) => s.siteId === 'nangang-petro');
    expect(bohai?.onDuty).toBeGreaterThanOrEqual(1);
    expect(bohai?.onDutyRate).toBe(100);
    expect(nangang?.noAnswer).toBeGreaterThanOrEqual(1);
    expect(nangang?.onDutyRate).toBe(0);
    const bad = await get<{ message: string[] }>('/api/duty-checks/summary?month=2026-13');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('month must be YYYY-MM');
  });

  it('should let a supervisor trigger a check, and refuse an operator', async () => {
    const post = (role: string, site: string): Promise<Response> =>
      fetch(`${server.url}/api/duty-checks/run`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${tokens[role]}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ site }),
      });
    expect((await post('operator', 'bohai-chem')).status).toBe(403);
    const started = await pollUntil(
      async () => {
        const res = await post('supervisor', 'bohai-chem');
        return res.status === 201 ? ((await res.json()) as { id: string; trigger: string }) : undefined; // 409 while a scheduled check runs
      },
      { timeoutMs: 10_000, intervalMs: 200, what: 'a manual check accepted' },
    );
    expect(started.trigger).toBe('manual');
    const done = await pollUntil(
      async () =>
        (await get<DutyCheck[]>('/api/duty-checks?site=bohai-chem')).body.find(
          (c) => c.id === started.id && c.status === 'done',
        ),
      { timeoutMs: 10_000, what: 'the manual check done' },
    );
    expect(done.result).toBe('on_duty');
    expect((await post('supervisor', 'nowhere')).status).toBe(404);
  });

  it('should let the district regulator start a check inside its jurisdiction and refuse one outside it', async () => {
    const post = (site: string): Promise<Response> =>
      fetch(`${server.url}/api/duty-checks/run`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${tokens.regulator}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ site }),
      });
    // the demo regulator token is tianjin/binhai; wuqing-fine lies in tianjin/wuqing
    const outside = await post('wuqing-fine');
    expect(outside.status).toBe(403);
    expect(((await outside.json()) as { message: string }).message).toContain('outside your jurisdiction');
    const started = await pollUntil(
      async () => {
        const res = await post('bohai-chem');
        return res.status === 201
          ? ((await res.json()) as { id: string; siteId: string; trigger: string })
          : undefined; // 409 while a scheduled check runs
      },
      { timeoutMs: 10_000, intervalMs: 200, what: 'a regulator check accepted' },
    );
    expect(started).toMatchObject({ siteId: 'bohai-chem', trigger: 'manual' });
    const done = await pollUntil(
      async () =>
        (await get<DutyCheck[]>('/api/duty-checks?site=bohai-chem', 'regulator')).body.find(
          (c) => c.id === started.id && c.status === 'done',
        ),
      { timeoutMs: 10_000, what: 'the regulator check done' },
    );
    expect(done.result).toBe('on_duty');
  });

  it('should take an authenticated off-post event from video analytics, start a check at once, and track the feedback of a missed one to closure', async () => {
    // a video token, created with the token CLI against the server's embedded database, as an operator of the site does
    const dbLine = /"databaseUrl":"postgres:\/\/postgres:[^@]*@([^"/]+)\/hazwatch"/.exec(server.output());
    expect(dbLine).not.toBeNull();
    const password = readFileSync(join(server.dataDir, 'pg.password'), 'utf8').trim();
    // asynchronously: a blocked event loop would leave fetch a pooled keep-alive socket the server already closed
    const { stdout: created } = await promisify(execFile)(
      process.execPath,
      [
        join(__dirname, '..', '..', 'dist', 'src', 'auth', 'token.cli.js'),
        'create',
        '--role',
        'video',
        '--scope',
        'tianjin/binhai/nangang/nangang-petro',
        '--name',
        'video AI nangang',
      ],
      {
        env: {
          ...process.env,
          DATABASE_URL: `postgres://postgres:${encodeURIComponent(password)}@${dbLine![1]}/hazwatch`,
        },
        encoding: 'utf8',
      },
    );
    const video = /hzw_[A-Za-z0-9_-]+/.exec(created)![0];
    const send = async (path: string, token: string | undefined, body: unknown) => {
      const res = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token ?? ''}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const event = {
      eventId: `vid-e2e-${Date.now()}`,
      site: 'nangang-petro',
      kind: 'off_post',
      cameraId: 'npc-cr-cam-02',
      snapshotUrl: 'https://video.example/snap/000123.jpg',
    };
    const first = await send('/api/duty-events', video, event);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      siteId: 'nangang-petro',
      reportedBy: 'video AI nangang',
      duplicate: false,
    });
    expect(typeof first.body.dutyCheckId).toBe('string');
    const again = await send('/api/duty-events', video, event);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ duplicate: true, dutyCheckId: first.body.dutyCheckId });
    // least privilege: another enterprise is refused, and the token reads nothing
    expect(
      (await send('/api/duty-events', video, { ...event, eventId: `${event.eventId}-b`, site: 'bohai-chem' }))
        .status,
    ).toBe(404);
    expect(
      (await fetch(`${server.url}/api/alarms`, { headers: { Authorization: `Bearer ${video}` } })).status,
    ).toBe(403);
    // the check it started (or joined) is listed with the event
    const events = (
      await get<Array<{ eventId: string; dutyCheckId: string }>>('/api/duty-events', 'regulator')
    ).body;
    expect(events.find((e) => e.eventId === event.eventId)?.dutyCheckId).toBe(first.body.dutyCheckId);

    // nangang's control room never answers: a missed check opens a feedback obligation, filed and accepted
    const fb = await pollUntil(
      async () =>
        (
          await get<Array<{ id: string; siteId: string; status: string }>>(
            '/api/duty-feedback?status=awaiting',
            'regulator',
          )
        ).body.find((f) => f.siteId === 'nangang-petro'),
      { timeoutMs: 30_000, intervalMs: 250, what: 'the feedback obligation of a missed check' },
    );
    const filed = await send(`/api/duty-feedback/${fb.id}`, tokens.operator, {
      who: '王强（值班长）',
      why: '中控室电话转接错误',
      actions: '已恢复直线电话并复测',
    });
    expect(filed.status).toBe(200);
    expect(filed.body).toMatchObject({ status: 'filed' });
    const accepted = await send(`/api/duty-feedback/${fb.id}/review`, tokens.regulator, {
      decision: 'accept',
    });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ status: 'accepted' });
  });

  it('should export the call-out metrics', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/hazwatch_callouts_total\{outcome="ACKED"\} [1-9]/);
    expect(text).toMatch(/hazwatch_callouts_total\{outcome="NO_ANSWER"\} [1-9]/);
    expect(text).toMatch(/hazwatch_callouts_duty_checks_total\{result="on_duty"\} [1-9]/);
    expect(text).toContain('hazwatch_callouts_setup_seconds_bucket');
  });
});
