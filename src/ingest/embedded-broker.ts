import { createServer, type Server } from 'node:net';
import { createBroker, type default as AedesBroker } from 'aedes';
import type { Client } from 'aedes';
import { JsonLogger } from '../common/logger';
import type { MqttBrokerAuth, MqttDenyReason } from './mqtt-auth/mqtt-broker-auth';

export class PortInUseError extends Error {
  constructor(readonly port: number) {
    super(
      `MQTT_PORT ${port} is already in use (another broker?). Unset MQTT_PORT to let hazwatch pick a free port, or set MQTT_URL to use that broker.`,
    );
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

/** Default MQTT_MAX_PACKET_BYTES: far above a device message (≈ 200 B), far below what hurts the server. */
export const DEFAULT_MAX_PACKET_BYTES = 256 * 1024;

/** Who may connect and what they may do (docs/adr/0009-mqtt-authentication.md). */
export type EmbeddedBrokerSecurity = {
  readonly auth: MqttBrokerAuth;
  /** Largest MQTT packet (remaining length) accepted; a larger one closes the client's connection before it is read. */
  readonly maxPacketBytes: number;
  readonly onDenied?: (
    reason: MqttDenyReason,
    detail: { clientId: string; username?: string; topic?: string; remote?: string },
  ) => void;
  readonly onOversize?: (detail: { clientId: string | null; bytes: number; remote?: string }) => void;
};

/** The private bits of Aedes 0.51's client used here (pinned version; the broker tests fail if they move). */
type ParserInternals = { _parseLength(): boolean; _emitError(err: Error): void; packet: { length: number } };
type ClientInternals = Client & { _parser?: ParserInternals };

/** Aedes' CONNACK return codes (MQTT 3.1.1 §3.2.2.3). */
const IDENTIFIER_REJECTED = 2;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;
const SERVER_UNAVAILABLE = 3;

const authError = (message: string, returnCode: number): Error & { returnCode: number } =>
  Object.assign(new Error(message), { returnCode });

/**
 * Refuses a packet larger than `max` as soon as its fixed header is read: mqtt-packet would otherwise buffer the whole
 * packet (tens of MB) before anything sees it. Aedes 0.51 has no option for this, so the client's parser is wrapped.
 */
function limitPacketSize(client: ClientInternals, max: number, onOversize: (bytes: number) => void): void {
  const parser = client._parser;
  if (!parser || typeof parser._parseLength !== 'function')
    throw new Error('aedes client has no mqtt-packet parser to bound (aedes version changed?)');
  const parseLength = parser._parseLength.bind(parser);
  parser._parseLength = () => {
    const done = parseLength();
    if (done && parser.packet.length > max) {
      onOversize(parser.packet.length);
      parser._emitError(
        new Error(`packet of ${parser.packet.length} bytes exceeds the limit of ${max} bytes`),
      );
      return false;
    }
    return done;
  };
}

/**
 * In-process Aedes broker used when MQTT_URL is unset. Binds MQTT_PORT (default 1883); if the port was not set explicitly
 * and is taken, a free port is used and logged. An explicitly set port that is taken stops start-up.
 * Every client authenticates against the MQTT user store and may publish/subscribe only what its role allows.
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

  static async start(opts: {
    port?: number;
    host?: string;
    security: EmbeddedBrokerSecurity;
  }): Promise<EmbeddedBroker> {
    const host = opts.host ?? '127.0.0.1';
    const sec = opts.security;
    const log = new JsonLogger('embedded-broker');
    /** Username each authenticated client connected with; rights are looked up by it on every publish. */
    const usernames = new WeakMap<Client, string>();
    const remote = (c: Client | null): string | undefined => {
      const conn: unknown = c?.conn;
      return conn &&
        typeof conn === 'object' &&
        'remoteAddress' in conn &&
        typeof conn.remoteAddress === 'string'
        ? conn.remoteAddress
        : undefined;
    };
    const denied = (
      reason: MqttDenyReason,
      detail: { clientId: string; username?: string; topic?: string; remote?: string },
    ): void => {
      log.warn('MQTT client refused', { reason, ...detail });
      sec.onDenied?.(reason, detail);
    };
    const aedes = createBroker({
      concurrency: 1000,
      queueLimit: 100000,
      authenticate: (client, username, password, done) => {
        sec.auth.authenticate(client.id, username, password).then(
          (r) => {
            if (r.ok) {
              usernames.set(client, r.principal.username);
              return done(null, true);
            }
            denied(r.reason, {
              clientId: client.id,
              ...(username ? { username } : {}),
              ...(remote(client) ? { remote: remote(client) } : {}),
            });
            const code =
              r.reason === 'client_id_reserved'
                ? IDENTIFIER_REJECTED
                : r.reason === 'anonymous'
                  ? NOT_AUTHORIZED
                  : BAD_USERNAME_OR_PASSWORD;
            done(authError(`refused: ${r.reason}`, code), false);
          },
          (err: unknown) => {
            log.error('MQTT authentication failed internally (user store unreadable?)', {
              err: (err as Error).message,
            });
            done(authError('server unavailable', SERVER_UNAVAILABLE), false);
          },
        );
      },
      authorizePublish: (client, packet, callback) => {
        const username = client ? usernames.get(client) : undefined;
        if (username !== undefined && sec.auth.mayPublish(username, packet.topic)) return callback(null);
        denied('publish_denied', {
          clientId: client?.id ?? '(none)',
          ...(username ? { username } : {}),
          topic: packet.topic,
          ...(remote(client) ? { remote: remote(client) } : {}),
        });
        callback(new Error(`not authorised to publish to ${packet.topic}`));
      },
      authorizeSubscribe: (client, sub, callback) => {
        const username = usernames.get(client);
        if (username !== undefined && sec.auth.maySubscribe(username, sub.topic)) return callback(null, sub);
        denied('subscribe_denied', {
          clientId: client.id,
          ...(username ? { username } : {}),
          topic: sub.topic,
          ...(remote(client) ? { remote: remote(client) } : {}),
        });
        callback(null, null); // SUBACK 0x80 for this filter
      },
    });
    const server = createServer((socket) => {
      const client = aedes.handle(socket) as ClientInternals;
      limitPacketSize(client, sec.maxPacketBytes, (bytes) => {
        log.warn('MQTT packet over the size limit: connection closed', {
          clientId: client.id,
          bytes,
          limit: sec.maxPacketBytes,
          remote: socket.remoteAddress,
        });
        sec.onOversize?.({
          clientId: client.id,
          bytes,
          ...(socket.remoteAddress ? { remote: socket.remoteAddress } : {}),
        });
      });
    });
    let port: number;
    try {
      port = await listen(server, opts.port ?? 1883, host);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      if (opts.port !== undefined) throw new PortInUseError(opts.port);
      port = await listen(server, 0, host);
      log.warn(
        'port 1883 is taken (another MQTT broker is running there); the embedded broker listens on a free port instead',
        { port },
      );
    }
    const broker = new EmbeddedBroker(aedes, server, port, host);
    broker.log.info('embedded MQTT broker listening', {
      url: broker.url,
      maxPacketBytes: sec.maxPacketBytes,
      auth: 'required',
    });
    return broker;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
