/** The SIP transport: one UDP socket the user agent sends from and receives on (RFC 3261 §18, UDP only). */
import { createSocket, type Socket } from 'node:dgram';
import type { JsonLogger } from '../../../common/logger';

export type SipDest = { readonly host: string; readonly port: number };

export type SipTransport = {
  /** Resolves once the transport listens; rejects (once) when it cannot. */
  readonly ready: Promise<void>;
  /** The local port (after `ready`). */
  port(): number;
  send(buf: Buffer, dest: SipDest): void;
  /** Every datagram received, with where it came from. */
  onMessage(handler: (buf: Buffer, from: SipDest) => void): void;
  close(): void;
};

/** UDP on `address:port` (port 0: any free port). */
export class UdpSipTransport implements SipTransport {
  readonly ready: Promise<void>;
  private socket: Socket | undefined;
  private localPort = 0;
  private handler: (buf: Buffer, from: SipDest) => void = () => undefined;

  constructor(
    private readonly address: string,
    port: number,
    private readonly log: JsonLogger,
  ) {
    this.ready = this.bind(port);
  }

  port(): number {
    return this.localPort;
  }

  send(buf: Buffer, dest: SipDest): void {
    this.socket?.send(buf, dest.port, dest.host);
  }

  onMessage(handler: (buf: Buffer, from: SipDest) => void): void {
    this.handler = handler;
  }

  close(): void {
    this.socket?.close();
  }

  private async bind(port: number): Promise<void> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, this.address, () => {
        socket.removeListener('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => this.log.error('SIP socket error', { err }));
    socket.on('message', (msg, rinfo) => this.handler(msg, { host: rinfo.address, port: rinfo.port }));
    this.socket = socket;
    this.localPort = socket.address().port;
  }
}
