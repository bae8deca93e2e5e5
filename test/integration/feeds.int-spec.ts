/**
 * Regulator feeds on the whole app (in-process, real PostgreSQL): a gas alarm raised over MQTT becomes a CAP Alert in
 * the Atom feed of the jurisdictions above the enterprise only, its CAP document validates against the OASIS schema,
 * and a Binhai regulator cannot read a Wuqing enterprise through any feed endpoint.
 */
import { JsonLogger } from '../../src/common/logger';
import { validateCap } from '../../src/regulator/testing/cap-schema.validator';
import { feedsConfigDir, startFeedsApp, type FeedsApp } from '../../src/regulator/testing/feeds-app.harness';
import { pollUntil } from '../setup/poll-until';
import { TEST_DATABASE_URL, createScratchDatabase, describeWithDb } from '../setup/test-db';

const suite = describeWithDb('feeds.int-spec');

suite('regulator feeds: Atom and CAP (whole app, PostgreSQL)', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let app: FeedsApp;
  let binhai: string;
  let wuqing: string;
  let city: string;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    scratch = await createScratchDatabase(TEST_DATABASE_URL!, 'feeds');
    app = await startFeedsApp({
      databaseUrl: scratch.url,
      configDir: feedsConfigDir('sender: hazwatch@feeds.test\ncapStatus: Test\n'),
    });
    binhai = await app.token('regulator', 'tianjin/binhai', 'Binhai ESB');
    wuqing = await app.token('regulator', 'tianjin/wuqing', 'Wuqing ESB');
    city = await app.token('regulator', 'tianjin', 'Tianjin EMB');
  });
  afterAll(async () => {
    await app?.close();
    await scratch?.drop();
  });

  const entries = (atom: string): string[] =>
    [
      ...atom.matchAll(
        /<link rel="alternate" type="application\/cap\+xml" href="[^"]*\/feeds\/alerts\/([^"]+)\.cap"\/>/g,
      ),
    ].map((m) => m[1] as string);
  const atomOf = async (token: string, q = ''): Promise<string> => {
    const r = await app.http('GET', `/feeds/alerts.atom${q}`, token);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('application/atom+xml');
    // scoped to the token: no shared cache may keep it (docs/regulator-workflows.md)
    expect(r.headers.get('cache-control')).toBe('private, no-store');
    return r.text;
  };
  const raise = async (siteId: string, deviceId: string, conc: number, token: string): Promise<string> =>
    pollUntil(
      async () => {
        await app.publishGas(siteId, deviceId, conc);
        return entries(await atomOf(token)).find((id) => id.startsWith(`hazwatch-${siteId}-`));
      },
      { timeoutMs: 30_000, intervalMs: 300, what: `a CAP Alert of ${siteId}` },
    );

  it('should publish a valid CAP Alert to the district and city feeds, and none to another district', async () => {
    const id = await raise('bohai-chem', 'cl-gd-1', 3, binhai);
    expect(entries(await atomOf(city))).toContain(id);
    expect(entries(await atomOf(wuqing))).not.toContain(id);

    const cap = await app.http('GET', `/feeds/alerts/${id}.cap`, binhai);
    expect(cap.status).toBe(200);
    expect(cap.headers.get('content-type')).toContain('application/cap+xml');
    expect(cap.headers.get('cache-control')).toBe('private, no-store');
    expect(cap.text).toContain('<msgType>Alert</msgType>');
    expect(cap.text).toContain('<status>Test</status>');
    expect(cap.text).toContain('<sender>hazwatch@feeds.test</sender>');
    expect(cap.text).toMatch(/<sent>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00<\/sent>/);
    // the chlorine tank farm's toxic-dispersion consequence zone (src/config/substances.ts), not the 500 m ring
    expect(cap.text).toContain('<circle>38.972,117.768 3</circle>');
    expect(cap.text).toContain('<valueName>unifiedSocialCreditCode</valueName>');
    expect(cap.text).toMatch(/<valueName>GB\/T 2260<\/valueName>\s*<value>120116<\/value>/);
    expect(cap.text).toContain('<restriction>仅限天津市滨海新区临港经济区及上级监管部门</restriction>');
    expect(await validateCap(cap.text)).toEqual({ valid: true, errors: [] });

    // a Binhai-scoped document is "not found" for Wuqing (existence not revealed)
    expect((await app.http('GET', `/feeds/alerts/${id}.cap`, wuqing)).status).toBe(404);
    expect(
      (
        await app.http(
          'GET',
          `/feeds/alerts/${id}.cap`,
          'hzw_000000000000_invalidinvalidinvalidinvalidinvalidinvalid123',
        )
      ).status,
    ).toBe(401);
  });

  it('should never show a Wuqing enterprise alert to a Binhai regulator, while Wuqing and the city see it', async () => {
    const id = await raise('wuqing-fine', 'hp-gd-1', 5, wuqing);
    expect(entries(await atomOf(city))).toContain(id);
    expect(entries(await atomOf(binhai)).some((x) => x.startsWith('hazwatch-wuqing-fine-'))).toBe(false);
    expect((await app.http('GET', `/feeds/alerts/${id}.cap`, binhai)).status).toBe(404);
  });

  it('should page the Atom feed newest first with a next link', async () => {
    const all = entries(await atomOf(city, '?limit=500'));
    expect(all.length).toBeGreaterThanOrEqual(2);
    const seqs = all.map((id) => Number(id.split('-').pop()));
    expect([...seqs].sort((a, b) => b - a)).toEqual(seqs);
    const first = await atomOf(city, '?limit=1');
    expect(entries(first)).toEqual([all[0]]);
    const next = /<link rel="next" type="application\/atom\+xml" href="[^"]*(\/feeds\/alerts\.atom\?[^"]+)"/
      .exec(first)?.[1]
      ?.replace(/&amp;/g, '&');
    expect(next).toBeDefined();
    expect(entries(await atomOf(city, next!.replace('/feeds/alerts.atom', '')))).toEqual([all[1]]);
  });

  it('should list only regulator-graded alarms by default and lower priorities on request', async () => {
    // a level-1 chlorine reading on another detector: a medium-priority alarm, in the feed only on request
    await pollUntil(
      async () => {
        await app.publishGas('bohai-chem', 'cl-gd-3', 1.5);
        return /term="medium" label="priority"/.test(await atomOf(city, '?limit=500&minPriority=low'));
      },
      { timeoutMs: 30_000, intervalMs: 300, what: 'a medium-priority message in the minPriority=low feed' },
    );
    const byDefault = await atomOf(city, '?limit=500');
    const priorities = [...byDefault.matchAll(/<category term="(\w+)" label="priority"\/>/g)].map(
      (m) => m[1],
    );
    expect(priorities.length).toBeGreaterThan(0);
    expect(priorities.every((p) => p === 'high' || p === 'critical')).toBe(true);
    const all = await atomOf(city, '?limit=1&minPriority=low');
    expect(all).toMatch(/rel="next"[^>]*minPriority=low/);
    expect((await app.http('GET', '/feeds/alerts.atom?minPriority=urgent', city)).status).toBe(400);
  });
});
