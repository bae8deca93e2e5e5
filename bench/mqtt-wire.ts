/**
 * Just enough MQTT 3.1.1 framing for the bench publisher: CONNECT, QoS 1 PUBLISH, DISCONNECT out; CONNACK and
 * PUBACK in. A general client (mqtt.js) costs ~35 µs of CPU per QoS 1 publish here, which would make the
 * publisher the bottleneck on a 2-core machine; writing frames in bulk costs ~2 µs.
 */

export const PACKET = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PINGRESP: 13,
  DISCONNECT: 14,
} as const;

export function remainingLengthSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/** Writes the MQTT variable-length "remaining length" at `offset`; returns the new offset. */
export function writeRemainingLength(buf: Buffer, offset: number, n: number): number {
  if (n < 0 || n > 268_435_455) throw new RangeError(`remaining length ${n} out of range`);
  let o = offset;
  let x = n;
  do {
    let digit = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) digit |= 0x80;
    buf[o++] = digit;
  } while (x > 0);
  return o;
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

export type ConnectOptions = {
  clientId: string;
  clean: boolean;
  keepaliveS: number;
  username?: string;
  password?: string;
};

export function encodeConnect(o: ConnectOptions): Buffer {
  let flags = o.clean ? 0x02 : 0;
  const payload = [str(o.clientId)];
  if (o.username !== undefined) {
    flags |= 0x80;
    payload.push(str(o.username));
  }
  if (o.password !== undefined) {
    flags |= 0x40;
    payload.push(str(o.password));
  }
  const variable = Buffer.from([
    0,
    4,
    0x4d,
    0x51,
    0x54,
    0x54,
    4,
    flags,
    (o.keepaliveS >> 8) & 0xff,
    o.keepaliveS & 0xff,
  ]);
  const body = Buffer.concat([variable, ...payload]);
  const out = Buffer.allocUnsafe(1 + remainingLengthSize(body.length) + body.length);
  out[0] = PACKET.CONNECT << 4;
  const o2 = writeRemainingLength(out, 1, body.length);
  body.copy(out, o2);
  return out;
}

export const DISCONNECT = Buffer.from([PACKET.DISCONNECT << 4, 0]);

/** Largest frame a QoS 1 publish of this topic and an ASCII payload of `payloadLength` bytes needs. */
export function publishFrameSize(topicLength: number, payloadLength: number): number {
  const rl = 2 + topicLength + 2 + payloadLength;
  return 1 + remainingLengthSize(rl) + rl;
}

/**
 * Writes a QoS 1 PUBLISH frame at `offset` (topic pre-encoded, payload ASCII); returns the new offset.
 * The buffer must have publishFrameSize(...) bytes free.
 */
export function writePublishQos1(
  buf: Buffer,
  offset: number,
  topic: Buffer,
  packetId: number,
  payload: string,
): number {
  const rl = 2 + topic.length + 2 + payload.length;
  buf[offset] = (PACKET.PUBLISH << 4) | 0x02;
  let o = writeRemainingLength(buf, offset + 1, rl);
  buf.writeUInt16BE(topic.length, o);
  o += 2;
  o += topic.copy(buf, o);
  buf.writeUInt16BE(packetId, o);
  o += 2;
  o += buf.write(payload, o, 'latin1');
  return o;
}

/** Writes a QoS 0 PUBLISH frame (no packet id; two bytes shorter than publishFrameSize allows). */
export function writePublishQos0(buf: Buffer, offset: number, topic: Buffer, payload: string): number {
  const rl = 2 + topic.length + payload.length;
  buf[offset] = PACKET.PUBLISH << 4;
  let o = writeRemainingLength(buf, offset + 1, rl);
  buf.writeUInt16BE(topic.length, o);
  o += 2;
  o += topic.copy(buf, o);
  o += buf.write(payload, o, 'latin1');
  return o;
}

export type Frame = { type: number; flags: number; body: Buffer };

/** Splits a byte stream into MQTT frames (handles frames split across chunks). */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  /** Feeds a chunk; calls `onFrame` for every complete frame. */
  feed(chunk: Buffer, onFrame: (f: Frame) => void): void {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let o = 0;
    for (;;) {
      if (buf.length - o < 2) break;
      let len = 0;
      let mul = 1;
      let i = o + 1;
      let complete = false;
      while (i < buf.length && i < o + 5) {
        const b = buf[i++]!;
        len += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || buf.length < i + len) break;
      onFrame({ type: buf[o]! >> 4, flags: buf[o]! & 0x0f, body: buf.subarray(i, i + len) });
      o = i + len;
    }
    this.pending = o < buf.length ? Buffer.from(buf.subarray(o)) : Buffer.alloc(0);
  }
}
