/** Dialog state of one outgoing call and the requests it sends (RFC 3261 §12–§15, the subset hazwatch needs). */
import { randomBytes } from 'node:crypto';
import type { SipVoiceSettings } from '../../callouts.loader';
import type { CallOutcome } from '../../domain/callout.types';
import type { VoiceCallRequest, VoiceCallResult, VoiceEvent } from '../voice.port';
import type { RtpSession } from './rtp';
import { buildSip, header, hostPortOf, type SipResponse } from './sip-message';
import type { CallTimers } from './sip-transaction';
import type { SipDest } from './sip-transport';

export const USER_AGENT = 'hazwatch';

export const rid = (n = 8): string => randomBytes(n).toString('hex');

export type CallState = 'inviting' | 'ringing' | 'canceling' | 'answered' | 'ending' | 'ended';

/** One call: the INVITE transaction's and then the dialog's state. */
export class SipCall {
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
  /** The prompt, μ-law, once synthesised. */
  audio: Buffer | undefined;
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
    readonly dest: SipDest,
    readonly onEvent: (e: VoiceEvent) => void,
    readonly timers: CallTimers,
  ) {}
}

/** Builds the requests of a call from the user agent's settings and its contact address. */
export class SipRequests {
  constructor(
    private readonly settings: SipVoiceSettings,
    private readonly localPort: () => number,
  ) {}

  private get contactHost(): string {
    return `${this.settings.publicAddress}:${this.localPort()}`;
  }

  private get from(): string {
    return `"${this.settings.displayName}" <sip:${this.settings.fromUser}@${this.settings.publicAddress}>`;
  }

  /** Request-URI and next hop of a phone number (through the proxy) or a SIP URI. */
  target(number: string): { uri: string; dest: SipDest } {
    if (/^sips?:/i.test(number)) {
      const hp = hostPortOf(number);
      if (!hp) throw new Error(`cannot route SIP URI ${number}`);
      return { uri: number, dest: this.settings.proxy ?? hp };
    }
    const proxy = this.settings.proxy;
    if (!proxy) throw new Error(`no SIP proxy configured to dial the phone number ${number}`);
    return { uri: `sip:${number}@${proxy.host}${proxy.port !== 5060 ? `:${proxy.port}` : ''}`, dest: proxy };
  }

  invite(call: SipCall, sdp: string, auth?: [string, string]): Buffer {
    return buildSip(
      `INVITE ${call.uri} SIP/2.0`,
      [
        ['Via', `SIP/2.0/UDP ${this.contactHost};branch=${call.branch};rport`],
        ['Max-Forwards', '70'],
        ['From', `${this.from};tag=${call.fromTag}`],
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
  }

  /** ACK for a non-2xx final response: same branch as the INVITE (RFC 3261 §17.1.1.3). */
  ackNon2xx(call: SipCall, res: SipResponse): Buffer {
    return buildSip(`ACK ${call.uri} SIP/2.0`, [
      ['Via', `SIP/2.0/UDP ${this.contactHost};branch=${call.branch};rport`],
      ['Max-Forwards', '70'],
      ['From', `${this.from};tag=${call.fromTag}`],
      ['To', header(res, 'to') ?? `<${call.uri}>`],
      ['Call-ID', call.callId],
      ['CSeq', `${call.cseq} ACK`],
    ]);
  }

  /** CANCEL of the pending INVITE: same branch (RFC 3261 §9.1). */
  cancel(call: SipCall): Buffer {
    return buildSip(`CANCEL ${call.uri} SIP/2.0`, [
      ['Via', `SIP/2.0/UDP ${this.contactHost};branch=${call.branch};rport`],
      ['Max-Forwards', '70'],
      ['From', `${this.from};tag=${call.fromTag}`],
      ['To', `<${call.uri}>`],
      ['Call-ID', call.callId],
      ['CSeq', `${call.cseq} CANCEL`],
      ['User-Agent', USER_AGENT],
    ]);
  }

  /** A request inside the dialog (ACK of a 2xx, BYE): to the remote target, with both tags. */
  inDialog(call: SipCall, method: string, cseq: number): Buffer {
    const target = call.remoteTarget ?? call.uri;
    return buildSip(`${method} ${target} SIP/2.0`, [
      ['Via', `SIP/2.0/UDP ${this.contactHost};branch=z9hG4bK${rid(8)};rport`],
      ['Max-Forwards', '70'],
      ['From', `${this.from};tag=${call.fromTag}`],
      ['To', `<${call.uri}>${call.toTag ? `;tag=${call.toTag}` : ''}`],
      ['Call-ID', call.callId],
      ['CSeq', `${cseq} ${method}`],
      ['User-Agent', USER_AGENT],
    ]);
  }

  /** Where in-dialog requests go: the proxy when there is one, else the remote target. */
  dialogDest(call: SipCall): SipDest {
    if (this.settings.proxy) return call.dest;
    return (call.remoteTarget ? hostPortOf(call.remoteTarget) : undefined) ?? call.dest;
  }
}
