/**
 * The authorisation matrix, generated from the OpenAPI document (GET /api/docs/json) so that a new route cannot escape
 * it: every route × method × principal — no token, malformed token, revoked token, each role, a jurisdiction-scoped
 * regulator with ids of another jurisdiction — on the real built server (docs/threat-model.md, "Roles").
 * A route must declare who may call it (@Requires/@Roles → a documented 403) unless it is listed as public or as
 * "any authenticated principal" below.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { runTokenCli } from '../../src/auth/token.cli';
import { telemetryTopic } from '../../src/ingest/domain/telemetry-contract';
import { pollUntil } from '../setup/poll-until';
import { startServer, type ServerProcess } from '../setup/server-process';
import { WsTestClient } from './ws-test-client';

type Operation = { responses?: Record<string, { description?: string }> };
type OpenApi = { paths: Record<string, Record<string, Operation>> };
type Role = 'operator' | 'supervisor' | 'regulator' | 'admin';
const ROLES: readonly Role[] = ['operator', 'supervisor', 'regulator', 'admin'];
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Reachable without a token (health, metrics, console page, API docs, the anchor public key). */
const PUBLIC = new Set([
  'GET /health/live',
  'GET /health/ready',
  'GET /metrics',
  'GET /',
  'GET /api/journal/anchor-key',
]);
/** Any authenticated principal, whatever its role. */
const ANY_ROLE = new Set(['GET /api/auth/me']);

describe('authorisation matrix from the OpenAPI document (real server)', () => {
  let server: ServerProcess;
  let doc: OpenApi;
  const tokens: Record<Role | 'revoked' | 'binhaiRegulator', string> = {} as never;
  let wuqingAlarmId = '';
  let mqtt: MqttClient;
  let dbUrl = '';

  let client = 0;
  /** Each request from its own client address behind the (trusted) loopback proxy, so the failure limiter stays out of it. */
  const call = async (
    method: string,
    path: string,
    token?: string,
  ): Promise<{ status: number; text: string }> => {
    client += 1;
    const headers: Record<string, string> = {
      'x-forwarded-for': `198.18.${(client >> 8) & 255}.${client & 255}`,
    };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (method !== 'GET') headers['content-type'] = 'application/json';
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers,
      ...(method !== 'GET' ? { body: '{}' } : {}),
    });
    return { status: res.status, text: await res.text() };
  };

  const cli = async (args: string[], databaseUrl: string): Promise<string> => {
    let out = '';
    const code = await runTokenCli(
      args,
      { DATABASE_URL: databaseUrl },
      { out: (s) => (out += s), err: (s) => (out += s) },
    );
    if (code !== 0) throw new Error(`token CLI ${args.join(' ')} failed: ${out}`);
    return out;
  };

  beforeAll(async () => {
    server = await startServer({ env: { SIMULATE: 'false', TRUST_PROXY: 'loopback' } });
    const demo = server.tokens();
    const rawUrl = /"token CLI database","databaseUrl":"([^"]+)"/.exec(server.output())?.[1];
    if (!rawUrl) throw new Error('server did not log the token CLI database');
    const password = readFileSync(join(server.dataDir, 'pg.password'), 'utf8').trim();
    dbUrl = rawUrl.replace(/\$\(cat [^)]+\)/, encodeURIComponent(password));
    const create = async (role: Role, scope: string): Promise<string> => {
      const out = await cli(
        ['create', '--role', role, '--scope', scope, '--name', `matrix ${role} ${scope || 'all'}`],
        dbUrl,
      );
      const token = /(hzw_[A-Za-z0-9_-]+)/.exec(out)?.[1];
      if (!token) throw new Error(`no token in: ${out}`);
      return token;
    };
    tokens.operator = await create('operator', '');
    tokens.supervisor = await create('supervisor', '');
    tokens.regulator = await create('regulator', 'tianjin');
    tokens.admin = await create('admin', '');
    tokens.binhaiRegulator = demo.regulator ?? (await create('regulator', 'tianjin/binhai'));
    tokens.revoked = await create('operator', '');
    await cli(['revoke', tokens.revoked.split('_')[1]!], dbUrl);
    doc = (await (await fetch(`${server.url}/api/docs/json`)).json()) as OpenApi;

    // a Wuqing alarm: the out-of-scope id for a Binhai regulator
    mqtt = await connectAsync(server.mqttUrl() as string, {
      ...server.mqttAuth(),
      clientId: 'matrix-e2e',
      clean: true,
    });
    wuqingAlarmId = await pollUntil(
      async () => {
        await mqtt.publishAsync(
          telemetryTopic('wuqing-fine', 'hp-gd-1'),
          JSON.stringify({ ts: Date.now(), values: { conc: 5, fault: false } }),
          { qos: 1 },
        );
        const list = JSON.parse(
          (await call('GET', '/api/alarms?site=wuqing-fine', tokens.admin)).text,
        ) as Array<{ id: string }>;
        return list[0]?.id;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'a Wuqing alarm' },
    );
  });

  afterAll(async () => {
    await mqtt?.endAsync();
    await server?.stop();
  });

  /** Concrete paths for a documented one: ids from the other jurisdiction where the route names one. */
  const concrete = (path: string): string =>
    path
      .replace(/^\/api\/sites\/\{id\}/, '/api/sites/wuqing-fine')
      .replace(/^\/api\/alarms\/\{id\}/, `/api/alarms/${wuqingAlarmId}`)
      .replace(/\{[^}]+\}/g, 'matrix-nonexistent');

  const operations = (): Array<{
    key: string;
    method: string;
    path: string;
    allowed: readonly Role[] | 'public' | 'any';
  }> => {
    const ops = [];
    for (const [path, item] of Object.entries(doc.paths))
      for (const m of METHODS) {
        const op = item[m];
        if (!op) continue;
        const method = m.toUpperCase();
        const key = `${method} ${path}`;
        const forbidden = op.responses?.['403']?.description;
        const allowed: readonly Role[] | 'public' | 'any' = PUBLIC.has(key)
          ? 'public'
          : ANY_ROLE.has(key)
            ? 'any'
            : ROLES.filter((r) => r === 'admin' || new RegExp(`\\b${r}\\b`).test(forbidden ?? ''));
        ops.push({ key, method, path, allowed });
      }
    return ops;
  };

  it('should document who may call every route (a documented 403 with its roles) unless public', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThan(30);
    const undeclared = ops.filter(
      (o) =>
        o.allowed !== 'public' &&
        o.allowed !== 'any' &&
        !doc.paths[o.path]?.[o.method.toLowerCase() as 'get']?.responses?.['403'],
    );
    expect(undeclared.map((o) => o.key)).toEqual([]);
  });

  it('should answer 401 to no token, a malformed token and a revoked token on every non-public route', async () => {
    const wrong: string[] = [];
    for (const o of operations()) {
      if (o.allowed === 'public') continue;
      const path = concrete(o.path);
      for (const [label, token] of [
        ['none', undefined],
        ['malformed', 'not-a-token'],
        ['revoked', tokens.revoked],
      ] as const) {
        const r = await call(o.method, path, token);
        if (r.status !== 401) wrong.push(`${o.key} with ${label} token → ${r.status}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('should refuse (403) exactly the roles a route does not allow, and never fail (5xx) for any role', async () => {
    const wrong: string[] = [];
    for (const o of operations()) {
      if (o.allowed === 'public') continue;
      const path = concrete(o.path);
      for (const role of ROLES) {
        const r = await call(o.method, path, tokens[role]);
        const mayCall = o.allowed === 'any' || o.allowed.includes(role);
        if (r.status >= 500) wrong.push(`${o.key} as ${role} → ${r.status}`);
        else if (!mayCall && r.status !== 403) wrong.push(`${o.key} as ${role} → ${r.status}, expected 403`);
        else if (mayCall && (r.status === 401 || (r.status === 403 && !/jurisdiction|scope/i.test(r.text))))
          wrong.push(`${o.key} as ${role} → ${r.status}: ${r.text.slice(0, 120)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('should show a Binhai regulator nothing of Wuqing: ids of another jurisdiction are not found, lists and counts stay in scope', async () => {
    const wrong: string[] = [];
    for (const o of operations()) {
      if (o.allowed === 'public' || o.method !== 'GET') continue;
      const path = concrete(o.path);
      const r = await call('GET', path, tokens.binhaiRegulator);
      if (r.status >= 500) wrong.push(`${o.key} → ${r.status}`);
      if (path !== o.path && /wuqing|al-/.test(path) && r.status !== 404 && r.status !== 403)
        wrong.push(`${o.key} (${path}) → ${r.status}, expected 404`);
      if (r.status === 200 && /wuqing/i.test(r.text)) wrong.push(`${o.key} mentions wuqing`);
    }
    expect(wrong).toEqual([]);
    // a count over every site (alarm writes pending for all jurisdictions) is not given to a scoped principal
    const status = JSON.parse(
      (await call('GET', '/api/alarms/status', tokens.binhaiRegulator)).text,
    ) as Record<string, unknown>;
    expect(status).not.toHaveProperty('pendingWrites');
    const adminStatus = JSON.parse((await call('GET', '/api/alarms/status', tokens.admin)).text) as Record<
      string,
      unknown
    >;
    expect(adminStatus).toHaveProperty('pendingWrites');
  });
  it('should put a signed journal anchor into the regulator CAP message, which verifies against the journal', async () => {
    const key = JSON.parse((await call('GET', '/api/journal/anchor-key')).text) as {
      algorithm: string;
      keyId: string;
    };
    expect(key.algorithm).toBe('Ed25519');
    const line = await pollUntil(
      async () => {
        const atom = (await call('GET', '/feeds/alerts.atom', tokens.admin)).text;
        const capUrl = /href="([^"]+\.cap)"/.exec(atom)?.[1];
        if (!capUrl) return undefined;
        const cap = await (
          await fetch(capUrl, { headers: { authorization: `Bearer ${tokens.admin}` } })
        ).text();
        return /<valueName>hazwatch:journalAnchor<\/valueName>\s*<value>([^<]+)<\/value>/.exec(cap)?.[1];
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'a CAP message with a journal anchor' },
    );
    expect(line.split(' ')[3]).toBe(key.keyId);
    const res = await fetch(`${server.url}/api/journal/verify`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tokens.binhaiRegulator}`,
        'content-type': 'application/json',
        'x-forwarded-for': '198.19.0.1',
      },
      body: JSON.stringify({ anchors: [line] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      ok: true,
      anchors: { source: 'supplied', matched: 1, divergences: 0, badSignature: 0 },
    });
  });
  it('should close the /ws session and refuse HTTP on a CLI revocation, pushed by the database notification', async () => {
    const out = await cli(
      ['create', '--role', 'operator', '--scope', '', '--name', 'matrix ws revoke'],
      dbUrl,
    );
    const token = /(hzw_[A-Za-z0-9_-]+)/.exec(out)![1]!;
    const id = token.split('_')[1]!;
    const ws = await WsTestClient.connect(`${server.url.replace(/^http/, 'ws')}/ws`, {
      authorization: `Bearer ${token}`,
    });
    await ws.waitFor('hello');
    expect((await call('GET', '/api/auth/me', token)).status).toBe(200); // now cached by the server
    await cli(['revoke', id], dbUrl);
    // The waits below end long before the fallbacks could act (cached HTTP tokens are re-read after 30 s, /ws sessions
    // re-checked every 60 s), so passing them means the revocation was pushed (LISTEN/NOTIFY), which the log confirms.
    // How fast that path is belongs in the benchmark, not in a wall-clock assertion here.
    expect(await ws.waitClosed(15_000)).toEqual({
      code: 4401,
      reason: expect.stringMatching(/token revoked/),
    });
    await pollUntil(async () => (await call('GET', '/api/auth/me', token)).status === 401, {
      timeoutMs: 15_000,
      what: 'HTTP refusing the revoked token',
    });
    expect(server.output()).toContain(`"api token revoked (notified): closing its sessions","id":"${id}"`);
  });
});
