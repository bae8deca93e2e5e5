import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy for outage tests: put it between a client and a server, then `cut()` (destroy every open
 * connection and refuse new ones: the listener closes, so connects get ECONNREFUSED) and `restore()`
 * (listen again on the same port). `hang()` stops forwarding without closing anything (a database that stopped
 * answering: every socket stays open, bytes pile up in the proxy) until `unhang()`.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private portNo = 0;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket }>();
  private hanging = false;
  connections = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  get port(): number {
    return this.portNo;
  }

  get isCut(): boolean {
    return this.server === undefined;
  }

  async start(port = 0): Promise<number> {
    const server = createServer((client) => this.onConnection(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    this.portNo = typeof addr === 'object' && addr ? addr.port : port;
    this.server = server;
    return this.portNo;
  }

  private onConnection(client: Socket): void {
    this.connections++;
    const upstream = connect(this.targetPort, this.targetHost);
    // Like the endpoints (node-postgres sets TCP_NODELAY): a relay with Nagle on adds delayed-ACK stalls (~40 ms) to
    // every small round trip, which made spool replay through the proxy 10× slower than against PostgreSQL itself.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    const pair = { client, upstream };
    this.pairs.add(pair);
    client.on('close', () => this.pairs.delete(pair));
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    if (this.hanging) {
      client.pause();
      return;
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  get isHanging(): boolean {
    return this.hanging;
  }

  /** Stops forwarding in both directions; connections stay open (new ones are accepted and not forwarded). */
  hang(): void {
    if (this.hanging) return;
    this.hanging = true;
    for (const { client, upstream } of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  /** Forwards again whatever waited, then everything new. */
  unhang(): void {
    if (!this.hanging) return;
    this.hanging = false;
    for (const { client, upstream } of this.pairs) {
      client.pipe(upstream);
      upstream.pipe(client);
    }
  }

  /** Destroys every connection and stops listening. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async restore(): Promise<void> {
    if (this.server) return;
    await this.start(this.portNo);
  }

  async close(): Promise<void> {
    await this.cut();
  }
}
