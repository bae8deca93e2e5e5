import {
  TelephoneEventDetector,
  fallbackPrompt,
  linearToUlaw,
  parseRtp,
  parseSdpAnswer,
  sdpOffer,
} from './rtp';

/** An RTP packet carrying an RFC 4733 event. */
function eventPacket(o: {
  pt?: number;
  seq: number;
  ts: number;
  event: number;
  end?: boolean;
  duration: number;
  csrc?: number;
}): Buffer {
  const cc = o.csrc ?? 0;
  const b = Buffer.alloc(12 + cc * 4 + 4);
  b[0] = 0x80 | cc;
  b[1] = o.pt ?? 101;
  b.writeUInt16BE(o.seq, 2);
  b.writeUInt32BE(o.ts, 4);
  b.writeUInt32BE(0x1234, 8);
  const off = 12 + cc * 4;
  b[off] = o.event;
  b[off + 1] = (o.end ? 0x80 : 0) | 10;
  b.writeUInt16BE(o.duration, off + 2);
  return b;
}

describe('RTP and telephone events', () => {
  it('should encode μ-law per G.711 at silence and full scale', () => {
    expect(linearToUlaw(0)).toBe(0xff);
    expect(linearToUlaw(32767)).toBe(0x80);
    expect(linearToUlaw(-32768)).toBe(0x00);
    expect(linearToUlaw(-1)).toBe(0x7f);
    expect(fallbackPrompt().length).toBe(8000 * 1.5);
  });

  it('should report a key once although it arrives as several packets and three end packets', () => {
    const d = new TelephoneEventDetector();
    const packets = [
      eventPacket({ seq: 1, ts: 1000, event: 1, duration: 160 }),
      eventPacket({ seq: 2, ts: 1000, event: 1, duration: 320 }),
      eventPacket({ seq: 3, ts: 1000, event: 1, duration: 480, end: true }),
      eventPacket({ seq: 4, ts: 1000, event: 1, duration: 480, end: true }),
      eventPacket({ seq: 5, ts: 1000, event: 1, duration: 480, end: true }),
      eventPacket({ seq: 6, ts: 5000, event: 11, duration: 160, csrc: 2 }),
      eventPacket({ seq: 7, ts: 9000, event: 1, duration: 160, pt: 0 }),
    ];
    expect(packets.map((p) => d.push(p)?.digit)).toEqual([
      '1',
      undefined,
      undefined,
      undefined,
      undefined,
      '#',
      undefined,
    ]);
  });

  it('should accept the negotiated payload type', () => {
    const d = new TelephoneEventDetector();
    d.payloadType = 96;
    expect(d.push(eventPacket({ seq: 1, ts: 1, event: 5, duration: 160, pt: 96 }))?.digit).toBe('5');
  });

  it('should ignore what is not RTP', () => {
    expect(parseRtp(Buffer.from('hello world!'))).toBeUndefined();
    expect(new TelephoneEventDetector().push(Buffer.alloc(8))).toBeUndefined();
  });

  it('should offer PCMU and telephone-event and read the answer', () => {
    const offer = sdpOffer('127.0.0.1', 40000, 1);
    expect(offer).toContain('m=audio 40000 RTP/AVP 0 101');
    expect(offer).toContain('a=rtpmap:101 telephone-event/8000');
    expect(
      parseSdpAnswer(
        'v=0\r\nc=IN IP4 10.0.0.5\r\nm=audio 6000 RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\n',
      ),
    ).toEqual({
      address: '10.0.0.5',
      port: 6000,
      telephoneEventPt: 96,
      payloadTypes: [0, 96],
    });
  });
});
