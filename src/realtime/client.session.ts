import type { WebSocket } from 'ws';
import type { Principal } from '../auth/principal';
import { JsonLogger } from '../common/logger';
import {
  encodeFrame,
  type AlarmEventDto,
  type ClientEvent,
  type ClientEventMap,
} from './domain/client-events';
import type { ReplayMerge } from './domain/replay.merge';
import type { TelemetryCoalescer } from './domain/telemetry.coalescer';

const log = new JsonLogger('realtime');

export type SessionPhase = 'authenticating' | 'open' | 'closing';

/** Called when a send leaves the socket's buffer above the limit. */
export type OverflowHandler = (session: ClientSession) => void;

let nextId = 1;

/** One /ws connection: its socket, principal, subscriptions' state and a serial queue for its frames. */
export class ClientSession {
  readonly id = nextId++;
  phase: SessionPhase = 'authenticating';
  principal: Principal | null = null;
  visibleSites: ReadonlySet<string> = new Set();
  /** Alarm replay/live merge while subscribed to alarms. */
  merge: ReplayMerge<AlarmEventDto> | null = null;
  coalescer: TelemetryCoalescer | null = null;
  authTimer: NodeJS.Timeout | null = null;
  closeTimer: NodeJS.Timeout | null = null;
  alive = true;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly ws: WebSocket,
    readonly ip: string,
    private readonly maxBufferedBytes: number,
    private readonly onOverflow: OverflowHandler,
  ) {}

  get isOpen(): boolean {
    return this.phase === 'open';
  }

  /** Runs frame handlers one after another, so an auth frame finishes before the subscribe that follows it. */
  enqueue(task: () => Promise<void> | void): void {
    this.queue = this.queue
      .then(task)
      .catch((err: unknown) => log.error('ws frame handler failed', { session: this.id, err }));
  }

  send<E extends ClientEvent>(event: E, data: ClientEventMap[E]): boolean {
    return this.sendRaw(encodeFrame(event, data));
  }

  /** Sends an encoded frame unless the session is closing; closes the client when its buffer overflows. */
  sendRaw(frame: string, onWritten?: (err?: Error) => void): boolean {
    if (this.phase === 'closing' || this.ws.readyState !== this.ws.OPEN) {
      onWritten?.(new Error('session closing'));
      return false;
    }
    this.ws.send(frame, onWritten);
    if (this.ws.bufferedAmount > this.maxBufferedBytes) {
      this.onOverflow(this);
      return false;
    }
    return true;
  }

  /** Resolves once everything sent so far has been handed to the OS (or the socket closed). */
  drained(): Promise<void> {
    if (this.ws.bufferedAmount === 0 || this.phase === 'closing') return Promise.resolve();
    return new Promise((resolve) => {
      if (this.ws.readyState !== this.ws.OPEN) return resolve();
      // An empty frame is not valid JSON for the client, so use a ping: its callback fires after the earlier frames.
      this.ws.ping(undefined, undefined, () => resolve());
    });
  }
}
