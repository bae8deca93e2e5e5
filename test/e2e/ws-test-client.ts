import WebSocket from 'ws';
import { pollUntil } from '../setup/poll-until';

export type Frame = { event: string; data: Record<string, unknown> };

/** A /ws client for tests: records every frame and the close, and waits on them without sleeping. */
export class WsTestClient {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.frames.push(JSON.parse(data.toString('utf8')) as Frame));
    ws.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString('utf8') };
    });
    ws.on('error', () => undefined);
  }

  static connect(url: string, headers: Record<string, string> = {}): Promise<WsTestClient> {
    const ws = new WebSocket(url, { headers });
    const client = new WsTestClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  send(event: string, data: unknown): void {
    this.ws.send(JSON.stringify({ event, data }));
  }

  of(event: string): Frame[] {
    return this.frames.filter((f) => f.event === event);
  }

  waitFor(
    event: string,
    pred: (data: Record<string, unknown>) => boolean = () => true,
    timeoutMs = 5_000,
  ): Promise<Frame> {
    return pollUntil(() => this.frames.find((f) => f.event === event && pred(f.data)), {
      timeoutMs,
      what: `frame '${event}'`,
    });
  }

  waitClosed(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    return pollUntil(() => this.closed, { timeoutMs, what: 'close' });
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.terminate();
  }
}
