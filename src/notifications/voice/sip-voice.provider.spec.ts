/**
 * The SIP user agent's timeouts in virtual time: its transaction and call timers run on the injected Scheduler, the
 * network is an in-memory transport the test answers on, so no test waits for a real 32-second Timer B.
 */
import { pollUntil } from '../../../test/setup/poll-until';
import { ManualClock } from '../../common/clock';
import { JsonLogger } from '../../common/logger';
import { ManualScheduler, settle } from '../../common/testing/manual.scheduler';
import type { SipVoiceSettings } from '../callouts.loader';
import { fallbackPrompt } from './sip/rtp';
import { buildResponse, buildSip, header, parseSip, type SipRequest } from './sip/sip-message';
import { T1, TIMER_B } from './sip/sip-transaction';
import type { SipDest, SipTransport } from './sip/sip-transport';
import { SipVoiceProvider } from './sip-voice.provider';
import type { VoiceCallRequest, VoiceCallResult, VoiceEvent } from './voice.port';

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const PROXY: SipDest = { host: '127.0.0.1', port: 5060 };

const SETTINGS: SipVoiceSettings = {
  proxy: PROXY,
  localAddress: '127.0.0.1',
  localPort: 0,
  publicAddress: '127.0.0.1',
  fromUser: 'hazwatch',
  displayName: 'hazwatch',
  rtpPortMin: 42_000,
  rtpPortMax: 42_998,
  voice: 'zh',
};

const REQUEST: VoiceCallRequest = {
  attemptId: 'att-1',
  number: '13800000001',
  calleeName: 'shift lead',
  prompt: { text: '氯气二级报警', version: 'v1' },
  ringTimeoutMs: 45_000,
  keyTimeoutMs: 20_000,
  confirmKey: '1',
  promptRepeats: 3,
};

/** The network as the user agent sees it: what it sent (with the virtual time), and a way to answer. */
class FakeSipNetwork implements SipTransport {
  readonly ready = Promise.resolve();
  readonly sent: Array<{
    at: number;
    start: string;
    msg: NonNullable<ReturnType<typeof parseSip>>;
    dest: SipDest;
  }> = [];
  private handler: (buf: Buffer, from: SipDest) => void = () => undefined;

  constructor(private readonly clock: ManualClock) {}

  port(): number {
    return 5070;
  }
  send(buf: Buffer, dest: SipDest): void {
    const msg = parseSip(buf);
    if (!msg) throw new Error('the user agent sent an unparsable message');
    const start = msg.kind === 'request' ? msg.method : `${msg.status}`;
    this.sent.push({ at: this.clock.now(), start, msg, dest });
  }
  onMessage(handler: (buf: Buffer, from: SipDest) => void): void {
    this.handler = handler;
  }
  close(): void {}

  /** Requests sent with this method, in order. */
  requests(method: string): SipRequest[] {
    return this.sent.flatMap((s) => (s.msg.kind === 'request' && s.msg.method === method ? [s.msg] : []));
  }
  timesOf(method: string): number[] {
    return this.sent.filter((s) => s.start === method).map((s) => s.at - T0);
  }
  /** The peer answers the newest request of `method`. */
  answer(method: string, status: number, reason: string, extraHeaders: Array<[string, string]> = []): void {
    const req = this.requests(method).at(-1);
    if (!req) throw new Error(`no ${method} to answer`);
    const base = parseSip(buildResponse(req, status, reason, status > 100 ? 'peer-tag' : undefined));
    if (!base || base.kind !== 'response') throw new Error('bad response');
    const headers: Array<[string, string]> = [];
    for (const [name, values] of base.headers) for (const v of values) headers.push([name, v]);
    this.handler(buildSip(`SIP/2.0 ${status} ${reason}`, [...headers, ...extraHeaders]), PROXY);
  }
  /** The peer sends an in-dialog request (BYE, INFO) for the call. */
  request(method: string, body = '', extra: Array<[string, string]> = []): void {
    const invite = this.requests('INVITE').at(-1);
    if (!invite) throw new Error('no call');
    this.handler(
      buildSip(
        `${method} sip:hazwatch@127.0.0.1:5070 SIP/2.0`,
        [
          ['Via', 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKpeer1'],
          ['From', `${header(invite, 'to') ?? ''};tag=peer-tag`],
          ['To', header(invite, 'from') ?? ''],
          ['Call-ID', header(invite, 'call-id') ?? ''],
          ['CSeq', `7 ${method}`],
          ...extra,
        ],
        body,
      ),
      PROXY,
    );
  }
}

type Harness = {
  clock: ManualClock;
  scheduler: ManualScheduler;
  net: FakeSipNetwork;
  events: VoiceEvent[];
  result: Promise<VoiceCallResult>;
  cancel: () => void;
  voice: SipVoiceProvider;
};

async function call(req: Partial<VoiceCallRequest> = {}): Promise<Harness> {
  const clock = new ManualClock(T0);
  const scheduler = new ManualScheduler(clock);
  const net = new FakeSipNetwork(clock);
  const voice = new SipVoiceProvider(SETTINGS, '/nonexistent', clock, {
    scheduler,
    transport: net,
    prompts: { get: () => Promise.resolve({ audio: fallbackPrompt(), synthesized: true }) },
  });
  const events: VoiceEvent[] = [];
  const { result, cancel } = voice.place({ ...REQUEST, ...req }, (e) => events.push(e));
  // the media socket binds for real (loopback): wait for the INVITE it precedes
  await pollUntil(() => net.requests('INVITE').length > 0, { what: 'the INVITE' });
  return { clock, scheduler, net, events, result, cancel, voice };
}

let open: SipVoiceProvider[] = [];
afterEach(async () => {
  for (const v of open) await v.close();
  open = [];
});
beforeAll(() => JsonLogger.setLevel('error'));

async function placed(req: Partial<VoiceCallRequest> = {}): Promise<Harness> {
  const h = await call(req);
  open.push(h.voice);
  return h;
}

describe('SipVoiceProvider timers in virtual time', () => {
  it('retransmits an unanswered INVITE on Timer A (T1, doubling, capped) and gives up at Timer B', async () => {
    const h = await placed();
    await h.scheduler.advance(TIMER_B - 1);
    expect(h.net.timesOf('INVITE')).toEqual([
      0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500,
    ]);
    await h.scheduler.advance(1);
    const r = await h.result;
    expect(r.outcome).toBe('UNREACHABLE');
    expect(r.detail).toBe('no response to INVITE (timer B)');
    expect(r.endedAt - T0).toBe(TIMER_B);
    await h.scheduler.advance(60_000);
    expect(h.net.timesOf('INVITE')).toHaveLength(11); // nothing after the end
  });

  it('stops retransmitting on a provisional response, CANCELs at the ring timeout and ends NO_ANSWER on the 487', async () => {
    const h = await placed();
    await h.scheduler.advance(T1); // one retransmission
    h.net.answer('INVITE', 180, 'Ringing');
    await h.scheduler.advance(REQUEST.ringTimeoutMs - T1 - 1);
    expect(h.net.timesOf('INVITE')).toEqual([0, 500]);
    expect(h.net.requests('CANCEL')).toHaveLength(0);
    await h.scheduler.advance(1);
    expect(h.net.timesOf('CANCEL')).toEqual([REQUEST.ringTimeoutMs]);
    h.net.answer('CANCEL', 200, 'OK');
    h.net.answer('INVITE', 487, 'Request Terminated');
    const r = await h.result;
    expect(r.outcome).toBe('NO_ANSWER');
    expect(r.sipCode).toBe(487);
    expect(h.net.requests('ACK')).toHaveLength(1); // the 487 is acknowledged
    expect(h.events.map((e) => e.kind)).toEqual(
      expect.arrayContaining([
        'invite_sent',
        'ringing',
        'cancel_sent',
        'cancel_answered',
        'final_response',
        'ended',
      ]),
    );
  });

  it('holds a CANCEL until the first provisional response and ends after Timer B without a 487', async () => {
    const h = await placed({ ringTimeoutMs: 2_000 });
    await h.scheduler.advance(2_000);
    expect(h.net.requests('CANCEL')).toHaveLength(0); // no CANCEL before a provisional response (RFC 3261 §9.1)
    h.net.answer('INVITE', 100, 'Trying');
    await settle();
    expect(h.net.timesOf('CANCEL')).toEqual([2_000]);
    await h.scheduler.advance(TIMER_B - 1);
    await expect(Promise.race([h.result.then(() => 'ended'), settle().then(() => 'running')])).resolves.toBe(
      'running',
    );
    await h.scheduler.advance(1);
    const r = await h.result;
    expect(r.outcome).toBe('NO_ANSWER');
    expect(r.detail).toBe('ring timeout 2000 ms; no 487 after CANCEL');
  });

  it('hangs up with BYE at the key timeout, retransmits it once and ends ANSWERED_NO_ACK when the BYE is not answered', async () => {
    const h = await placed();
    await h.scheduler.advance(1_000);
    h.net.answer('INVITE', 200, 'OK', [['Contact', '<sip:callee@127.0.0.1:5060>']]);
    await settle();
    expect(h.net.requests('ACK')).toHaveLength(1);
    await h.scheduler.advance(REQUEST.keyTimeoutMs);
    expect(h.net.timesOf('BYE')).toEqual([1_000 + REQUEST.keyTimeoutMs]);
    await h.scheduler.advance(2 * T1);
    expect(h.net.timesOf('BYE')).toEqual([
      1_000 + REQUEST.keyTimeoutMs,
      1_000 + REQUEST.keyTimeoutMs + 2 * T1,
    ]);
    await h.scheduler.advance(6 * T1);
    const r = await h.result;
    expect(r.outcome).toBe('ANSWERED_NO_ACK');
    expect(r.answeredAt! - T0).toBe(1_000);
    expect(r.endedAt - T0).toBe(1_000 + REQUEST.keyTimeoutMs + 8 * T1);
    expect(r.detail).toBe(`no confirm key within ${REQUEST.keyTimeoutMs} ms; no answer to BYE`);
  });

  it('ends ACKED when the confirm key arrives by SIP INFO before the key timeout', async () => {
    const h = await placed();
    h.net.answer('INVITE', 200, 'OK', [['Contact', '<sip:callee@127.0.0.1:5060>']]);
    await h.scheduler.advance(5_000);
    h.net.request('INFO', 'Signal=1\r\nDuration=160\r\n', [['Content-Type', 'application/dtmf-relay']]);
    await settle();
    expect(h.net.timesOf('200')).toHaveLength(1); // the INFO is answered
    expect(h.net.timesOf('BYE')).toEqual([5_000]);
    h.net.answer('BYE', 200, 'OK');
    const r = await h.result;
    expect(r.outcome).toBe('ACKED');
    expect(r.digits).toBe('1');
    await h.scheduler.advance(REQUEST.keyTimeoutMs);
    expect(h.net.timesOf('BYE')).toHaveLength(1); // the key timeout was cancelled with the call
  });
});
