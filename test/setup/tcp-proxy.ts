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
    /**
     * A slow path (then `hang()` is not supported): `delayMs` forwards every chunk that many ms late; `bytesPerS` caps
     * each direction's throughput (released every 10 ms). Order is kept.
     */
    private readonly slow: { delayMs?: number; bytesPerS?: number } = {},
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
    if (this.slow.delayMs || this.slow.bytesPerS) {
      this.relaySlowly(client, upstream);
      this.relaySlowly(upstream, client);
      return;
    }
    if (this.hanging) {
      client.pause();
      return;
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private relaySlowly(from: Socket, to: Socket): void {
    const delay = this.slow.delayMs ?? 0;
    const perTick = this.slow.bytesPerS
      ? Math.max(1, Math.floor(this.slow.bytesPerS / 100))
      : Number.POSITIVE_INFINITY;
    const queue: Buffer[] = [];
    let ended = false;
    let timer: NodeJS.Timeout | undefined;
    const tick = (): void => {
      let budget = perTick;
      while (queue.length > 0 && budget > 0 && !to.destroyed) {
        const c = queue[0]!;
        if (c.length <= budget) {
          queue.shift();
          budget -= c.length;
          to.write(c);
        } else {
          to.write(c.subarray(0, budget));
          queue[0] = c.subarray(budget);
          budget = 0;
        }
      }
      if (queue.length === 0) {
        clearInterval(timer);
        timer = undefined;
        if (ended && !to.destroyed) to.end();
      }
    };
    const push = (c: Buffer): void => {
      queue.push(c);
      timer ??= setInterval(tick, 10);
    };
    from.on('data', (c: Buffer) => (delay > 0 ? setTimeout(() => push(c), delay) : push(c)));
    from.on('end', () => setTimeout(() => ((ended = true), (timer ??= setInterval(tick, 10))), delay));
    from.on('close', () => {
      clearInterval(timer);
      timer = undefined;
    });
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
