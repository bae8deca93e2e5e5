/**
 * The disposal closed loop on the whole app (in-process, real PostgreSQL): a reportable alarm obliges a disposal
 * record; past the deadline an escalated alarm reaches the district and the regulator view marks it; the enterprise
 * files the record (journalled, CAP Update), the regulator accepts; hidden-danger items close only on regulator
 * sign-off; every endpoint is confined to the jurisdiction.
 */
import { JsonLogger } from '../../src/common/logger';
import { feedsConfigDir, startFeedsApp, type FeedsApp } from '../../src/regulator/testing/feeds-app.harness';
import { pollUntil } from '../setup/poll-until';
import { TEST_DATABASE_URL, createScratchDatabase, describeWithDb } from '../setup/test-db';

const suite = describeWithDb('feeds-disposal.int-spec');

type Alarm = {
  id: string;
  siteId: string;
  deviceId?: string;
  condition: string;
  active: boolean;
  ruleId: string;
};
type Overview = {
  enterprises: Array<{
    id: string;
    disposals: { overdue: number; awaitingReview: number };
    hazardSources: Array<{ id: string; filedLevel: string; systems: Record<string, string> }>;
  }>;
};

suite('disposal closed loop (whole app, PostgreSQL)', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let app: FeedsApp;
  let binhai: string;
  let wuqing: string;
  let operator: string;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    scratch = await createScratchDatabase(TEST_DATABASE_URL!, 'disposal');
    app = await startFeedsApp({
      databaseUrl: scratch.url,
      configDir: feedsConfigDir('disposalDeadlineMinutes: 0.03\noverdueCheckSeconds: 0.1\n'),
    });
    binhai = await app.token('regulator', 'tianjin/binhai', 'Binhai ESB');
    wuqing = await app.token('regulator', 'tianjin/wuqing', 'Wuqing ESB');
    operator = await app.token('operator', 'tianjin/binhai/lingang/bohai-chem', 'control room bohai');
  });
  afterAll(async () => {
    await app?.close();
    await scratch?.drop();
  });

  const alarms = async (token: string): Promise<Alarm[]> =>
    (await app.http('GET', '/api/alarms', token)).body as Alarm[];

  it('should escalate an overdue disposal to the district, close the loop on filing and acceptance, and keep other districts out', async () => {
    const gas = await pollUntil(
      async () => {
        await app.publishGas('bohai-chem', 'nh-gd-1', 60);
        return (await alarms(binhai)).find((a) => a.deviceId === 'nh-gd-1' && a.condition === 'gas_l2');
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the ammonia level-2 alarm' },
    );
    const overdue = await pollUntil(
      async () =>
        (await alarms(binhai)).find(
          (a) => a.condition === 'disposal_overdue' && a.active && a.ruleId.endsWith(gas.id),
        ),
      {
        timeoutMs: 20_000,
        what: 'the escalated overdue alarm',
      },
    );
    expect(overdue.siteId).toBe('bohai-chem');
    const view = (await app.http('GET', '/api/regulator/overview', binhai)).body as Overview;
    expect(view.enterprises.find((e) => e.id === 'bohai-chem')?.disposals.overdue).toBe(1);
    expect(view.enterprises.map((e) => e.id).sort()).toEqual(['bohai-chem', 'nangang-petro']);
    expect(view.enterprises[0]?.hazardSources[0]?.systems).toHaveProperty('esd');

    // a regulator may not file, another district cannot even see it
    const body = { cause: '填料泄漏 packing leak', actions: '更换填料 replaced packing', closedBy: '张伟' };
    expect((await app.http('POST', `/api/alarms/${gas.id}/disposition`, binhai, body)).status).toBe(403);
    const wuqingOp = await app.token('operator', 'tianjin/wuqing', 'control room wuqing');
    expect((await app.http('POST', `/api/alarms/${gas.id}/disposition`, wuqingOp, body)).status).toBe(404);
    expect(
      (await app.http('POST', `/api/alarms/${gas.id}/disposition/review`, wuqing, { decision: 'accept' }))
        .status,
    ).toBe(404);
    expect((await app.http('GET', `/api/alarms/${gas.id}/disposition`, wuqing)).status).toBe(404);
    expect(
      ((await app.http('GET', '/api/regulator/overview', wuqing)).body as Overview).enterprises.map(
        (e) => e.id,
      ),
    ).toEqual(['wuqing-fine']);

    const filed = await app.http('POST', `/api/alarms/${gas.id}/disposition`, operator, body);
    expect(filed.status).toBe(201);
    expect(filed.body).toMatchObject({
      disposition: { status: 'filed', cause: body.cause },
      obligation: { status: 'filed' },
    });
    await pollUntil(async () => !(await alarms(binhai)).some((a) => a.id === overdue.id && a.active), {
      what: 'the overdue alarm cleared',
    });
    expect((await app.http('POST', `/api/alarms/${gas.id}/disposition`, operator, body)).status).toBe(409);

    // journal and feed carry the record
    const journal = (await app.http('GET', `/api/alarms/${gas.id}/journal`, binhai)).body as Array<{
      event: string;
      comment?: string;
    }>;
    expect(journal.some((j) => j.event === 'note' && j.comment?.includes('packing leak'))).toBe(true);

    expect(
      (await app.http('POST', `/api/alarms/${gas.id}/disposition/review`, operator, { decision: 'accept' }))
        .status,
    ).toBe(403);
    expect(
      (await app.http('POST', `/api/alarms/${gas.id}/disposition/review`, binhai, { decision: 'return' }))
        .status,
    ).toBe(400);
    const accepted = await app.http('POST', `/api/alarms/${gas.id}/disposition/review`, binhai, {
      decision: 'accept',
      comment: '同意销号',
    });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({
      disposition: { status: 'accepted' },
      obligation: { status: 'accepted' },
    });
  });

  it('should close a hidden-danger item only on regulator sign-off', async () => {
    const a = (await alarms(operator))[0]!;
    const hd = await app.http('POST', `/api/alarms/${a.id}/hidden-dangers`, operator, {
      title: '阀门填料老化 aged packing',
    });
    expect(hd.status).toBe(201);
    const id = (hd.body as { id: string }).id;
    const move = (token: string, to: string) =>
      app.http('POST', `/api/hidden-dangers/${id}/transition`, token, { to });
    expect((await move(operator, 'closed')).status).toBe(409);
    expect((await move(operator, 'rectifying')).status).toBe(200);
    expect((await move(operator, 'verified')).status).toBe(200);
    expect((await move(operator, 'closed')).status).toBe(403);
    expect((await move(wuqing, 'closed')).status).toBe(404);
    const closed = await move(binhai, 'closed');
    expect(closed.body).toMatchObject({
      status: 'closed',
      history: [
        { to: 'open' },
        { to: 'rectifying' },
        { to: 'verified' },
        { to: 'closed', actorRole: 'regulator' },
      ],
    });
    expect(((await app.http('GET', '/api/hidden-dangers', wuqing)).body as unknown[]).length).toBe(0);
  });
});
