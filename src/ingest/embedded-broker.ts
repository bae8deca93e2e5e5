import { createServer, type Server } from 'node:net';
import { createBroker, type default as AedesBroker } from 'aedes';
import { JsonLogger } from '../common/logger';

export class PortInUseError extends Error {
  constructor(readonly port: number) {
    super(`MQTT_PORT ${port} is already in use (another broker?). Unset MQTT_PORT to let hazwatch pick a free port, or set MQTT_URL to use that broker.`);
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/**
 * In-process Aedes broker used when MQTT_URL is unset. Binds MQTT_PORT (default 1883); if the port was not set explicitly
 * and is taken, a free port is used and logged. An explicitly set port that is taken stops start-up.
 */
export class EmbeddedBroker {
  private readonly log = new JsonLogger('embedded-broker');
  private constructor(
    private readonly aedes: AedesBroker,
    private readonly server: Server,
    readonly port: number,
    readonly host: string,
  ) {}

  get url(): string {
    return `mqtt://${this.host}:${this.port}`;
  }

  static async start(opts: { port?: number; host?: string }): Promise<EmbeddedBroker> {
    const host = opts.host ?? '127.0.0.1';
    const aedes = createBroker({ concurrency: 1000, queueLimit: 100000 });
    const server = createServer(aedes.handle);
    let port: number;
    try {
      port = await listen(server, opts.port ?? 1883, host);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      if (opts.port !== undefined) throw new PortInUseError(opts.port);
      port = await listen(server, 0, host);
      new JsonLogger('embedded-broker').warn('port 1883 is taken (another MQTT broker is running there); the embedded broker listens on a free port instead', { port });
    }
    const broker = new EmbeddedBroker(aedes, server, port, host);
    broker.log.info('embedded MQTT broker listening', { url: broker.url });
    return broker;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
