/**
 * The HTTP edge against hostile bodies (docs/threat-model.md, "Request bodies"), on the real built server: deeply
 * nested JSON, NUL characters, unsafe integers and oversized bodies are refused with a clean 400/413 and the usual
 * error shape — also without a token — and leave no stack trace in the log.
 */
import { pollUntil } from '../setup/poll-until';
import { startServer, type ServerProcess } from '../setup/server-process';

type ErrorBody = { statusCode: number; error: string; message: unknown };

describe('HTTP edge: request bodies (real server)', () => {
  let server: ServerProcess;
  let op = '';

  beforeAll(async () => {
    server = await startServer({ env: { SIMULATE: 'false' } });
    op = server.tokens().operator as string;
  });

  afterAll(async () => {
    await server?.stop();
  });

  const post = async (
    path: string,
    body: string | Buffer,
    token?: string,
    type = 'application/json',
  ): Promise<{ status: number; body: ErrorBody }> => {
    const headers: Record<string, string> = { 'content-type': type };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${server.url}${path}`, { method: 'POST', headers, body });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) as ErrorBody };
  };

  const expectShape = (b: ErrorBody, status: number): void => {
    expect(b).toEqual({ statusCode: status, error: expect.any(String), message: expect.anything() });
  };

  it('should refuse 100 KB of nested arrays with 400 before parsing (with a valid token)', async () => {
    const nested = `{"comment":${'['.repeat(50_000)}${']'.repeat(50_000)}}`;
    const big = await post('/api/alarms/al-0000000000000000000000/ack', nested, op);
    expect(big.status).toBe(413); // a command body is 16 KiB at most
    expectShape(big.body, 413);
    // under the size limit, the depth pre-scan refuses it
    const small = `{"comment":${'['.repeat(4_000)}${']'.repeat(4_000)}}`;
    const r = await post('/api/alarms/al-0000000000000000000000/ack', small, op);
    expect(r.status).toBe(400);
    expectShape(r.body, 400);
    expect(String(r.body.message)).toMatch(/nested deeper than 32/);
  });

  it('should refuse a NUL character with 400 (in the body and in the URL)', async () => {
    const r = await post('/api/alarms/al-0000000000000000000000/ack', '{"comment":"a\\u0000b"}', op);
    expect(r.status).toBe(400);
    expectShape(r.body, 400);
    const q = await fetch(`${server.url}/api/telemetry?device=bohai-chem/nh-gd-1%00&channel=conc`, {
      headers: { authorization: `Bearer ${op}` },
    });
    expect(q.status).toBe(400);
    expectShape((await q.json()) as ErrorBody, 400);
  });

  it('should refuse an integer beyond the safe range with 400', async () => {
    const r = await post(
      '/api/alarms/al-0000000000000000000000/shelve',
      '{"minutes":99999999999999999999999,"reason":"x"}',
      op,
    );
    expect(r.status).toBe(400);
    expectShape(r.body, 400);
    expect(String(r.body.message)).toMatch(/safe integer range/);
  });

  it('should refuse an oversized body with 413, even without a token', async () => {
    const big = JSON.stringify({ comment: 'x'.repeat(200 * 1024) });
    const anon = await post('/api/alarms/al-0000000000000000000000/ack', big);
    expect(anon.status).toBe(413);
    expectShape(anon.body, 413);
    const withToken = await post('/api/alarms/al-0000000000000000000000/ack', big, op);
    expect(withToken.status).toBe(413);
    // commands are small: 20 KiB is already too much for an ack
    const medium = await post(
      '/api/alarms/al-0000000000000000000000/ack',
      JSON.stringify({ comment: 'x'.repeat(20 * 1024) }),
      op,
    );
    expect(medium.status).toBe(413);
  });

  it('should refuse malformed JSON with 400 and leave no stack trace or 500 in the log', async () => {
    const r = await post('/api/alarms/al-0000000000000000000000/ack', '{"comment": ', op);
    expect(r.status).toBe(400);
    expectShape(r.body, 400);
    const log = server.output();
    expect(log).not.toMatch(/"stack"/);
    expect(log).not.toMatch(/unhandled error/);
  });
});

describe('HTTP edge: request ids (real server)', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServer({ env: { SIMULATE: 'false' } });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("should echo the client's X-Request-Id and put it on the log lines of that request", async () => {
    const res = await fetch(`${server.url}/api/auth/me`, {
      headers: {
        authorization: 'Bearer hzw_000000000000_invalidinvalidinvalidinvalid',
        'x-request-id': 'edge-req-1',
      },
    });
    await res.arrayBuffer();
    expect(res.status).toBe(401);
    expect(res.headers.get('x-request-id')).toBe('edge-req-1');
    // the guard's warning, logged deep inside Nest after the body middleware, carries the request's id
    // (the server's stdout reaches this process after the response may have: wait for the line, don't race it)
    const line = await pollUntil(
      () =>
        server
          .output()
          .split('\n')
          .find((l) => l.includes('"cid":"edge-req-1"')),
      { timeoutMs: 10_000, what: "the auth warning's log line with the request id" },
    );
    expect(line).toBeDefined();
    expect(JSON.parse(line)).toMatchObject({ level: 'warn', context: 'auth', cid: 'edge-req-1' });
  });

  it('should give a request without X-Request-Id a fresh UUID', async () => {
    const a = await fetch(`${server.url}/health/live`);
    const b = await fetch(`${server.url}/health/live`);
    await Promise.all([a.arrayBuffer(), b.arrayBuffer()]);
    expect(a.headers.get('x-request-id')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    expect(b.headers.get('x-request-id')).not.toBe(a.headers.get('x-request-id'));
  });
});

describe('HTTP edge: behind a reverse proxy (TRUST_PROXY=1, real server)', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServer({ env: { SIMULATE: 'false', TRUST_PROXY: '1' } });
  });

  afterAll(async () => {
    await server?.stop();
  });

  const attempt = async (clientIp: string): Promise<number> => {
    const res = await fetch(`${server.url}/api/auth/me`, {
      headers: {
        authorization: 'Bearer hzw_000000000000_invalidinvalidinvalidinvalid',
        'x-forwarded-for': clientIp,
      },
    });
    await res.arrayBuffer();
    return res.status;
  };

  it('should limit failed logins per client address from X-Forwarded-For, not per proxy', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push(await attempt('203.0.113.7'));
    expect(statuses.at(-1)).toBe(429); // that client is blocked…
    expect(await attempt('198.51.100.20')).toBe(401); // …another behind the same proxy is not
    expect(server.output()).toMatch(
      /"client blocked after repeated authentication failures","ip":"203\.0\.113\.7"/,
    );
  });
});
