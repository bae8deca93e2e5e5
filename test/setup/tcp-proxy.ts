import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy for outage tests: put it between a client and a server, then `cut()` (destroy every open
 * connection and refuse new ones: the listener closes, so connects get ECONNREFUSED) and `restore()`
 * (listen again on the same port).
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly pairs = new Set<[Socket, Socket]>();
  private hung = false;
  private portNo = 0;
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
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    client.on('close', () => this.pairs.delete(pair));
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    if (this.hung) client.pause();
    else this.relay(pair);
  }

  private relay([client, upstream]: [Socket, Socket]): void {
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /**
   * A hung peer: connections stay open (and new ones are accepted) but no byte is forwarded either way until
   * `unhang()`; what was sent meanwhile is delivered then, in order.
   */
  hang(): void {
    if (this.hung) return;
    this.hung = true;
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  unhang(): void {
    if (!this.hung) return;
    this.hung = false;
    for (const pair of this.pairs) this.relay(pair);
  }

  /** Destroys every connection and stops listening. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.pairs.clear();
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
