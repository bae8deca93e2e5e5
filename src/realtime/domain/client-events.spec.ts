import { encodeFrame, parseClientFrame } from './client-events';

describe('parseClientFrame', () => {
  it('should accept an auth frame with a token', () => {
    expect(parseClientFrame('{"event":"auth","data":{"token":"hzw_x"}}')).toEqual({
      ok: true,
      command: { event: 'auth', token: 'hzw_x' },
    });
  });

  it('should accept a full subscribe frame', () => {
    expect(
      parseClientFrame('{"event":"subscribe","data":{"alarms":true,"telemetry":["s/d"],"since":42}}'),
    ).toEqual({
      ok: true,
      command: { event: 'subscribe', alarms: true, telemetry: ['s/d'], since: 42 },
    });
  });

  it('should leave absent subscribe fields absent so they mean unchanged', () => {
    expect(parseClientFrame('{"event":"subscribe","data":{"telemetry":[]}}')).toEqual({
      ok: true,
      command: { event: 'subscribe', telemetry: [] },
    });
  });

  it.each([
    ['not json', 'not valid JSON'],
    ['[]', 'must be'],
    ['{"event":"subscribe","data":[]}', 'data must be an object'],
    ['{"event":"auth","data":{}}', 'token'],
    ['{"event":"subscribe","data":{"alarms":"yes"}}', 'alarms'],
    ['{"event":"subscribe","data":{"since":-1}}', 'since'],
    ['{"event":"subscribe","data":{"since":1.5}}', 'since'],
    ['{"event":"subscribe","data":{"telemetry":"s/d"}}', 'telemetry'],
    ['{"event":"subscribe","data":{"telemetry":[1]}}', 'telemetry'],
    ['{"event":"launch","data":{}}', "unknown event 'launch'"],
  ])('should reject %s with a reason naming the problem', (raw, reason) => {
    const res = parseClientFrame(raw);
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.reason).toContain(reason);
  });

  it('should reject more than 500 telemetry entries', () => {
    const entries = Array.from({ length: 501 }, (_, i) => `s/d${i}`);
    expect(parseClientFrame(JSON.stringify({ event: 'subscribe', data: { telemetry: entries } })).ok).toBe(
      false,
    );
  });
});

describe('encodeFrame', () => {
  it('should produce an {event, data} frame', () => {
    expect(JSON.parse(encodeFrame('status', { storageDegraded: true }))).toEqual({
      event: 'status',
      data: { storageDegraded: true },
    });
  });
});
