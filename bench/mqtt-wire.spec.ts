import { parser as mqttParser, type Packet } from 'mqtt-packet';
import {
  DISCONNECT,
  encodeConnect,
  FrameReader,
  PACKET,
  publishFrameSize,
  writePublishQos1,
  writeRemainingLength,
} from './mqtt-wire';

/** Decodes bytes with the mqtt-packet parser that mqtt.js (and so the server) uses. */
function parseAll(bytes: Buffer): Packet[] {
  const p = mqttParser({ protocolVersion: 4 });
  const packets: Packet[] = [];
  p.on('packet', (pk: Packet) => packets.push(pk));
  p.on('error', (err: Error) => {
    throw err;
  });
  p.parse(bytes);
  return packets;
}

describe('mqtt-wire', () => {
  it('should encode a CONNECT that a standard MQTT parser reads back', () => {
    const [pk] = parseAll(
      encodeConnect({ clientId: 'hzbench-x-pub0', clean: true, keepaliveS: 0, username: 'u', password: 'p' }),
    );
    expect(pk).toMatchObject({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: 'hzbench-x-pub0',
      clean: true,
      keepalive: 0,
      username: 'u',
    });
    expect(String((pk as { password?: Buffer }).password)).toBe('p');
  });

  it('should encode batches of QoS 1 PUBLISH frames that a standard parser reads back exactly', () => {
    const topic = Buffer.from('hazwatch/v1/bench-r-s0/gd-0/telemetry');
    const payloads = ['{"ts":1,"seq":0,"values":{"conc":0.5,"fault":false}}', 'x'.repeat(300)];
    const buf = Buffer.alloc(payloads.reduce((n, p) => n + publishFrameSize(topic.length, p.length), 0));
    let o = 0;
    payloads.forEach((p, i) => (o = writePublishQos1(buf, o, topic, 65_535 - i, p)));
    expect(o).toBe(buf.length);
    const pks = parseAll(buf) as Array<
      Packet & { topic: string; payload: Buffer; qos: number; messageId: number; retain: boolean }
    >;
    expect(pks.map((p) => [p.cmd, p.topic, p.qos, p.messageId, p.retain, p.payload.toString()])).toEqual([
      ['publish', topic.toString(), 1, 65_535, false, payloads[0]],
      ['publish', topic.toString(), 1, 65_534, false, payloads[1]],
    ]);
  });

  it('should encode DISCONNECT', () => {
    expect(parseAll(DISCONNECT)[0]?.cmd).toBe('disconnect');
  });

  it.each([0, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455])(
    'should round-trip remaining length %d',
    (n) => {
      const buf = Buffer.alloc(4);
      const end = writeRemainingLength(buf, 0, n);
      let v = 0;
      let mul = 1;
      for (let i = 0; i < end; i++) {
        v += (buf[i]! & 0x7f) * mul;
        mul *= 128;
      }
      expect(v).toBe(n);
      expect(end).toBe(n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4);
    },
  );

  it('should reassemble frames split across chunks when reading PUBACKs', () => {
    const stream = Buffer.from([0x20, 2, 0, 0, 0x40, 2, 0, 1, 0x40, 2, 0, 2]);
    const reader = new FrameReader();
    const types: number[] = [];
    for (let i = 0; i < stream.length; i += 3)
      reader.feed(stream.subarray(i, i + 3), (f) => types.push(f.type));
    expect(types).toEqual([PACKET.CONNACK, PACKET.PUBACK, PACKET.PUBACK]);
  });
});
