import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ConfigError } from '../common/errors';
import { loadPlant } from '../config/config.loader';
import { loadCallouts } from './callouts.loader';

const CONFIG = join(__dirname, '..', '..', 'config');
const plant = loadPlant(CONFIG);

function withFile(doc: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'hazwatch-callouts-'));
  writeFileSync(join(dir, 'callouts.yaml'), typeof doc === 'string' ? doc : stringify(doc));
  return dir;
}
const site = { siteId: 'bohai-chem', controlRoom: { name: 'room', number: 'sip:8001@pbx' }, responsible: {} };
const problemsOf = (doc: unknown, demo = true): Array<{ path: string; reason: string }> => {
  try {
    loadCallouts(withFile(doc), plant, demo);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  throw new Error('expected a ConfigError');
};

describe('loadCallouts', () => {
  it('should load the demo config with DOMAIN §6 figures for the three demo sites', () => {
    const c = loadCallouts(CONFIG, plant, true);
    expect(c).not.toBeNull();
    expect([...c!.sites.keys()]).toEqual(['bohai-chem', 'nangang-petro', 'wuqing-fine']);
    expect(c!.voice.provider).toBe('fake');
    expect(c!.policy).toMatchObject({
      startDelayMs: { critical: 0, high: 120_000 },
      retries: 1,
      retryDelayMs: 60_000,
      confirmKey: '1',
    });
    expect(c!.policy.ladder.map((s) => [s.targets, s.afterMs / 1000])).toEqual([
      [['control_room'], 0],
      [['operations'], 180],
      [['technical'], 300],
      [['main', 'duty_desk'], 300],
    ]);
    expect(c!.sites.get('bohai-chem')?.dutyDesk?.name).toBe('滨海新区应急管理局值班室');
    expect(c!.sites.get('wuqing-fine')?.dutyDesk?.name).toBe('武清区应急管理局值班室');
    expect(c!.dutyChecks.get('wuqing-fine')).toMatchObject({
      cron: '30 10,22 * * *',
      retryAfterMs: 300_000,
      keyTimeoutMs: 15_000,
      timeZone: 'Asia/Shanghai',
    });
    expect(c!.sites.get('bohai-chem')?.responsible.operations[1]?.onCall[0]).toEqual({
      days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
      fromMin: 1200,
      toMin: 480,
    });
  });

  it('should select the sip provider outside demo mode', () => {
    expect(loadCallouts(CONFIG, plant, false)?.voice.provider).toBe('sip');
  });

  it('should return null when the file is absent', () => {
    expect(loadCallouts(mkdtempSync(join(tmpdir(), 'hazwatch-none-')), plant, true)).toBeNull();
  });

  it('should name file, path and reason for an unknown site and a bad number', () => {
    const dir = withFile({
      sites: [{ ...site, siteId: 'nowhere', controlRoom: { name: 'x', number: 'call me' } }],
    });
    expect(() => loadCallouts(dir, plant, true)).toThrow(/callouts\.yaml/);
    expect(
      problemsOf({ sites: [{ ...site, siteId: 'nowhere', controlRoom: { name: 'x', number: 'call me' } }] }),
    ).toEqual([
      {
        path: 'sites[0].controlRoom.number',
        reason: 'must be a SIP URI (sip:user@host) or a phone number (+8613800000000)',
      },
    ]);
    expect(problemsOf({ sites: [{ ...site, siteId: 'nowhere' }] })).toEqual([
      { path: 'sites[0].siteId', reason: "unknown site 'nowhere' (not in plant.yaml)" },
    ]);
  });

  it('should refuse a quiet rule for critical alarms', () => {
    const p = problemsOf({
      policy: { quiet: [{ from: '23:00', to: '07:00', priorities: ['critical'], targets: ['main'] }] },
      sites: [site],
    });
    expect(p).toEqual([
      {
        path: 'policy.quiet[0].priorities',
        reason: 'priorities may be high, medium, low (critical alarms are never held by quiet rules)',
      },
    ]);
  });

  it('should refuse an invalid cron expression, naming it', () => {
    const p = problemsOf({ dutyCheck: { cron: '61 * * * *' }, sites: [site] });
    expect(p[0]?.path).toBe('dutyCheck.cron');
    expect(p[0]?.reason).toContain("invalid cron expression '61 * * * *'");
  });

  it('should refuse a ladder target that is not a callee role and a bad confirm key', () => {
    const p = problemsOf({
      policy: { ladder: [{ targets: ['ceo'], afterSeconds: 0 }], confirmKey: '12' },
      sites: [site],
    });
    expect(p.map((x) => x.path).sort()).toEqual(['policy.confirmKey', 'policy.ladder[0].targets']);
  });

  it('should require voice.sip when the provider is sip', () => {
    expect(problemsOf({ voice: { provider: 'sip' }, sites: [site] })).toEqual([
      { path: 'voice.sip', reason: 'required when the provider is sip' },
    ]);
  });

  it('should refuse a hazard source of another site and scripted outcomes that do not exist', () => {
    const p = problemsOf({
      voice: { fake: { byNumber: { '+861': ['MAYBE'] } } },
      sites: [{ ...site, sources: [{ sourceId: 'ngp-vcm', responsible: {} }] }],
    });
    expect(p.map((x) => x.path)).toEqual(['sites[0].sources[0].sourceId', 'voice.fake.byNumber.+861']);
  });

  it('should schedule duty checks per jurisdiction, a site schedule and the longest path winning', () => {
    const nangang = { ...site, siteId: 'nangang-petro' };
    const wuqing = { ...site, siteId: 'wuqing-fine', dutyCheck: { cron: '5 5 * * *' } };
    const c = loadCallouts(
      withFile({
        dutyCheck: { cron: '0 9 * * *' },
        jurisdictionDutyChecks: [
          { jurisdiction: 'tianjin', cron: '0 1 * * *' },
          { jurisdiction: 'tianjin/binhai', cron: '0 2 * * *' },
        ],
        sites: [site, nangang, wuqing],
      }),
      plant,
      true,
    );
    expect(c!.dutyChecks.get('bohai-chem')?.cron).toBe('0 2 * * *');
    expect(c!.dutyChecks.get('nangang-petro')?.cron).toBe('0 2 * * *');
    expect(c!.dutyChecks.get('wuqing-fine')?.cron).toBe('5 5 * * *');
  });

  it('should refuse a jurisdiction schedule with a bad cron, a duplicate path or no enterprise under it', () => {
    expect(
      problemsOf({
        jurisdictionDutyChecks: [
          { jurisdiction: 'tianjin/binhai', cron: 'every night' },
          { jurisdiction: 'tianjin/binhai' },
          { jurisdiction: 'hebei/cangzhou' },
        ],
        sites: [site],
      }),
    ).toEqual([
      { path: 'jurisdictionDutyChecks[0].cron', reason: expect.any(String) },
      { path: 'jurisdictionDutyChecks[1].jurisdiction', reason: "duplicate jurisdiction 'tianjin/binhai'" },
      {
        path: 'jurisdictionDutyChecks[2].jurisdiction',
        reason: "no enterprise of sites[] lies under 'hebei/cangzhou' (plant.yaml jurisdictions)",
      },
    ]);
  });
});
