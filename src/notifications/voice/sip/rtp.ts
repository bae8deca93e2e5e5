/** G.711 μ-law RTP (RFC 3550) playback and RFC 4733 telephone-event reception for one call. */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';

export const PCMU = 0;
export const DEFAULT_TELEPHONE_EVENT_PT = 101;
const FRAME = 160; // 20 ms at 8 kHz
const DTMF_KEYS = '0123456789*#ABCD';

/** ITU-T G.711 μ-law encoding of one 16-bit linear sample. */
export function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  const CLIP = 32635;
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** μ-law audio of beeps (used when no speech synthesiser is installed): 3 × 0.3 s of 800 Hz with gaps. */
export function fallbackPrompt(): Buffer {
  const rate = 8000;
  const out: number[] = [];
  for (let b = 0; b < 3; b++) {
    for (let i = 0; i < 0.3 * rate; i++)
      out.push(linearToUlaw(8000 * Math.sin((2 * Math.PI * 800 * i) / rate)));
    for (let i = 0; i < 0.2 * rate; i++) out.push(0xff);
  }
  return Buffer.from(out);
}

export type DtmfEvent = { digit: string; rtpTimestamp: number; via: 'rfc4733' };

export type SdpAnswer = { address: string; port: number; telephoneEventPt: number; payloadTypes: number[] };

/** The SDP offer: PCMU plus telephone-event (RFC 4733, 0-16). */
export function sdpOffer(
  address: string,
  port: number,
  sessionId: number,
  pt = DEFAULT_TELEPHONE_EVENT_PT,
): string {
  return [
    'v=0',
    `o=hazwatch ${sessionId} ${sessionId} IN IP4 ${address}`,
    's=hazwatch',
    `c=IN IP4 ${address}`,
    't=0 0',
    `m=audio ${port} RTP/AVP ${PCMU} ${pt}`,
    `a=rtpmap:${PCMU} PCMU/8000`,
    `a=rtpmap:${pt} telephone-event/8000`,
    `a=fmtp:${pt} 0-16`,
    'a=ptime:20',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

export function parseSdpAnswer(sdp: string): SdpAnswer | undefined {
  const c = /^c=IN IP4 (\S+)/m.exec(sdp)?.[1];
  const m = /^m=audio (\d+) RTP\/AVP ([\d ]+)/m.exec(sdp);
  if (!c || !m?.[1]) return undefined;
  const te = /^a=rtpmap:(\d+) telephone-event\/8000/im.exec(sdp)?.[1];
  return {
    address: c,
    port: Number(m[1]),
    telephoneEventPt: te ? Number(te) : DEFAULT_TELEPHONE_EVENT_PT,
    payloadTypes: (m[2] ?? '').trim().split(/\s+/).map(Number),
  };
}

export type RtpPacket = {
  payloadType: number;
  seq: number;
  timestamp: number;
  marker: boolean;
  payload: Buffer;
};

/** RTP header (RFC 3550 §5.1) with CSRCs and a header extension skipped; undefined for anything else. */
export function parseRtp(msg: Buffer): RtpPacket | undefined {
  const b0 = msg[0];
  const b1 = msg[1];
  if (msg.length < 12 || b0 === undefined || b1 === undefined || b0 >> 6 !== 2) return undefined;
  let off = 12 + (b0 & 0x0f) * 4;
  if ((b0 & 0x10) !== 0) {
    if (msg.length < off + 4) return undefined;
    off += 4 + msg.readUInt16BE(off + 2) * 4;
  }
  if (msg.length < off) return undefined;
  return {
    payloadType: b1 & 0x7f,
    seq: msg.readUInt16BE(2),
    timestamp: msg.readUInt32BE(4),
    marker: (b1 & 0x80) !== 0,
    payload: msg.subarray(off),
  };
}

/**
 * RFC 4733 key presses from RTP packets. One key is sent as several packets sharing one RTP timestamp (the end packet
 * three times): it is reported once, on the first packet seen with a new timestamp.
 */
export class TelephoneEventDetector {
  /** The negotiated payload type; 101 is accepted too, as most gateways (and SIPp's recordings) use it. */
  payloadType = DEFAULT_TELEPHONE_EVENT_PT;
  private readonly seen = new Set<number>();

  push(msg: Buffer): DtmfEvent | undefined {
    const p = parseRtp(msg);
    if (
      !p ||
      (p.payloadType !== this.payloadType && p.payloadType !== DEFAULT_TELEPHONE_EVENT_PT) ||
      p.payload.length < 4
    )
      return undefined;
    const event = p.payload[0] ?? 255;
    if (event > 15 || this.seen.has(p.timestamp)) return undefined;
    this.seen.add(p.timestamp);
    if (this.seen.size > 1000) this.seen.delete(this.seen.values().next().value as number);
    return { digit: DTMF_KEYS[event] ?? '?', rtpTimestamp: p.timestamp, via: 'rfc4733' };
  }
}

/**
 * One call's media: binds a UDP port, plays μ-law audio to the remote side in 20 ms packets (the prompt repeated,
 * then silence), and reports RFC 4733 key presses — once per event, de-duplicated on the RTP timestamp (an event is
 * sent as several packets and its end packet three times).
 */
export class RtpSession {
  private timer: NodeJS.Timeout | undefined;
  private seq = randomBytes(2).readUInt16BE(0);
  private ts = randomBytes(4).readUInt32BE(0);
  private readonly ssrc = randomBytes(4).readUInt32BE(0);
  private readonly dtmf = new TelephoneEventDetector();
  private remote: { address: string; port: number } | undefined;
  /** RTP packets received (diagnostics). */
  received = 0;

  private constructor(
    private readonly socket: Socket,
    readonly port: number,
    private readonly onDtmf: (e: DtmfEvent) => void,
  ) {
    socket.on('message', (msg) => this.onPacket(msg));
  }

  /** Binds an even port in [min, max] on `address`. */
  static async open(
    address: string,
    min: number,
    max: number,
    onDtmf: (e: DtmfEvent) => void,
  ): Promise<RtpSession> {
    const span = Math.floor((max - min) / 2);
    for (let i = 0; i < 50; i++) {
      const port = min + 2 * Math.floor(Math.random() * (span + 1));
      const socket = createSocket('udp4');
      const ok = await new Promise<boolean>((resolve) => {
        socket.once('error', () => resolve(false));
        socket.bind(port, address, () => resolve(true));
      });
      if (ok) {
        socket.on('error', () => undefined);
        return new RtpSession(socket, port, onDtmf);
      }
      socket.close();
    }
    throw new Error(`no free RTP port in ${min}-${max} on ${address}`);
  }

  /** Starts sending `audio` `repeats` times (1 s of silence between), then silence, to the remote media address. */
  play(remote: SdpAnswer, audio: Buffer, repeats: number): void {
    this.remote = { address: remote.address, port: remote.port };
    this.dtmf.payloadType = remote.telephoneEventPt;
    const silence = Buffer.alloc(8000, 0xff);
    const parts: Buffer[] = [];
    for (let i = 0; i < repeats; i++) parts.push(audio, silence);
    const stream = Buffer.concat(parts);
    let offset = 0;
    let first = true;
    this.timer = setInterval(() => {
      const frame = Buffer.alloc(FRAME, 0xff);
      if (offset < stream.length) stream.copy(frame, 0, offset, Math.min(stream.length, offset + FRAME));
      offset += FRAME;
      this.send(frame, first);
      first = false;
    }, 20);
    this.timer.unref();
  }

  private send(payload: Buffer, marker: boolean): void {
    if (!this.remote) return;
    const h = Buffer.alloc(12);
    h[0] = 0x80;
    h[1] = (marker ? 0x80 : 0) | PCMU;
    h.writeUInt16BE(this.seq, 2);
    h.writeUInt32BE(this.ts >>> 0, 4);
    h.writeUInt32BE(this.ssrc, 8);
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + FRAME) >>> 0;
    this.socket.send(Buffer.concat([h, payload]), this.remote.port, this.remote.address);
  }

  private onPacket(msg: Buffer): void {
    this.received++;
    const e = this.dtmf.push(msg);
    if (e) this.onDtmf(e);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stop();
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}
