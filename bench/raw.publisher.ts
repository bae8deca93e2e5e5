/** One bench publisher connection: raw MQTT 3.1.1 over TCP, QoS 1, counting PUBACKs. */
import { connect as netConnect, type Socket } from 'node:net';
import { DISCONNECT, encodeConnect, FrameReader, PACKET } from './mqtt-wire';

export type RawPublisherOptions = {
  host: string;
  port: number;
  clientId: string;
  username?: string;
  password?: string;
  connectTimeoutMs?: number;
};

const CONNACK_CODES: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorised',
};

export class RawPublisher {
  sent = 0;
  acked = 0;
  /** Set when the connection failed or closed while publishing; the step reports it. */
  failure: Error | null = null;
  private socket: Socket | null = null;
  private readonly reader = new FrameReader();
  private packetId = 0;
  private ackListener: (() => void) | null = null;
  private closing = false;

  constructor(readonly opts: RawPublisherOptions) {}

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = netConnect(this.opts.port, this.opts.host);
      this.socket = socket;
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new Error(
            `bench publisher: no CONNACK from ${this.opts.host}:${this.opts.port} within ${this.opts.connectTimeoutMs ?? 10_000} ms`,
          ),
        );
      }, this.opts.connectTimeoutMs ?? 10_000);
      let connected = false;
      socket.once('connect', () =>
        socket.write(
          encodeConnect({
            clientId: this.opts.clientId,
            clean: true,
            keepaliveS: 0,
            ...(this.opts.username !== undefined ? { username: this.opts.username } : {}),
            ...(this.opts.password !== undefined ? { password: this.opts.password } : {}),
          }),
        ),
      );
      socket.on('data', (chunk: Buffer) =>
        this.reader.feed(chunk, (f) => {
          if (f.type === PACKET.PUBACK) {
            this.acked++;
            this.ackListener?.();
          } else if (f.type === PACKET.CONNACK && !connected) {
            clearTimeout(timer);
            const code = f.body[1] ?? 255;
            if (code !== 0) {
              socket.destroy();
              reject(
                new Error(
                  `bench publisher: broker refused the connection: ${CONNACK_CODES[code] ?? `code ${code}`}`,
                ),
              );
              return;
            }
            connected = true;
            resolve();
          }
        }),
      );
      socket.on('error', (err) => {
        if (!connected) {
          clearTimeout(timer);
          reject(
            new Error(
              `bench publisher: cannot connect to ${this.opts.host}:${this.opts.port}: ${err.message}`,
            ),
          );
        } else this.failure ??= err;
      });
      socket.on('close', () => {
        if (connected && !this.closing)
          this.failure ??= new Error(
            `bench publisher ${this.opts.clientId}: the broker closed the connection`,
          );
      });
    });
  }

  /** Next packet id, 1…65535 (the window is far below 65535, so an id is never reused while in flight). */
  nextPacketId(): number {
    this.packetId = this.packetId >= 65_535 ? 1 : this.packetId + 1;
    return this.packetId;
  }

  get inFlight(): number {
    return this.sent - this.acked;
  }

  /** Writes pre-encoded frames; resolves false-y backpressure through `drained`. */
  write(frames: Buffer, count: number): boolean {
    this.sent += count;
    return this.socket!.write(frames);
  }

  drained(): Promise<void> {
    return new Promise((resolve) => this.socket!.once('drain', () => resolve()));
  }

  onAck(listener: (() => void) | null): void {
    this.ackListener = listener;
  }

  async close(): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    this.closing = true;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        socket.destroy();
        resolve();
      }, 2000);
      socket.end(DISCONNECT, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
