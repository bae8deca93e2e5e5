import {
  Inject,
  Injectable,
  Optional,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { JsonLogger } from '../common/logger';
import { TokenService } from './token.service';

/** The channel the api_token trigger notifies with the revoked token's id (migrations/…_token-revoked-notify.sql). */
export const TOKEN_REVOKED_CHANNEL = 'hazwatch_token_revoked';

/** The slice of a dedicated pg connection LISTEN needs (a pg PoolClient or Client). */
export type ListenConnection = {
  query(text: string): Promise<unknown>;
  on(event: 'notification', fn: (msg: { channel: string; payload?: string }) => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  on(event: 'end', fn: () => void): unknown;
  removeAllListeners(event?: string): unknown;
  /** Gives the connection back for good (a pooled client is destroyed, not reused: it holds a LISTEN). */
  release(err?: Error | boolean): void;
};

export type ListenConnector = () => Promise<ListenConnection>;

/** DI token for the connector (AuthModule binds it to storage's Database.acquire). */
export const TOKEN_LISTEN_CONNECTOR = Symbol('TOKEN_LISTEN_CONNECTOR');

/** Optional DI token to override the reconnect backoff (tests). */
export const TOKEN_LISTENER_OPTIONS = Symbol('TOKEN_LISTENER_OPTIONS');

export type ListenerOptions = { readonly retryInitialMs: number; readonly retryMaxMs: number };
export const DEFAULT_LISTENER_OPTIONS: ListenerOptions = { retryInitialMs: 500, retryMaxMs: 10_000 };

/**
 * Holds one database connection that LISTENs on hazwatch_token_revoked, so a token revoked anywhere — this server's
 * API, another server, the token CLI, plain SQL — is dropped from this server's cache and its /ws sessions are closed
 * at once (docs/threat-model.md, "Tokens"). When the connection is lost, the token cache re-reads every token each
 * second until it is back (TokenService.setListening), and on reconnect every cached token and session is re-checked.
 */
@Injectable()
export class TokenRevocationListener implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new JsonLogger('auth');
  private conn: ListenConnection | undefined;
  /** Gives `conn` back once (see attempt()). */
  private dispose: (() => void) | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private stopped = false;
  private readonly opts: ListenerOptions;

  constructor(
    private readonly tokens: TokenService,
    @Inject(TOKEN_LISTEN_CONNECTOR) private readonly connect: ListenConnector,
    @Optional() @Inject(TOKEN_LISTENER_OPTIONS) opts?: Partial<ListenerOptions>,
  ) {
    this.opts = { ...DEFAULT_LISTENER_OPTIONS, ...opts };
    this.delayMs = this.opts.retryInitialMs;
  }

  onApplicationBootstrap(): void {
    this.tokens.setListening(false);
    void this.attempt();
  }

  /** Before the database pool closes (onApplicationShutdown), which would otherwise wait for this held connection. */
  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  /** Connected and listening now. */
  get isListening(): boolean {
    return this.conn !== undefined;
  }

  /** Starts listening (for use outside Nest, e.g. tests); resolves after the first attempt. */
  async start(): Promise<void> {
    this.tokens.setListening(false);
    await this.attempt();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const conn = this.conn;
    const dispose = this.dispose;
    this.conn = undefined;
    this.dispose = undefined;
    if (conn && dispose) {
      await conn.query(`UNLISTEN ${TOKEN_REVOKED_CHANNEL}`).catch(() => undefined);
      dispose();
    }
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    let conn: ListenConnection;
    try {
      conn = await this.connect();
    } catch (err) {
      return this.retry(err);
    }
    // A connection is given back exactly once, whichever comes first: stop(), the connection's own 'end' or 'error'
    // (both may fire, and release() itself ends the client, which emits 'end'), or a stop() that raced the LISTEN.
    let lost = false;
    const dispose = (err?: Error): void => {
      if (lost) return;
      lost = true;
      if (this.conn === conn) {
        this.conn = undefined;
        this.dispose = undefined;
      }
      conn.removeAllListeners('notification');
      conn.release(err ?? true);
    };
    const onLost = (err?: Error): void => {
      if (lost) return;
      dispose(err);
      if (this.stopped) return;
      this.tokens.setListening(false);
      this.retry(err ?? new Error('connection ended'));
    };
    conn.on('error', (err) => onLost(err));
    conn.on('end', () => onLost());
    conn.on('notification', (msg) => {
      if (msg.channel !== TOKEN_REVOKED_CHANNEL || !msg.payload) return;
      this.log.info('api token revoked (notified): closing its sessions', { id: msg.payload });
      this.tokens.revokedElsewhere(msg.payload);
    });
    try {
      await conn.query(`LISTEN ${TOKEN_REVOKED_CHANNEL}`);
    } catch (err) {
      return onLost(err instanceof Error ? err : new Error(String(err)));
    }
    if (this.stopped || lost) {
      dispose();
      return;
    }
    this.conn = conn;
    this.dispose = dispose;
    this.delayMs = this.opts.retryInitialMs;
    this.tokens.setListening(true);
    this.log.info('listening for token revocations', { channel: TOKEN_REVOKED_CHANNEL });
  }

  private retry(err: unknown): void {
    if (this.stopped) return;
    this.log.warn(
      'token revocation listener not connected; revocations are re-read each second until it is',
      {
        retryInMs: this.delayMs,
        error: err instanceof Error ? err.message : String(err),
      },
    );
    this.retryTimer = setTimeout(() => void this.attempt(), this.delayMs);
    this.retryTimer.unref();
    this.delayMs = Math.min(this.delayMs * 2, this.opts.retryMaxMs);
  }
}
