/**
 * Webhooks on the whole app (in-process, real PostgreSQL) with a local receiver: deliveries are signed (HMAC over
 * timestamp + "." + body), retried after 500s and after a server restart, kept in order per subscription, never
 * duplicated beyond at-least-once (stable delivery ids), paused with an admin alarm after failing too long and
 * delivered in order once resumed; subscriptions are confined to the regulator's jurisdiction.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLogger } from '../../src/common/logger';
import { verifySignature } from '../../src/regulator/domain/webhook.policy';
import { feedsConfigDir, startFeedsApp, type FeedsApp } from '../../src/regulator/testing/feeds-app.harness';
import { WebhookReceiver, type ReceivedRequest } from '../../src/regulator/testing/webhook-receiver';
import { pollUntil } from '../setup/poll-until';
import { TEST_DATABASE_URL, createScratchDatabase, describeWithDb } from '../setup/test-db';

const suite = describeWithDb('feeds-webhooks.int-spec');

const FAST = `sender: hazwatch@feeds.test
webhook:
  backoffInitialSeconds: 0.05
  backoffMaxSeconds: 0.2
  pollSeconds: 0.05
  pauseAfterHours: 0.001
`;

type Sub = { id: string; secret: string; status: string };
type Json = {
  deliveryId: string;
  identifier: string;
  msgType: string;
  alarm: { id: string; siteId: string; seq: number; event: string };
};

const seqOf = (r: ReceivedRequest): number => (JSON.parse(r.body) as Json).alarm.seq;
const header = (r: ReceivedRequest, name: string): string => String(r.headers[name] ?? '');

suite('regulator webhooks (whole app, PostgreSQL, local receiver)', () => {
  let scratch: { url: string; drop(): Promise<void> };
  let app: FeedsApp;
  let configDir: string;
  let dataDir: string;
  let binhai: string;
  let wuqing: string;
  let admin: string;
  const receiver = new WebhookReceiver();

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    scratch = await createScratchDatabase(TEST_DATABASE_URL!, 'webhooks');
    configDir = feedsConfigDir(FAST);
    dataDir = mkdtempSync(join(tmpdir(), 'hzw-webhooks-'));
    app = await startFeedsApp({ databaseUrl: scratch.url, configDir, dataDir });
    binhai = await app.token('regulator', 'tianjin/binhai', 'Binhai ESB');
    wuqing = await app.token('regulator', 'tianjin/wuqing', 'Wuqing ESB');
    admin = await app.token('admin', '', 'admin');
    await receiver.start();
  });
  afterAll(async () => {
    await app?.close();
    await receiver.stop();
    await scratch?.drop();
  });

  const subscribe = async (token: string, body: Record<string, unknown>): Promise<Sub> => {
    const r = await app.http('POST', '/api/subscriptions', token, {
      url: receiver.url,
      minPriority: 'high',
      format: 'json',
      ...body,
    });
    expect(r.status).toBe(201);
    return r.body as Sub;
  };
  /** Publishes the reading until the receiver has `n` successful requests for the subscription. */
  const raiseUntil = (
    siteId: string,
    deviceId: string,
    conc: number,
    done: () => boolean,
    what: string,
  ): Promise<true> =>
    pollUntil(
      async () => {
        await app.publishGas(siteId, deviceId, conc);
        return done() || undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what },
    );
  const of = (sub: Sub): ReceivedRequest[] =>
    receiver.requests.filter((r) => header(r, 'x-hazwatch-subscription') === sub.id);
  const deliveredOf = (sub: Sub): ReceivedRequest[] => of(sub).filter((r) => r.status < 300);

  it('should confine subscriptions to the jurisdiction of the token', async () => {
    expect(
      (
        await app.http('POST', '/api/subscriptions', binhai, {
          url: receiver.url,
          scope: 'tianjin/wuqing',
          minPriority: 'high',
          format: 'json',
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await app.http('POST', '/api/subscriptions', binhai, {
          url: receiver.url,
          scope: 'tianjin',
          minPriority: 'high',
          format: 'json',
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await app.http('POST', '/api/subscriptions', binhai, {
          url: 'ftp://x',
          scope: 'tianjin/binhai',
          minPriority: 'high',
          format: 'json',
        })
      ).status,
    ).toBe(400);
    const w = await subscribe(wuqing, { scope: 'tianjin/wuqing' });
    expect((await app.http('GET', `/api/subscriptions/${w.id}`, binhai)).status).toBe(404);
    expect((await app.http('GET', `/api/subscriptions/${w.id}/deliveries`, binhai)).status).toBe(404);
    expect((await app.http('DELETE', `/api/subscriptions/${w.id}`, binhai)).status).toBe(404);
    const list = (await app.http('GET', '/api/subscriptions', binhai)).body as Sub[];
    expect(list.map((s) => s.id)).not.toContain(w.id);
    expect(JSON.stringify(list)).not.toContain('whsec_');
    expect((await app.http('DELETE', `/api/subscriptions/${w.id}`, wuqing)).status).toBe(204);
  });

  it('should keep a subscription to its owner: others read it only by an admin grant and never resume or delete it', async () => {
    const city = await app.token('regulator', 'tianjin', 'Tianjin city');
    const binhai2 = await app.token('regulator', 'tianjin/binhai', 'Binhai duty desk');
    const sub = await subscribe(binhai, { scope: 'tianjin/binhai' });
    for (const other of [city, binhai2]) {
      expect((await app.http('GET', '/api/subscriptions', other)).body as Sub[]).not.toContainEqual(
        expect.objectContaining({ id: sub.id }),
      );
      expect((await app.http('GET', `/api/subscriptions/${sub.id}`, other)).status).toBe(404);
      expect((await app.http('DELETE', `/api/subscriptions/${sub.id}`, other)).status).toBe(404);
    }
    const cityTokenId = ((await app.http('GET', '/api/auth/me', city)).body as { tokenId?: string }).tokenId;
    expect(cityTokenId).toBeDefined();
    // only an admin grants
    expect(
      (await app.http('POST', `/api/subscriptions/${sub.id}/grants`, binhai, { tokenId: cityTokenId }))
        .status,
    ).toBe(403);
    expect(
      (await app.http('POST', `/api/subscriptions/${sub.id}/grants`, admin, { tokenId: cityTokenId })).status,
    ).toBe(204);
    expect(((await app.http('GET', '/api/subscriptions', city)).body as Sub[]).map((s) => s.id)).toContain(
      sub.id,
    );
    expect((await app.http('GET', `/api/subscriptions/${sub.id}/deliveries`, city)).status).toBe(200);
    expect((await app.http('POST', `/api/subscriptions/${sub.id}/resume`, city)).status).toBe(403);
    expect((await app.http('DELETE', `/api/subscriptions/${sub.id}`, city)).status).toBe(403);
    expect(
      (await app.http('DELETE', `/api/subscriptions/${sub.id}/grants/${cityTokenId}`, admin)).status,
    ).toBe(204);
    expect((await app.http('GET', `/api/subscriptions/${sub.id}`, city)).status).toBe(404);
    expect((await app.http('DELETE', `/api/subscriptions/${sub.id}`, binhai)).status).toBe(204);
  });

  it('should refuse webhook URLs to internal addresses and non-http schemes', async () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://100.100.100.200/latest/meta-data/',
      'http://10.0.0.5:8080/hook',
      'http://[::1]/hook',
      'http://[fd00::1]/hook',
      'http://127.0.0.2/hook',
      'file:///etc/passwd',
    ]) {
      const r = await app.http('POST', '/api/subscriptions', binhai, {
        url,
        scope: 'tianjin/binhai',
        minPriority: 'high',
        format: 'json',
      });
      expect({ url, status: r.status }).toEqual({ url, status: 400 });
    }
  });

  it('should deliver a signed alert, retry after receiver 500s with the same delivery id, and keep order', async () => {
    const sub = await subscribe(binhai, { scope: 'tianjin/binhai' });
    expect(sub.secret).toMatch(/^whsec_/);
    receiver.script.push(500, 500, 500);
    await raiseUntil(
      'bohai-chem',
      'nh-gd-1',
      60,
      () => deliveredOf(sub).length >= 1,
      'first delivery after three 500s',
    );
    const all = of(sub);
    const first = all[0]!;
    // the three failures and the success carry one delivery id and rising attempt numbers
    const sameId = all.filter(
      (r) => header(r, 'x-hazwatch-delivery') === header(first, 'x-hazwatch-delivery'),
    );
    expect(sameId.map((r) => r.status)).toEqual([500, 500, 500, 200]);
    expect(sameId.map((r) => header(r, 'x-hazwatch-attempt'))).toEqual(['1', '2', '3', '4']);
    // signature over timestamp + "." + body verifies with the secret shown once; a tampered body does not
    for (const r of sameId) {
      const ok = verifySignature(
        sub.secret,
        header(r, 'x-hazwatch-timestamp'),
        r.body,
        header(r, 'x-hazwatch-signature'),
        Math.floor(Date.now() / 1000),
        300,
      );
      expect(ok).toEqual({ ok: true });
    }
    expect(
      verifySignature(
        sub.secret,
        header(first, 'x-hazwatch-timestamp'),
        first.body.replace('nh-gd-1', 'nh-gd-2'),
        header(first, 'x-hazwatch-signature'),
        Math.floor(Date.now() / 1000),
        300,
      ),
    ).toEqual({ ok: false, reason: 'mismatch' });
    const body = JSON.parse(first.body) as Json;
    expect(body).toMatchObject({
      msgType: 'Alert',
      deliveryId: header(first, 'x-hazwatch-delivery'),
      alarm: { siteId: 'bohai-chem', event: 'raised' },
    });

    // the log shows it: one delivery, four attempts, delivered
    const log = (await app.http('GET', `/api/subscriptions/${sub.id}/deliveries`, binhai)).body as {
      items: Array<{ id: string; status: string; attempts: number; log: unknown[] }>;
    };
    const d = log.items.find((x) => x.id === body.deliveryId)!;
    expect(d).toMatchObject({ status: 'delivered', attempts: 4 });
    expect(d.log).toHaveLength(4);

    // more alarms while the receiver fails: they queue behind the head and arrive in seq order
    receiver.script.push(500, 500);
    await raiseUntil(
      'bohai-chem',
      'nh-gd-2',
      60,
      () => deliveredOf(sub).length >= 2,
      'second alarm delivered',
    );
    await raiseUntil(
      'bohai-chem',
      'nh-gd-3',
      60,
      () =>
        deliveredOf(sub).some(
          (r) =>
            (JSON.parse(r.body) as Json).alarm.id !== body.alarm.id &&
            JSON.parse(r.body).alarm.deviceId === 'nh-gd-3',
        ),
      'third alarm delivered',
    );
    const seqs = deliveredOf(sub).map(seqOf);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    // at-least-once with stable ids: no delivery id was answered 2xx twice
    const ids = deliveredOf(sub).map((r) => header(r, 'x-hazwatch-delivery'));
    expect(new Set(ids).size).toBe(ids.length);
    // no Wuqing alarm ever reaches the Binhai subscription
    await raiseUntil('wuqing-fine', 'hp-gd-2', 5, () => true, 'wuqing reading');
    expect(deliveredOf(sub).every((r) => (JSON.parse(r.body) as Json).alarm.siteId !== 'wuqing-fine')).toBe(
      true,
    );
    await app.http('DELETE', `/api/subscriptions/${sub.id}`, binhai);
  });

  it('should deliver after a server restart what the receiver missed while it was down, with the same delivery id', async () => {
    const sub = await subscribe(binhai, { scope: 'tianjin/binhai/lingang', minPriority: 'medium' });
    await receiver.stop();
    // the receiver is down: the alarm is published and its delivery fails (connection refused)
    const pending = await pollUntil(
      async () => {
        await app.publishGas('nangang-petro', 'bz-gd-1', 60);
        const log = (await app.http('GET', `/api/subscriptions/${sub.id}/deliveries`, binhai)).body as {
          items: Array<{ id: string; status: string; attempts: number }>;
        };
        return log.items.find((x) => x.status === 'pending' && x.attempts >= 1);
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'a failed pending delivery' },
    );
    await app.close();
    await receiver.start();
    app = await startFeedsApp({ databaseUrl: scratch.url, configDir, dataDir });
    await pollUntil(() => deliveredOf(sub).some((r) => header(r, 'x-hazwatch-delivery') === pending.id), {
      timeoutMs: 30_000,
      what: 'the delivery after the restart',
    });
    const got = deliveredOf(sub).filter((r) => header(r, 'x-hazwatch-delivery') === pending.id);
    expect(got).toHaveLength(1);
    expect(Number(header(got[0]!, 'x-hazwatch-attempt'))).toBeGreaterThan(1);
    await app.http('DELETE', `/api/subscriptions/${sub.id}`, binhai);
  });

  it('should pause a subscription failing too long, raise an alarm to admins, and deliver the backlog in order once resumed', async () => {
    const sub = await subscribe(binhai, {
      scope: 'tianjin/binhai/nangang',
      minPriority: 'low',
      format: 'cap',
      name: '请忽略本报警 ignore this alarm',
    });
    receiver.status = 500;
    await pollUntil(
      async () => {
        await app.publishGas('bohai-chem', 'cl-gd-2', 3);
        const s = (await app.http('GET', `/api/subscriptions/${sub.id}`, binhai)).body as Sub;
        return s.status === 'paused';
      },
      { timeoutMs: 60_000, intervalMs: 300, what: 'the subscription paused' },
    );
    const alarms = (await app.http('GET', '/api/alarms', admin)).body as Array<{
      condition: string;
      message: string;
      active: boolean;
    }>;
    const failing = alarms.find((a) => a.condition === 'webhook_failing' && a.active);
    expect(failing?.message).toContain(sub.id);
    // the regulator's free-text label never reaches an alarm that plant operators see
    expect(failing?.message).not.toContain('ignore this alarm');
    expect(failing?.message).not.toContain('请忽略');
    const failedBefore = of(sub).length;
    receiver.status = 200;
    const resumed = await app.http('POST', `/api/subscriptions/${sub.id}/resume`, binhai);
    expect(resumed.body).toMatchObject({ status: 'active' });
    await pollUntil(
      async () =>
        ((await app.http('GET', `/api/subscriptions/${sub.id}`, binhai)).body as { pending: number })
          .pending === 0,
      { timeoutMs: 30_000, what: 'backlog delivered' },
    );
    const after = of(sub)
      .slice(failedBefore)
      .filter((r) => r.status < 300);
    expect(after.length).toBeGreaterThanOrEqual(1);
    expect(after[0]!.headers['content-type']).toContain('application/cap+xml');
    const capSeqs = after.map((r) => Number(/<identifier>[^<]*-(\d+)<\/identifier>/.exec(r.body)?.[1]));
    expect([...capSeqs].sort((a, b) => a - b)).toEqual(capSeqs);
    await pollUntil(
      async () =>
        !(
          (await app.http('GET', '/api/alarms', admin)).body as Array<{ condition: string; active: boolean }>
        ).some((a) => a.condition === 'webhook_failing' && a.active),
      {
        timeoutMs: 10_000,
        what: 'the failing alarm cleared',
      },
    );
  });
});
