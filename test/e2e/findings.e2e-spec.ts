/**
 * The findings (隐患) workflow on the real server (`node dist/src/main.js`: embedded PostgreSQL, the demo fake voice
 * provider): a stand-alone major finding from an inspection, the 五落实 gate, rectification, the regulator's sign-off,
 * lists by jurisdiction, grade and state, the overdue escalation (deadline a few seconds ahead, deadline watch every
 * 0.2 s) and the calls to the 主要负责人 recorded in the history. The watch itself is tested in virtual time in
 * src/common/deadline-watch.spec.ts.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { telemetryTopic } from '../../src/ingest/domain/telemetry-contract';
import { pollUntil } from '../setup/poll-until';
import { startServer, type ServerProcess } from '../setup/server-process';

type Finding = {
  id: string;
  siteId: string;
  status: string;
  grade: string;
  overdue: boolean;
  escalatedAt?: string;
  history?: Array<{ kind: string; to?: string; comment?: string }>;
};

function configDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hazwatch-findings-e2e-'));
  cpSync(join(__dirname, '..', '..', 'config'), dir, { recursive: true });
  const feeds = readFileSync(join(dir, 'feeds.yaml'), 'utf8').replace(
    'overdueCheckSeconds: 5',
    'overdueCheckSeconds: 0.2',
  );
  writeFileSync(join(dir, 'feeds.yaml'), feeds);
  return dir;
}

describe('findings end to end (real server)', () => {
  let server: ServerProcess;
  let tokens: Record<string, string>;

  beforeAll(async () => {
    server = await startServer({ env: { SIMULATE: 'false', CONFIG_DIR: configDir() } });
    tokens = server.tokens();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const call = async (
    method: string,
    path: string,
    token: string | undefined,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> => {
    const r = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  };
  const ids = (b: unknown): string[] => (b as Finding[]).map((f) => f.id);

  it('should take a stand-alone finding through 五落实, rectification and sign-off, escalating when overdue', async () => {
    const reg = tokens.regulator; // tianjin/binhai
    const op = tokens.operator;
    const created = await call('POST', '/api/findings', reg, {
      siteId: 'bohai-chem',
      sourceId: 'bhc-cl2',
      origin: 'inspection',
      grade: 'major',
      title: '液氯储罐区紧急切断阀未定期测试',
      deadline: new Date(Date.now() + 3_000).toISOString(),
    });
    expect(created.status).toBe(201);
    const f = created.body as Finding;
    expect(f).toMatchObject({ status: 'open', grade: 'major', overdue: false });

    // a finding of a Wuqing enterprise, recorded by its operator, stays outside the Binhai regulator's lists
    const other = await call('POST', '/api/findings', op, {
      siteId: 'wuqing-fine',
      origin: 'self_check',
      grade: 'general',
      title: '巡检发现安全标识缺失',
      deadline: new Date(Date.now() + 86_400_000).toISOString(),
    });
    expect(other.status).toBe(201);
    const o = other.body as Finding;
    expect(ids((await call('GET', '/api/findings?grade=major&status=open', reg)).body)).toContain(f.id);
    expect(ids((await call('GET', '/api/findings?grade=general', reg)).body)).not.toContain(f.id);
    expect(ids((await call('GET', '/api/findings', reg)).body)).not.toContain(o.id);
    expect((await call('GET', `/api/findings/${o.id}`, reg)).status).toBe(404);
    expect(ids((await call('GET', '/api/findings?site=wuqing-fine', op)).body)).toEqual([o.id]);

    // the deadline passes: escalated once, listed as overdue, the critical finding_overdue alarm raised
    const escalated = await pollUntil(
      async () => {
        const x = (await call('GET', `/api/findings/${f.id}`, reg)).body as Finding;
        return x.escalatedAt !== undefined ? x : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'the escalation of the finding' },
    );
    expect(escalated.overdue).toBe(true);
    const alarm = await pollUntil(
      async () =>
        (
          (await call('GET', '/api/alarms?site=bohai-chem', reg)).body as Array<{
            ruleId: string;
            priority: string;
            active: boolean;
          }>
        ).find((a) => a.ruleId === `ext:finding-overdue:${f.id}` && a.active),
      { timeoutMs: 20_000, intervalMs: 200, what: 'the finding_overdue alarm' },
    );
    expect(alarm.priority).toBe('critical');

    // 五落实 before rectification, then the enterprise rectifies and verifies, the regulator signs off
    const early = await call('POST', `/api/findings/${f.id}/transition`, op, { to: 'rectifying' });
    expect(early.status).toBe(409);
    expect(JSON.stringify(early.body)).toContain('五落实');
    expect(
      (
        await call('POST', `/api/findings/${f.id}/plan`, op, {
          measures: '对切断阀做全行程测试并建立测试台账',
          fundsCny: 15000,
          due: new Date(Date.now() + 86_400_000).toISOString(),
          responsible: '李明（技术负责人）',
          contingency: '液氯泄漏现场处置方案',
        })
      ).status,
    ).toBe(200);
    for (const to of ['rectifying', 'verified'])
      expect((await call('POST', `/api/findings/${f.id}/transition`, op, { to })).status).toBe(200);
    expect((await call('POST', `/api/findings/${f.id}/transition`, op, { to: 'closed' })).status).toBe(403);
    const closed = await call('POST', `/api/findings/${f.id}/transition`, reg, {
      to: 'closed',
      comment: '同意销号',
    });
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({ status: 'closed', overdue: false });
    expect(ids((await call('GET', '/api/findings?status=closed&grade=major', reg)).body)).toContain(f.id);
    expect(ids((await call('GET', '/api/findings?status=open', reg)).body)).not.toContain(f.id);
    await pollUntil(
      async () =>
        !(
          (await call('GET', '/api/alarms?site=bohai-chem', reg)).body as Array<{
            ruleId: string;
            active: boolean;
          }>
        ).some((a) => a.ruleId === `ext:finding-overdue:${f.id}` && a.active),
      { timeoutMs: 20_000, intervalMs: 200, what: 'the overdue alarm to clear' },
    );

    // the 主要负责人 (张建国, config/callouts.yaml) was called at recording and at escalation
    const notices = await pollUntil(
      async () => {
        const h = ((await call('GET', `/api/findings/${f.id}`, reg)).body as Finding).history ?? [];
        const n = h.filter((x) => x.kind === 'notified');
        return n.length === 2 ? n : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500, what: 'both notices in the history' },
    );
    expect(notices.map((n) => n.comment ?? '').join('\n')).toMatch(
      /张建国 登记通知[\s\S]*张建国 逾期通知|张建国 逾期通知[\s\S]*张建国 登记通知/,
    );
  });

  it('should convert a hidden-danger item raised from an alarm into a finding with the deadline the regulator sets', async () => {
    const reg = tokens.regulator;
    const op = tokens.operator;
    const mqtt = await connectAsync(server.mqttUrl() as string, {
      ...server.mqttAuth(),
      clientId: 'findings-e2e-convert',
      clean: true,
    });
    let alarmId: string;
    try {
      alarmId = await pollUntil(
        async () => {
          await mqtt.publishAsync(
            telemetryTopic('bohai-chem', 'nh-gd-1'),
            JSON.stringify({ ts: Date.now(), values: { conc: 60, fault: false } }),
            { qos: 1 },
          );
          const list = (await call('GET', '/api/alarms?site=bohai-chem', op)).body as Array<{
            id: string;
            deviceId?: string;
            condition: string;
          }>;
          return list.find((a) => a.deviceId === 'nh-gd-1' && a.condition === 'gas_l2')?.id;
        },
        { timeoutMs: 30_000, intervalMs: 300, what: 'the ammonia level-2 alarm' },
      );
    } finally {
      await mqtt.endAsync();
    }
    const raised = await call('POST', `/api/alarms/${alarmId}/hidden-dangers`, op, {
      title: '氨罐区可燃气体探测器安装位置不当',
    });
    expect(raised.status).toBe(201);
    const hd = (raised.body as { id: string }).id;

    const missing = await call('POST', `/api/hidden-dangers/${hd}/convert`, reg, { grade: 'major' });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.body)).toContain('does not invent one');
    const deadline = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const converted = await call('POST', `/api/hidden-dangers/${hd}/convert`, reg, {
      grade: 'major',
      deadline,
    });
    expect(converted.status).toBe(201);
    expect(converted.body).toMatchObject({
      status: 'open',
      grade: 'major',
      origin: 'alarm',
      alarmId,
      hiddenDangerId: hd,
      deadline,
      overdue: false,
    });
    const f = converted.body as Finding;
    expect(ids((await call('GET', '/api/findings?grade=major&status=open', reg)).body)).toContain(f.id);
    expect(
      (await call('POST', `/api/hidden-dangers/${hd}/transition`, op, { to: 'rectifying' })).status,
    ).toBe(409);
    expect(
      (
        (await call('GET', '/api/hidden-dangers?site=bohai-chem', reg)).body as Array<{
          id: string;
          findingId: string | null;
        }>
      ).find((x) => x.id === hd)?.findingId,
    ).toBe(f.id);
    expect(
      (await call('POST', `/api/hidden-dangers/${hd}/convert`, reg, { grade: 'major', deadline })).status,
    ).toBe(409);
  });

  it('should refuse unauthenticated and unscoped requests', async () => {
    expect((await call('GET', '/api/findings', undefined)).status).toBe(401);
    expect(
      (
        await call('POST', '/api/findings', tokens.regulator, {
          siteId: 'wuqing-fine',
          origin: 'inspection',
          grade: 'general',
          title: '安全标识缺失',
          deadline: new Date(Date.now() + 86_400_000).toISOString(),
        })
      ).status,
    ).toBe(404);
  });
});
