/**
 * The cn-national CAP profile on the whole app and PostgreSQL (docs/cap-profile.md, "National profile"): a gas alarm
 * becomes an OASIS document and its GB/T 35965.1 twin (identifier, unit code, references of the incident), both
 * valid CAP 1.2; the Atom feed links either profile and names the enterprise and jurisdiction; a webhook subscription
 * with profile cn-national receives the twin; bad or unconfigured profile requests are refused clearly.
 */
import { JsonLogger } from '../../src/common/logger';
import { validateCap } from '../../src/regulator/testing/cap-schema.validator';
import { feedsConfigDir, startFeedsApp, type FeedsApp } from '../../src/regulator/testing/feeds-app.harness';
import { WebhookReceiver } from '../../src/regulator/testing/webhook-receiver';
import { pollUntil } from '../setup/poll-until';
import { TEST_DATABASE_URL, createScratchDatabase, describeWithDb } from '../setup/test-db';

const suite = describeWithDb('feeds-national.int-spec');
const NATIONAL_ID = /^12011633100000_\d{14}_\d$/;

suite('cn-national CAP profile (whole app, PostgreSQL)', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let app: FeedsApp;
  const receiver = new WebhookReceiver();
  let binhai: string;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    scratch = await createScratchDatabase(TEST_DATABASE_URL!, 'feedsnat');
    await receiver.start();
    app = await startFeedsApp({
      databaseUrl: scratch.url,
      configDir: feedsConfigDir(
        'sender: hazwatch@national.test\ncapStatus: Test\nwebhook: { backoffInitialSeconds: 0.05, pollSeconds: 0.05 }\n' +
          'nationalProfile: { industryCode: "331", eventTypeCode: "11C01" }\n',
      ),
    });
    binhai = await app.token('regulator', 'tianjin/binhai', 'Binhai ESB');
  });
  afterAll(async () => {
    await app?.close();
    await receiver.stop();
    await scratch?.drop();
  });

  const links = (atom: string): string[] =>
    [...atom.matchAll(/href="[^"]*\/feeds\/alerts\/([^"]+)\.cap"/g)].map((m) =>
      decodeURIComponent(m[1] as string),
    );

  it('should publish each message in both profiles, valid CAP 1.2, and deliver the national one to its subscriber', async () => {
    const sub = await app.http('POST', '/api/subscriptions', binhai, {
      url: receiver.url,
      scope: 'tianjin/binhai',
      minPriority: 'high',
      format: 'cap',
      profile: 'cn-national',
    });
    expect(sub.status).toBe(201);
    expect(sub.body).toMatchObject({ profile: 'cn-national' });

    const nationalId = await pollUntil(
      async () => {
        await app.publishGas('bohai-chem', 'cl-gd-1', 3);
        const r = await app.http('GET', '/feeds/alerts.atom?profile=cn-national', binhai);
        expect(r.status).toBe(200);
        return links(r.text).find((id) => NATIONAL_ID.test(id));
      },
      { timeoutMs: 30_000, intervalMs: 300, what: 'a national-profile entry in the Atom feed' },
    );
    const atom = (await app.http('GET', '/feeds/alerts.atom?profile=cn-national', binhai)).text;
    // names, not slugs
    expect(atom).toContain('天津市滨海新区临港经济区 天津渤海化工有限公司');
    expect(atom).not.toMatch(/<summary>[^<]*bohai-chem\/bhc-cl2/);

    const nat = await app.http('GET', `/feeds/alerts/${nationalId}.cap`, binhai);
    expect(nat.status).toBe(200);
    expect(nat.text).toContain(`<identifier>${nationalId}</identifier>`);
    expect(nat.text).toContain('<sender>12011633100000</sender>');
    expect(nat.text).toContain('<code>GB/T 35965.1-2018</code>');
    expect(nat.text).toMatch(/<valueName>GB\/T 35965\.1-2018 eventType<\/valueName>\s*<value>11C01<\/value>/);
    expect(nat.text).not.toContain('<language>en-US</language>');
    expect(nat.text).not.toMatch(/预警|特别严重/);
    expect(await validateCap(nat.text)).toEqual({ valid: true, errors: [] });

    const oasisId = /<valueName>hazwatch:oasisIdentifier<\/valueName>\s*<value>([^<]+)<\/value>/.exec(
      nat.text,
    )?.[1];
    expect(oasisId).toMatch(/^hazwatch-bohai-chem-/);
    const oasis = await app.http('GET', `/feeds/alerts/${oasisId}.cap`, binhai);
    expect(oasis.text).toContain('<sender>hazwatch@national.test</sender>');
    expect(await validateCap(oasis.text)).toEqual({ valid: true, errors: [] });
    // the same message asked for in the national profile by its OASIS identifier
    expect((await app.http('GET', `/feeds/alerts/${oasisId}.cap?profile=cn-national`, binhai)).text).toBe(
      nat.text,
    );

    const delivered = await pollUntil(
      () => receiver.delivered().find((r) => r.body.includes(`<identifier>${nationalId}</identifier>`)),
      { timeoutMs: 20_000, intervalMs: 100, what: 'the national document at the receiver' },
    );
    expect(delivered.headers['content-type']).toContain('application/cap+xml');

    // the incident's Update/Cancel references the national identifier of its Alert
    await app.publishGas('bohai-chem', 'cl-gd-1', 0);
    const update = await pollUntil(
      async () => {
        const ids = links(
          (await app.http('GET', '/feeds/alerts.atom?profile=cn-national&minPriority=low', binhai)).text,
        );
        for (const id of ids.filter((x) => NATIONAL_ID.test(x) && x !== nationalId)) {
          const doc = (await app.http('GET', `/feeds/alerts/${id}.cap`, binhai)).text;
          if (doc.includes(`<incidents>${nationalId}</incidents>`) && doc.includes('<references>'))
            return doc;
        }
        return undefined;
      },
      { timeoutMs: 30_000, intervalMs: 300, what: 'an Update or Cancel of the incident' },
    );
    expect(update).toContain(`<references>12011633100000,${nationalId},`);
    expect(await validateCap(update)).toEqual({ valid: true, errors: [] });
  });

  it('should refuse an unknown profile with 400', async () => {
    expect((await app.http('GET', '/feeds/alerts.atom?profile=gb', binhai)).status).toBe(400);
    const bad = await app.http('POST', '/api/subscriptions', binhai, {
      url: receiver.url,
      scope: 'tianjin/binhai',
      minPriority: 'high',
      format: 'cap',
      profile: 'national',
    });
    expect(bad.status).toBe(400);
  });
});
