import { EventEmitter } from 'node:events';
import type { TokenService } from './token.service';
import { TokenRevocationListener, type ListenConnection } from './token-revocation.listener';

/**
 * A pooled client as pg-pool hands it out: release() ends the client (which emits 'end' synchronously here, the
 * harshest order) and a second release() throws, as pg-pool's throwOnDoubleRelease does.
 */
class FakeConn extends EventEmitter implements ListenConnection {
  releases = 0;
  private listenResolve: (() => void) | undefined;
  constructor(private readonly holdListen: boolean) {
    super();
  }
  query(text: string): Promise<unknown> {
    if (text.startsWith('LISTEN') && this.holdListen) {
      return new Promise<void>((resolve) => (this.listenResolve = resolve));
    }
    return Promise.resolve();
  }
  finishListen(): void {
    this.listenResolve?.();
  }
  release(): void {
    this.releases++;
    if (this.releases > 1)
      throw new Error('Release called on client which has already been released to the pool.');
    this.emit('end');
  }
}

const tokens = () => {
  const listening: boolean[] = [];
  const svc = { setListening: (up: boolean) => listening.push(up), revokedElsewhere: jest.fn() };
  return { svc: svc as unknown as TokenService, listening };
};

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('TokenRevocationListener gives its connection back exactly once', () => {
  it('should release once when stopped while LISTEN is still in flight', async () => {
    const conn = new FakeConn(true);
    const t = tokens();
    const listener = new TokenRevocationListener(t.svc, () => Promise.resolve(conn), {
      retryInitialMs: 60_000,
    });
    const started = listener.start();
    await flush();
    await listener.stop();
    conn.finishListen();
    await started;
    expect(conn.releases).toBe(1);
    expect(listener.isListening).toBe(false);
    expect(t.listening).not.toContain(true);
  });

  it('should release once when stopped after listening, although release() itself ends the client', async () => {
    const conn = new FakeConn(false);
    const t = tokens();
    const listener = new TokenRevocationListener(t.svc, () => Promise.resolve(conn), {
      retryInitialMs: 60_000,
    });
    await listener.start();
    expect(listener.isListening).toBe(true);
    await listener.stop();
    expect(conn.releases).toBe(1);
    expect(listener.isListening).toBe(false);
  });

  it('should release once and reconnect when the connection reports both an error and its end', async () => {
    jest.useFakeTimers();
    try {
      const first = new FakeConn(false);
      const second = new FakeConn(false);
      const conns = [first, second];
      const t = tokens();
      const listener = new TokenRevocationListener(t.svc, () => Promise.resolve(conns.shift()!), {
        retryInitialMs: 100,
        retryMaxMs: 100,
      });
      await listener.start();
      first.emit('error', new Error('terminating connection due to administrator command'));
      first.emit('end');
      expect(first.releases).toBe(1);
      expect(listener.isListening).toBe(false);
      expect(t.listening.at(-1)).toBe(false);
      await jest.advanceTimersByTimeAsync(100);
      expect(listener.isListening).toBe(true);
      expect(t.listening.at(-1)).toBe(true);
      await listener.stop();
      expect(second.releases).toBe(1);
    } finally {
      jest.useRealTimers();
    }
  });
});
