/**
 * The `sip` voice provider: a small SIP user agent over UDP (RFC 3261 subset written here; see ADR 0005 for why no
 * library). It places a call with INVITE (digest auth on 401/407), CANCELs on ring timeout, ACKs final responses,
 * plays the spoken prompt as G.711 μ-law RTP until a key or the key timeout, takes keys as RFC 4733 telephone events
 * (de-duplicated on the RTP timestamp) or SIP INFO (application/dtmf-relay), and hangs up with BYE.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Clock } from '../../common/clock';
import { JsonLogger } from '../../common/logger';
import type { SipVoiceSettings } from '../callouts.loader';
import type { CallOutcome } from '../domain/callout.types';
import { PromptAudio } from './sip/prompt-audio';
import { RtpSession, parseSdpAnswer, sdpOffer } from './sip/rtp';
import { digestAuthorization, parseChallenge } from './sip/sip-digest';
import {
  buildResponse,
  buildSip,
  cseqOf,
  header,
  hostPortOf,
  parseSip,
  tagOf,
  uriOf,
  type SipRequest,
  type SipResponse,
} from './sip/sip-message';
import type { VoiceCall, VoiceCallRequest, VoiceCallResult, VoiceEvent, VoicePort } from './voice.port';

const T1 = 500;
const TIMER_B = 64 * T1;
const USER_AGENT = 'hazwatch';

/** SIP final response → call outcome (for calls that were never answered). */
export function outcomeOfStatus(status: number): CallOutcome {
  if (status === 486 || status === 600) return 'BUSY';
  if (status === 480 || status === 408 || status === 487) return 'NO_ANSWER';
  if (status === 603 || status === 403) return 'REJECTED';
  if ([404, 410, 484, 485, 604, 416].includes(status)) return 'UNREACHABLE';
  return 'FAILED';
}

const rid = (n = 8): string => randomBytes(n).toString('hex');

type Dest = { host: string; port: number };

type CallState = 'inviting' | 'ringing' | 'canceling' | 'answered' | 'ending' | 'ended';

class SipCall {
  state: CallState = 'inviting';
  readonly callId = `${rid(12)}@hazwatch`;
  readonly fromTag = rid(6);
  toTag: string | undefined;
  cseq = 1;
  branch = `z9hG4bK${rid(8)}`;
  invite!: Buffer;
  authTried = false;
  remoteTarget: string | undefined;
  digits = '';
  answeredAt: number | undefined;
  finalStatus: number | undefined;
  finalReason: string | undefined;
  canceledByUs = false;
  rtp: RtpSession | undefined;
  timers: NodeJS.Timeout[] = [];
  retransmit: NodeJS.Timeout | undefined;
  infoSeqs = new Set<number>();
  /** Why a CANCEL waits for the first provisional response. */
  pendingCancel: string | undefined;
  wrongKey = false;
  outcome: CallOutcome | undefined;
  settle!: (r: VoiceCallResult) => void;
  readonly result = new Promise<VoiceCallResult>((r) => (this.settle = r));

  constructor(
    readonly req: VoiceCallRequest,
    readonly uri: string,
    readonly dest: Dest,
    readonly onEvent: (e: VoiceEvent) => void,
  ) {}
}

export class SipVoiceProvider implements VoicePort {
  readonly name = 'sip';
  private readonly log = new JsonLogger('notifications.voice.sip');
  private socket: Socket | undefined;
  private localPort = 0;
  private readonly ready: Promise<void>;
  private readonly calls = new Map<string, SipCall>();
  private readonly prompts: PromptAudio;
  private eventSeq = 0;

  constructor(
    private readonly settings: SipVoiceSettings,
    dataDir: string,
    private readonly clock: Clock,
  ) {
    this.prompts = new PromptAudio(join(dataDir, 'prompts'), settings.voice, this.log);
    this.ready = this.bind();
    // a failed bind is reported here once; every call placed afterwards ends FAILED with the reason
    this.ready.catch((err: unknown) =>
      this.log.error('SIP user agent cannot listen: every call will fail', {
        err,
        address: settings.localAddress,
        port: settings.localPort,
      }),
    );
  }

  /** The UDP port the user agent listens on (after start). */
  async port(): Promise<number> {
    await this.ready;
    return this.localPort;
  }

  private async bind(): Promise<void> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.settings.localPort, this.settings.localAddress, () => {
        socket.removeListener('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => this.log.error('SIP socket error', { err }));
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    this.socket = socket;
    this.localPort = socket.address().port;
    this.log.info('SIP user agent listening', {
      address: this.settings.localAddress,
      port: this.localPort,
      proxy: this.settings.proxy,
    });
  }

  private target(number: string): { uri: string; dest: Dest } {
    if (/^sips?:/i.test(number)) {
      const hp = hostPortOf(number);
      if (!hp) throw new Error(`cannot route SIP URI ${number}`);
      return { uri: number, dest: this.settings.proxy ?? hp };
    }
    const proxy = this.settings.proxy;
    if (!proxy) throw new Error(`no SIP proxy configured to dial the phone number ${number}`);
    return { uri: `sip:${number}@${proxy.host}${proxy.port !== 5060 ? `:${proxy.port}` : ''}`, dest: proxy };
  }

  place(req: VoiceCallRequest, onEvent: (e: VoiceEvent) => void): VoiceCall {
    const { uri, dest } = this.target(req.number);
    const call = new SipCall(req, uri, dest, onEvent);
    this.calls.set(call.callId, call);
    void this.start(call).catch((err: unknown) =>
      this.finish(
        call,
        'FAILED',
        `could not place the call: ${err instanceof Error ? err.message : String(err)}`,
      ),
    );
    return { result: call.result, cancel: () => this.hangUp(call) };
  }

  private event(
    call: SipCall,
    kind: string,
    extra: { sipCode?: number; detail?: string; key?: string } = {},
  ): void {
    const at = this.clock.now();
    call.onEvent({
      key: extra.key ?? `${kind}:${++this.eventSeq}`,
      at,
      kind,
      ...(extra.sipCode !== undefined ? { sipCode: extra.sipCode } : {}),
      ...(extra.detail !== undefined ? { detail: extra.detail } : {}),
    });
  }

  private get contactHost(): string {
    return `${this.settings.publicAddress}:${this.localPort}`;
  }

  private async start(call: SipCall): Promise<void> {
    await this.ready;
    const { audio, synthesized } = await this.prompts.get(call.req.prompt.text);
    call.rtp = await RtpSession.open(
      this.settings.localAddress,
      this.settings.rtpPortMin,
      this.settings.rtpPortMax,
      (e) => this.onDigit(call, e.digit, 'rfc4733', `rtp:${e.rtpTimestamp}`),
    );
    (call as { audio?: Buffer }).audio = audio;
    if (!synthesized)
      this.event(call, 'prompt_fallback', { detail: 'speech synthesis unavailable: beeps played' });
    if (call.state === 'ended') return;
    this.sendInvite(call);
    call.timers.push(
      setTimeout(() => {
        if (call.state === 'inviting' || call.state === 'ringing') {
          call.outcome = 'NO_ANSWER';
          this.sendCancel(call, `ring timeout ${call.req.ringTimeoutMs} ms`);
        }
      }, call.req.ringTimeoutMs),
    );
  }

  private sendInvite(call: SipCall, auth?: [string, string]): void {
    const sdp = sdpOffer(
      this.settings.publicAddress,
      call.rtp?.port ?? 0,
      Math.floor(this.clock.now() / 1000),
    );
    call.invite = buildSip(
      `INVITE ${call.uri} SIP/2.0`,
      [
        ['Via', `SIP/2.0/UDP ${this.contactHost};branch=${call.branch};rport`],
        ['Max-Forwards', '70'],
        [
          'From',
          `"${this.settings.displayName}" <sip:${this.settings.fromUser}@${this.settings.publicAddress}>;tag=${call.fromTag}`,
        ],
        ['To', `<${call.uri}>`],
        ['Call-ID', call.callId],
        ['CSeq', `${call.cseq} INVITE`],
        ['Contact', `<sip:${this.settings.fromUser}@${this.contactHost}>`],
        ['Allow', 'INVITE, ACK, CANCEL, BYE, INFO, OPTIONS'],
        ['User-Agent', USER_AGENT],
        ...(auth ? [auth] : []),
        ['Content-Type', 'application/sdp'],
      ],
      sdp,
    );
    this.send(call.invite, call.dest);
    this.event(call, 'invite_sent', {
      detail: `${call.uri} cseq ${call.cseq}${auth ? ' with credentials' : ''}`,
      key: `invite:${call.cseq}`,
    });
    // Timer A: retransmit until a provisional or final response; Timer B: give up
    let interval = T1;
    const started = Date.now();
    const tick = (): void => {
      if (call.state !== 'inviting' || call.retransmit === undefined) return;
      if (Date.now() - started >= TIMER_B) {
        this.finish(call, call.canceledByUs ? 'CANCELED' : 'UNREACHABLE', 'no response to INVITE (timer B)');
        return;
      }
      this.send(call.invite, call.dest);
      interval = Math.min(interval * 2, 4000);
      call.retransmit = setTimeout(tick, interval);
    };
    clearTimeout(call.retransmit);
    call.retransmit = setTimeout(tick, interval);
  }

  private send(buf: Buffer, dest: Dest): void {
    this.socket?.send(buf, dest.port, dest.host);
  }

  /** ACK for a non-2xx final response: same branch as the INVITE (RFC 3261 §17.1.1.3). */
  private ackNon2xx(call: SipCall, res: SipResponse): void {
    this.send(
      buildSip(`ACK ${call.uri} SIP/2.0`, [
        ['Via', `SIP/2.0/UDP ${this.contactHost};branch=${call.branch};rport`],
        ['Max-Forwards', '70'],
        [
          'From',
          `"${this.settings.displayName}" <sip:${this.settings.fromUser}@${this.settings.publicAddress}>;tag=${call.fromTag}`,
        ],
        ['To', header(res, 'to') ?? `<${call.uri}>`],
        ['Call-ID', call.callId],
        ['CSeq', `${call.cseq} ACK`],
      ]),
      call.dest,
    );
  }

  private inDialog(call: SipCall, method: string, cseq: number): Buffer {
    const target = call.remoteTarget ?? call.uri;
    return buildSip(`${method} ${target} SIP/2.0`, [
      ['Via', `SIP/2.0/UDP ${this.contactHost};branch=z9hG4bK${rid(8)};rport`],
      ['Max-Forwards', '70'],
      [
        'From',
        `"${this.settings.displayName}" <sip:${this.settings.fromUser}@${this.settings.publicAddress}>;tag=${call.fromTag}`,
      ],
      ['To', `<${call.uri}>${call.toTag ? `;tag=${call.toTag}` : ''}`],
      ['Call-ID', call.callId],
      ['CSeq', `${cseq} ${method}`],
      ['User-Agent', USER_AGENT],
    ]);
  }

  private dialogDest(call: SipCall): Dest {
    if (this.settings.proxy) return call.dest;
    return (call.remoteTarget ? hostPortOf(call.remoteTarget) : undefined) ?? call.dest;
  }

  private sendCancel(call: SipCall, why: string): void {
    if (call.state !== 'inviting' && call.state !== 'ringing') return;
    if (call.state === 'inviting') {
      // RFC 3261 §9.1: no CANCEL before a provisional response; send it when one arrives (or Timer B ends the call)
      call.pendingCancel = why;
      return;
    }
    call.state = 'canceling';
    const cancel = buildSip(`CANCEL ${call.uri} SIP/2.0`, [
      ['Via', `SIP/2.0/UDP ${this.contactHost};branch=${call.branch};rport`],
      ['Max-Forwards', '70'],
      [
        'From',
        `"${this.settings.displayName}" <sip:${this.settings.fromUser}@${this.settings.publicAddress}>;tag=${call.fromTag}`,
      ],
      ['To', `<${call.uri}>`],
      ['Call-ID', call.callId],
      ['CSeq', `${call.cseq} CANCEL`],
      ['User-Agent', USER_AGENT],
    ]);
    this.send(cancel, call.dest);
    this.event(call, 'cancel_sent', { detail: why, key: 'cancel' });
    // the peer answers 200 to CANCEL and 487 to the INVITE; give up waiting after 32 s
    call.timers.push(
      setTimeout(
        () => this.finish(call, call.outcome ?? 'NO_ANSWER', `${why}; no 487 after CANCEL`),
        TIMER_B,
      ),
    );
  }

  private sendBye(call: SipCall, why: string): void {
    if (call.state !== 'answered') return;
    call.state = 'ending';
    call.rtp?.stop();
    call.cseq += 1;
    const bye = this.inDialog(call, 'BYE', call.cseq);
    this.send(bye, this.dialogDest(call));
    this.event(call, 'bye_sent', { detail: why, key: 'bye' });
    // retransmit once, then finish whatever the peer says
    call.timers.push(
      setTimeout(() => call.state === 'ending' && this.send(bye, this.dialogDest(call)), 2 * T1),
    );
    call.timers.push(setTimeout(() => this.finishAnswered(call, `${why}; no answer to BYE`), 8 * T1));
  }

  private hangUp(call: SipCall): void {
    if (call.state === 'ended') return;
    call.canceledByUs = true;
    call.outcome = 'CANCELED';
    if (call.state === 'answered') this.sendBye(call, 'canceled by hazwatch');
    else if (call.state === 'inviting' || call.state === 'ringing')
      this.sendCancel(call, 'canceled by hazwatch');
    else if (call.state !== 'canceling' && call.state !== 'ending')
      this.finish(call, 'CANCELED', 'canceled by hazwatch');
  }

  private onMessage(buf: Buffer, rinfo: RemoteInfo): void {
    let msg;
    try {
      msg = parseSip(buf);
    } catch {
      msg = undefined;
    }
    if (!msg) return;
    const call = this.calls.get(header(msg, 'call-id') ?? '');
    if (!call) {
      // OPTIONS keep-alives of a PBX or gateway are answered; anything else outside a call is refused
      if (msg.kind === 'request' && msg.method === 'OPTIONS')
        this.socket?.send(buildResponse(msg, 200, 'OK'), rinfo.port, rinfo.address);
      else if (msg.kind === 'request' && msg.method !== 'ACK')
        this.socket?.send(
          buildResponse(msg, 481, 'Call/Transaction Does Not Exist'),
          rinfo.port,
          rinfo.address,
        );
      return;
    }
    if (msg.kind === 'response') this.onResponse(call, msg);
    else this.onRequest(call, msg, rinfo);
  }

  private onResponse(call: SipCall, res: SipResponse): void {
    const cs = cseqOf(res);
    if (!cs) return;
    if (cs.method === 'INVITE') {
      if (cs.seq !== call.cseq && !(res.status >= 200 && res.status < 300)) return;
      if (res.status < 200) {
        clearTimeout(call.retransmit);
        call.retransmit = undefined;
        if (call.state === 'inviting') call.state = 'ringing';
        this.event(call, res.status === 183 ? 'early_media' : res.status === 100 ? 'trying' : 'ringing', {
          sipCode: res.status,
          detail: res.reason,
          key: `prov:${cs.seq}:${res.status}`,
        });
        if (call.pendingCancel !== undefined && call.state === 'ringing')
          this.sendCancel(call, call.pendingCancel);
        return;
      }
      clearTimeout(call.retransmit);
      call.retransmit = undefined;
      if (res.status < 300) {
        this.on2xx(call, res);
        return;
      }
      this.ackNon2xx(call, res);
      if (call.state === 'ended') return;
      this.event(call, 'final_response', {
        sipCode: res.status,
        detail: res.reason,
        key: `final:${cs.seq}:${res.status}`,
      });
      if ((res.status === 401 || res.status === 407) && call.state === 'inviting' && !call.authTried) {
        const challenge = parseChallenge(
          header(res, res.status === 401 ? 'www-authenticate' : 'proxy-authenticate') ?? '',
        );
        const { username, password } = this.settings;
        if (!challenge || username === undefined || password === undefined) {
          this.finish(
            call,
            'FAILED',
            `authentication required (${res.status}) and ${challenge ? 'no credentials configured' : 'the challenge is not Digest'}`,
            res,
          );
          return;
        }
        call.authTried = true;
        call.cseq += 1;
        call.branch = `z9hG4bK${rid(8)}`;
        const value = digestAuthorization(challenge, { method: 'INVITE', uri: call.uri, username, password });
        this.event(call, 'auth_challenge', {
          sipCode: res.status,
          detail: `realm ${challenge.realm}`,
          key: `auth:${res.status}`,
        });
        this.sendInvite(call, [res.status === 401 ? 'Authorization' : 'Proxy-Authorization', value]);
        return;
      }
      const outcome = call.canceledByUs
        ? 'CANCELED'
        : call.state === 'canceling'
          ? (call.outcome ?? 'NO_ANSWER')
          : res.status === 401 || res.status === 407
            ? 'FAILED'
            : outcomeOfStatus(res.status);
      this.finish(call, outcome, `${res.status} ${res.reason}`, res);
      return;
    }
    if (cs.method === 'BYE' && res.status >= 200) this.finishAnswered(call, `BYE answered ${res.status}`);
    if (cs.method === 'CANCEL')
      this.event(call, 'cancel_answered', { sipCode: res.status, key: `cancel:${res.status}` });
  }

  private on2xx(call: SipCall, res: SipResponse): void {
    call.toTag = tagOf(header(res, 'to'));
    call.remoteTarget = uriOf(header(res, 'contact')) ?? call.uri;
    // ACK every 2xx (retransmissions included)
    this.send(this.inDialog(call, 'ACK', cseqOf(res)?.seq ?? call.cseq), this.dialogDest(call));
    if (call.state === 'ended' && call.answeredAt === undefined && call.toTag !== undefined) {
      // answered after we gave up on the call: do not leave the callee's line open
      call.answeredAt = this.clock.now();
      call.cseq += 1;
      this.send(this.inDialog(call, 'BYE', call.cseq), this.dialogDest(call));
      this.log.warn('call answered after it was given up: hung up', { attemptId: call.req.attemptId });
      return;
    }
    if (call.state === 'answered' || call.state === 'ending' || call.state === 'ended') return;
    const wasCanceling = call.state === 'canceling';
    call.state = 'answered';
    call.answeredAt = this.clock.now();
    call.finalStatus = res.status;
    call.finalReason = res.reason;
    this.event(call, 'answered', { sipCode: res.status, detail: res.reason, key: 'answered' });
    if (wasCanceling) {
      // answered while our CANCEL crossed it: hang up at once
      this.sendBye(call, call.canceledByUs ? 'canceled by hazwatch' : 'answered after the ring timeout');
      return;
    }
    const sdp = parseSdpAnswer(res.body);
    const audio = (call as { audio?: Buffer }).audio;
    if (sdp && audio && call.rtp) call.rtp.play(sdp, audio, call.req.promptRepeats);
    else
      this.event(call, 'no_media', {
        detail: 'no usable SDP answer: the prompt is not played, keys by SIP INFO only',
        key: 'no_media',
      });
    call.timers.push(
      setTimeout(
        () => this.sendBye(call, `no confirm key within ${call.req.keyTimeoutMs} ms`),
        call.req.keyTimeoutMs,
      ),
    );
  }

  private onRequest(call: SipCall, req: SipRequest, rinfo: RemoteInfo): void {
    const reply = (status: number, reason: string): void => {
      this.socket?.send(buildResponse(req, status, reason), rinfo.port, rinfo.address);
    };
    switch (req.method) {
      case 'BYE':
        reply(200, 'OK');
        this.event(call, 'bye_received', { key: 'bye_received' });
        call.rtp?.stop();
        this.finishAnswered(call, 'the callee hung up');
        return;
      case 'INFO': {
        reply(200, 'OK');
        const cs = cseqOf(req);
        if (cs && call.infoSeqs.has(cs.seq)) return; // a retransmission
        if (cs) call.infoSeqs.add(cs.seq);
        const type = (header(req, 'content-type') ?? '').toLowerCase();
        const signal =
          /Signal\s*=\s*([0-9*#A-D])/i.exec(req.body)?.[1] ??
          (type.startsWith('application/dtmf') && /^\s*([0-9*#A-D])\s*$/.exec(req.body)?.[1]);
        if (signal) this.onDigit(call, signal, 'info', `info:${cs?.seq ?? rid(4)}`);
        return;
      }
      case 'OPTIONS':
        reply(200, 'OK');
        return;
      case 'ACK':
        return;
      default:
        reply(405, 'Method Not Allowed');
    }
  }

  private onDigit(call: SipCall, digit: string, via: 'rfc4733' | 'info', key: string): void {
    if (call.state !== 'answered') return;
    call.digits += digit;
    this.event(call, 'dtmf', { detail: `${digit} (${via === 'info' ? 'SIP INFO' : 'RFC 4733'})`, key });
    if (digit === call.req.confirmKey) {
      call.outcome = 'ACKED';
      this.sendBye(call, 'confirm key pressed');
    } else {
      call.wrongKey = true;
    }
  }

  private finishAnswered(call: SipCall, why: string): void {
    const outcome: CallOutcome = call.canceledByUs
      ? 'CANCELED'
      : call.outcome === 'ACKED'
        ? 'ACKED'
        : call.wrongKey
          ? 'WRONG_KEY'
          : 'ANSWERED_NO_ACK';
    this.finish(call, outcome, why);
  }

  private finish(call: SipCall, outcome: CallOutcome, detail: string, res?: SipResponse): void {
    if (call.state === 'ended') return;
    call.state = 'ended';
    clearTimeout(call.retransmit);
    for (const t of call.timers) clearTimeout(t);
    call.rtp?.close();
    // keep the call a little longer to ACK retransmitted responses, then forget it
    setTimeout(() => this.calls.delete(call.callId), TIMER_B).unref();
    this.event(call, 'ended', { detail: `${outcome}: ${detail}`, key: 'ended' });
    const status = res?.status ?? call.finalStatus;
    const reason = res?.reason ?? call.finalReason;
    call.settle({
      outcome,
      providerCallId: call.callId,
      ...(status !== undefined ? { sipCode: status } : {}),
      ...(reason !== undefined ? { sipStatus: reason } : {}),
      digits: call.digits,
      ...(call.answeredAt !== undefined ? { answeredAt: call.answeredAt } : {}),
      endedAt: this.clock.now(),
      detail,
    });
  }

  async close(): Promise<void> {
    await this.ready.catch(() => undefined);
    for (const call of this.calls.values()) this.hangUp(call);
    this.socket?.close();
  }
}
