import { withCorrelationId } from './correlation';
import { JsonLogger } from './logger';

/** Captures what the logger writes to stdout and stderr while `fn` runs (JSON format, as under a pipe). */
function capture(fn: () => void): { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const o = jest
    .spyOn(process.stdout, 'write')
    .mockImplementation((c: string | Uint8Array) => out.push(String(c)) > 0);
  const e = jest
    .spyOn(process.stderr, 'write')
    .mockImplementation((c: string | Uint8Array) => err.push(String(c)) > 0);
  try {
    fn();
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  return { out, err };
}

describe('JsonLogger (pino)', () => {
  beforeAll(() => JsonLogger.setFormat('json'));
  beforeEach(() => JsonLogger.setLevel('debug'));
  afterAll(() => JsonLogger.setLevel('error'));

  it('should write one JSON line with level, time, context, msg and then the fields, info to stdout', () => {
    const { out, err } = capture(() =>
      new JsonLogger('ingest').info('embedded MQTT broker listening', { url: 'mqtt://127.0.0.1:1' }),
    );
    expect(err).toEqual([]);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/\n$/);
    const line = JSON.parse(out[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 'info',
      context: 'ingest',
      msg: 'embedded MQTT broker listening',
      url: 'mqtt://127.0.0.1:1',
    });
    expect(new Date(line.time as string).toISOString()).toBe(line.time);
    // log readers (tests, scripts) match `"msg","field"` in this order
    expect(out[0]).toContain('"embedded MQTT broker listening","url":"mqtt://127.0.0.1:1"');
  });

  it('should send warn and error to stderr and nothing of them to stdout', () => {
    const { out, err } = capture(() => {
      new JsonLogger('a').warn('careful');
      new JsonLogger('a').error('broken', 'stack here');
    });
    expect(out).toEqual([]);
    expect(err.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ level: 'warn', msg: 'careful' }),
      expect.objectContaining({ level: 'error', msg: 'broken', trace: 'stack here' }),
    ]);
  });

  it('should drop lines below the level set', () => {
    JsonLogger.setLevel('warn');
    const { out, err } = capture(() => {
      new JsonLogger('a').debug('d');
      new JsonLogger('a').info('i');
      new JsonLogger('a').warn('w');
    });
    expect(out).toEqual([]);
    expect(err).toHaveLength(1);
  });

  it('should never write a token, password or authorization value, at any depth', () => {
    const { out } = capture(() =>
      new JsonLogger('auth').info('login', {
        token: 'hzw_secret1',
        user: { password: 'secret2', name: 'op' },
        headers: { Authorization: 'Bearer secret3' },
        apiKey: 'secret4',
      }),
    );
    const text = out.join('');
    expect(text).not.toMatch(/secret[1-4]/);
    expect(JSON.parse(text)).toMatchObject({
      token: '***',
      user: { password: '***', name: 'op' },
      headers: { Authorization: '***' },
    });
  });

  it('should add the correlation id of the current async context as cid, also after an await', async () => {
    const lines: string[] = [];
    await withCorrelationId('req-42', async () => {
      lines.push(...capture(() => new JsonLogger('http').info('before')).out);
      await new Promise<void>((resolve) => setImmediate(resolve));
      lines.push(...capture(() => new JsonLogger('http').info('after')).out);
    });
    lines.push(...capture(() => new JsonLogger('http').info('outside')).out);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.map((l) => [l.msg, l.cid])).toEqual([
      ['before', 'req-42'],
      ['after', 'req-42'],
      ['outside', undefined],
    ]);
  });

  it("should log Nest's route and module lines at debug, its other lines at info", () => {
    JsonLogger.setLevel('info');
    const nest = new JsonLogger('nest');
    const { out } = capture(() => {
      nest.log('Mapped {/api/sites, GET} route', 'RouterExplorer');
      nest.log('AppModule dependencies initialized', 'InstanceLoader');
      nest.log('something that matters', 'SomeService');
    });
    expect(out.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ level: 'info', context: 'SomeService', msg: 'something that matters' }),
    ]);
  });

  it('should write human-readable lines when set to pretty (as on a terminal)', () => {
    JsonLogger.setFormat('pretty');
    try {
      const { out } = capture(() =>
        withCorrelationId('ws-1a2b', () =>
          new JsonLogger('realtime').info('client joined', { ip: '10.0.0.1' }),
        ),
      );
      expect(out).toHaveLength(1);
      expect(out[0]).toMatch(
        /^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[realtime\] \(ws-1a2b\) client joined {"ip":"10\.0\.0\.1"}\n$/,
      );
      expect(() => JSON.parse(out[0]!) as unknown).toThrow();
    } finally {
      JsonLogger.setFormat('json');
    }
  });
});
