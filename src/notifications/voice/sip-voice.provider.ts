/**
 * The `sip` voice provider: a small SIP user agent over UDP (RFC 3261 subset written here; see ADR 0005 for why no
 * library). It places a call with INVITE (digest auth on 401/407), CANCELs on ring timeout, ACKs final responses,
 * plays the spoken prompt as G.711 μ-law RTP until a key or the key timeout, takes keys as RFC 4733 telephone events
 * (de-duplicated on the RTP timestamp) or SIP INFO (application/dtmf-relay), and hangs up with BYE.
 *
 * Cut in three (docs/architecture.md, "Inside notifications"): the transport (./sip/sip-transport.ts), the
 * transaction timers on the injected Scheduler (./sip/sip-transaction.ts) and the dialog state and requests
 * (./sip/sip-dialog.ts); this class is the user agent that drives them.
 */
import { join } from 'node:path';
import type { Clock } from '../../common/clock';
import { JsonLogger } from '../../common/logger';
import { systemScheduler, type Scheduler } from '../../common/timer.port';
import type { SipVoiceSettings } from '../callouts.loader';
import type { CallOutcome } from '../domain/callout.types';
import { PromptAudio } from './sip/prompt-audio';
import { RtpSession, parseSdpAnswer, sdpOffer } from './sip/rtp';
import { digestAuthorization, parseChallenge } from './sip/sip-digest';
import { SipCall, SipRequests, rid } from './sip/sip-dialog';
import {
  buildResponse,
  cseqOf,
  header,
  parseSip,
  tagOf,
  uriOf,
  type SipRequest,
  type SipResponse,
} from './sip/sip-message';
import { CallTimers, T1, TIMER_B } from './sip/sip-transaction';
import { UdpSipTransport, type SipDest, type SipTransport } from './sip/sip-transport';
import type { VoiceCall, VoiceCallRequest, VoiceEvent, VoicePort } from './voice.port';

/** SIP final response → call outcome (for calls that were never answered). */
export function outcomeOfStatus(status: number): CallOutcome {
  if (status === 486 || status === 600) return 'BUSY';
  if (status === 480 || status === 408 || status === 487) return 'NO_ANSWER';
  if (status === 603 || status === 403) return 'REJECTED';
  if ([404, 410, 484, 485, 604, 416].includes(status)) return 'UNREACHABLE';
  return 'FAILED';
}

/** What the user agent runs on; each defaults to the real thing (tests inject virtual time and a fake network). */
export type SipVoiceDeps = {
  readonly scheduler?: Scheduler;
  readonly transport?: SipTransport;
  readonly prompts?: Pick<PromptAudio, 'get'>;
};

export class SipVoiceProvider implements VoicePort {
  readonly name = 'sip';
  private readonly log = new JsonLogger('notifications.voice.sip');
  private readonly ready: Promise<void>;
  private readonly calls = new Map<string, SipCall>();
  private readonly prompts: Pick<PromptAudio, 'get'>;
  private readonly scheduler: Scheduler;
  private readonly transport: SipTransport;
  private readonly requests: SipRequests;
  private eventSeq = 0;

  constructor(
    private readonly settings: SipVoiceSettings,
    dataDir: string,
    private readonly clock: Clock,
    deps: SipVoiceDeps = {},
  ) {
    this.scheduler = deps.scheduler ?? systemScheduler;
    this.prompts = deps.prompts ?? new PromptAudio(join(dataDir, 'prompts'), settings.voice, this.log);
    this.transport =
      deps.transport ?? new UdpSipTransport(settings.localAddress, settings.localPort, this.log);
    this.requests = new SipRequests(settings, () => this.transport.port());
    this.transport.onMessage((buf, from) => this.onMessage(buf, from));
    this.ready = this.transport.ready.then(() =>
      this.log.info('SIP user agent listening', {
        address: settings.localAddress,
        port: this.transport.port(),
        proxy: settings.proxy,
      }),
    );
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
    return this.transport.port();
  }

  place(req: VoiceCallRequest, onEvent: (e: VoiceEvent) => void): VoiceCall {
    const { uri, dest } = this.requests.target(req.number);
    const call = new SipCall(req, uri, dest, onEvent, new CallTimers(this.scheduler));
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

  private async start(call: SipCall): Promise<void> {
    await this.ready;
    const { audio, synthesized } = await this.prompts.get(call.req.prompt.text);
    call.rtp = await RtpSession.open(
      this.settings.localAddress,
      this.settings.rtpPortMin,
      this.settings.rtpPortMax,
      (e) => this.onDigit(call, e.digit, 'rfc4733', `rtp:${e.rtpTimestamp}`),
    );
    call.audio = audio;
    if (!synthesized)
      this.event(call, 'prompt_fallback', { detail: 'speech synthesis unavailable: beeps played' });
    if (call.state === 'ended') return;
    this.sendInvite(call);
    call.timers.after(call.req.ringTimeoutMs, () => {
      if (call.state === 'inviting' || call.state === 'ringing') {
        call.outcome = 'NO_ANSWER';
        this.sendCancel(call, `ring timeout ${call.req.ringTimeoutMs} ms`);
      }
    });
  }

  private sendInvite(call: SipCall, auth?: [string, string]): void {
    const sdp = sdpOffer(
      this.settings.publicAddress,
      call.rtp?.port ?? 0,
      Math.floor(this.clock.now() / 1000),
    );
    call.invite = this.requests.invite(call, sdp, auth);
    this.send(call.invite, call.dest);
    this.event(call, 'invite_sent', {
      detail: `${call.uri} cseq ${call.cseq}${auth ? ' with credentials' : ''}`,
      key: `invite:${call.cseq}`,
    });
    // Timer A: retransmit until a provisional or final response; Timer B: give up
    call.timers.startInvite(
      () => {
        if (call.state === 'inviting') this.send(call.invite, call.dest);
      },
      () => {
        if (call.state === 'inviting')
          this.finish(
            call,
            call.canceledByUs ? 'CANCELED' : 'UNREACHABLE',
            'no response to INVITE (timer B)',
          );
      },
    );
  }

  private send(buf: Buffer, dest: SipDest): void {
    this.transport.send(buf, dest);
  }

  private sendCancel(call: SipCall, why: string): void {
    if (call.state !== 'inviting' && call.state !== 'ringing') return;
    if (call.state === 'inviting') {
      // RFC 3261 §9.1: no CANCEL before a provisional response; send it when one arrives (or Timer B ends the call)
      call.pendingCancel = why;
      return;
    }
    call.state = 'canceling';
    this.send(this.requests.cancel(call), call.dest);
    this.event(call, 'cancel_sent', { detail: why, key: 'cancel' });
    // the peer answers 200 to CANCEL and 487 to the INVITE; give up waiting after 32 s
    call.timers.after(TIMER_B, () =>
      this.finish(call, call.outcome ?? 'NO_ANSWER', `${why}; no 487 after CANCEL`),
    );
  }

  private sendBye(call: SipCall, why: string): void {
    if (call.state !== 'answered') return;
    call.state = 'ending';
    call.rtp?.stop();
    call.cseq += 1;
    const bye = this.requests.inDialog(call, 'BYE', call.cseq);
    this.send(bye, this.requests.dialogDest(call));
    this.event(call, 'bye_sent', { detail: why, key: 'bye' });
    // retransmit once, then finish whatever the peer says
    call.timers.after(
      2 * T1,
      () => call.state === 'ending' && this.send(bye, this.requests.dialogDest(call)),
    );
    call.timers.after(8 * T1, () => this.finishAnswered(call, `${why}; no answer to BYE`));
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

  private onMessage(buf: Buffer, from: SipDest): void {
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
      if (msg.kind === 'request' && msg.method === 'OPTIONS') this.send(buildResponse(msg, 200, 'OK'), from);
      else if (msg.kind === 'request' && msg.method !== 'ACK')
        this.send(buildResponse(msg, 481, 'Call/Transaction Does Not Exist'), from);
      return;
    }
    if (msg.kind === 'response') this.onResponse(call, msg);
    else this.onRequest(call, msg, from);
  }

  private onResponse(call: SipCall, res: SipResponse): void {
    const cs = cseqOf(res);
    if (!cs) return;
    if (cs.method === 'INVITE') {
      if (cs.seq !== call.cseq && !(res.status >= 200 && res.status < 300)) return;
      if (res.status < 200) {
        call.timers.stopInvite();
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
      call.timers.stopInvite();
      if (res.status < 300) {
        this.on2xx(call, res);
        return;
      }
      this.send(this.requests.ackNon2xx(call, res), call.dest);
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
    this.send(
      this.requests.inDialog(call, 'ACK', cseqOf(res)?.seq ?? call.cseq),
      this.requests.dialogDest(call),
    );
    if (call.state === 'ended' && call.answeredAt === undefined && call.toTag !== undefined) {
      // answered after we gave up on the call: do not leave the callee's line open
      call.answeredAt = this.clock.now();
      call.cseq += 1;
      this.send(this.requests.inDialog(call, 'BYE', call.cseq), this.requests.dialogDest(call));
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
    const audio = call.audio;
    if (sdp && audio && call.rtp) call.rtp.play(sdp, audio, call.req.promptRepeats);
    else
      this.event(call, 'no_media', {
        detail: 'no usable SDP answer: the prompt is not played, keys by SIP INFO only',
        key: 'no_media',
      });
    call.timers.after(call.req.keyTimeoutMs, () =>
      this.sendBye(call, `no confirm key within ${call.req.keyTimeoutMs} ms`),
    );
  }

  private onRequest(call: SipCall, req: SipRequest, from: SipDest): void {
    const reply = (status: number, reason: string): void =>
      this.send(buildResponse(req, status, reason), from);
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
    call.timers.cancelAll();
    call.rtp?.close();
    // keep the call a little longer to ACK retransmitted responses, then forget it
    this.scheduler.after(TIMER_B, () => this.calls.delete(call.callId));
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
    this.transport.close();
  }
}
