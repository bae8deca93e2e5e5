/**
 * Declared drills (docs/adr/0028-declared-drills.md) on the whole app and PostgreSQL: only a supervisor (or admin)
 * starts and ends a site's drill, the record says who and when and cannot be rewritten, and the site's alarms raised
 * inside the window go to the regulator as CAP Exercise while another site's stay Actual.
 */
import { Client } from 'pg';
import { JsonLogger } from '../../src/common/logger';
import { feedsConfigDir, startFeedsApp, type FeedsApp } from '../../src/regulator/testing/feeds-app.harness';
import { pollUntil } from '../setup/poll-until';
import { TEST_DATABASE_URL, createScratchDatabase, describeWithDb } from '../setup/test-db';

const suite = describeWithDb('drills.int-spec');

type Drill = {
  id: string;
  siteId: string;
  scenario: string;
  startedBy: string;
  endedBy: string | null;
  endedAt: string | null;
  running: boolean;
};

suite('declared drills (whole app, PostgreSQL)', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let app: FeedsApp;
  let operator: string;
  let supervisor: string;
  let city: string;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    scratch = await createScratchDatabase(TEST_DATABASE_URL!, 'drills');
    app = await startFeedsApp({
      databaseUrl: scratch.url,
      // a real plant's feed: Actual, so a drill must turn into Exercise
      configDir: feedsConfigDir('sender: hazwatch@drills.test\ncapStatus: Actual\n'),
    });
    operator = await app.token('operator', 'tianjin/binhai/lingang/bohai-chem', 'bohai control room');
    supervisor = await app.token('supervisor', '', 'shift supervisor Li');
    city = await app.token('regulator', 'tianjin', 'Tianjin EMB');
  });
  afterAll(async () => {
    await app?.close();
    await scratch?.drop();
  });

  const capOf = async (siteId: string): Promise<string> => {
    const id = await pollUntil(
      async () => {
        const atom = (await app.http('GET', '/feeds/alerts.atom', city)).text;
        return [...atom.matchAll(/\/feeds\/alerts\/([^"]+)\.cap"/g)]
          .map((m) => m[1] as string)
          .find((x) => x.startsWith(`hazwatch-${siteId}-`));
      },
      { timeoutMs: 30_000, intervalMs: 300, what: `a CAP Alert of ${siteId}` },
    );
    return (await app.http('GET', `/feeds/alerts/${id}.cap`, city)).text;
  };

  it('should let only a supervisor start and end a drill, one at a time, recorded with who and when', async () => {
    const denied = await app.http('POST', '/api/sites/bohai-chem/drills', operator, {
      scenario: '液氯泄漏演练',
    });
    expect(denied.status).toBe(403);
    expect(
      (await app.http('POST', '/api/sites/bohai-chem/drills', supervisor, { scenario: ' ' })).status,
    ).toBe(400);

    const started = await app.http('POST', '/api/sites/bohai-chem/drills', supervisor, {
      scenario: '液氯储罐区泄漏应急演练',
    });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({
      siteId: 'bohai-chem',
      startedBy: 'shift supervisor Li',
      running: true,
    });
    const again = await app.http('POST', '/api/sites/bohai-chem/drills', supervisor, { scenario: 'twice' });
    expect(again.status).toBe(409);

    // everyone in scope sees it, the regulator too
    const listed = (await app.http('GET', '/api/drills', city)).body as Drill[];
    expect(listed.filter((d) => d.running).map((d) => d.siteId)).toEqual(['bohai-chem']);
  });

  it('should send the drill site alarms as CAP Exercise and another site alarms as Actual', async () => {
    await app.publishGas('bohai-chem', 'cl-gd-1', 3);
    const drill = await capOf('bohai-chem');
    expect(drill).toContain('<status>Exercise</status>');
    await app.publishGas('wuqing-fine', 'hp-gd-1', 5);
    expect(await capOf('wuqing-fine')).toContain('<status>Actual</status>');
  });

  it('should end the drill, record who ended it, and refuse to rewrite the record', async () => {
    expect((await app.http('POST', '/api/sites/bohai-chem/drills/end', operator)).status).toBe(403);
    const ended = await app.http('POST', '/api/sites/bohai-chem/drills/end', supervisor);
    expect(ended.status).toBe(200);
    expect(ended.body).toMatchObject({ running: false, endedBy: 'shift supervisor Li' });
    expect((await app.http('POST', '/api/sites/bohai-chem/drills/end', supervisor)).status).toBe(404);

    const db = new Client({ connectionString: scratch.url });
    await db.connect();
    try {
      const rows = await db.query<{ kind: string; by_name: string; by_role: string }>(
        'SELECT kind, by_name, by_role FROM site_drill_event ORDER BY seq',
      );
      expect(rows.rows).toEqual([
        { kind: 'started', by_name: 'shift supervisor Li', by_role: 'supervisor' },
        { kind: 'ended', by_name: 'shift supervisor Li', by_role: 'supervisor' },
      ]);
      await expect(db.query(`UPDATE site_drill_event SET by_name = 'someone else'`)).rejects.toThrow(
        /append-only/,
      );
      await expect(db.query('DELETE FROM site_drill_event')).rejects.toThrow(/append-only/);
    } finally {
      await db.end();
    }
  });
});
