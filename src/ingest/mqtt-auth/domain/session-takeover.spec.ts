import { NO_TAKEOVER, REASON_SESSION_TAKEN_OVER, SessionTakeoverDetector } from './session-takeover';

const opts = { streak: 3, windowMs: 60_000, clearAfterMs: 60_000 };

/** One connect → broker-side close cycle `gapMs` after the previous one. */
function cycle(d: SessionTakeoverDetector, t: number, upMs = 500) {
  d.connected(t);
  return d.closed(t + upMs);
}

describe('SessionTakeoverDetector', () => {
  it('should suspect a takeover after repeated broker-side closes of a session that reconnects at once', () => {
    const d = new SessionTakeoverDetector(opts);
    expect(cycle(d, 0).suspected).toBe(false);
    expect(cycle(d, 1_500).suspected).toBe(false);
    const s = cycle(d, 3_000);
    expect(s).toEqual({ suspected: true, reason: 'repeated_broker_closes', since: 3_500, closes: 3 });
  });

  it('should not suspect closes that come with network errors or failed reconnects (broker restart, cut link)', () => {
    const d = new SessionTakeoverDetector(opts);
    cycle(d, 0);
    d.connected(1_000);
    d.error(); // ECONNRESET / keepalive timeout
    d.closed(1_500);
    cycle(d, 3_000);
    d.closed(4_000); // a reconnect attempt that never got a CONNACK
    cycle(d, 5_000);
    expect(cycle(d, 6_000).suspected).toBe(false);
  });

  it('should not suspect closes spread over more than the window, nor our own shutdown', () => {
    const d = new SessionTakeoverDetector(opts);
    cycle(d, 0);
    cycle(d, 40_000);
    expect(cycle(d, 80_000).suspected).toBe(false);
    d.connected(90_000);
    expect(d.closed(90_100, true).suspected).toBe(false);
  });

  it('should suspect at once on an MQTT 5 DISCONNECT "session taken over"', () => {
    const d = new SessionTakeoverDetector(opts);
    d.connected(0);
    expect(d.disconnectPacket(0x00, 10)).toBe(NO_TAKEOVER);
    expect(d.disconnectPacket(REASON_SESSION_TAKEN_OVER, 100)).toMatchObject({
      suspected: true,
      reason: 'session_taken_over',
      since: 100,
    });
  });

  it('should clear once the session has been held for clearAfterMs, and not before', () => {
    const d = new SessionTakeoverDetector(opts);
    cycle(d, 0);
    cycle(d, 1_000);
    cycle(d, 2_000);
    d.connected(3_000);
    expect(d.tick(62_999).suspected).toBe(true);
    expect(d.tick(63_000)).toBe(NO_TAKEOVER);
    // a fresh streak is needed to raise it again
    expect(cycle(d, 70_000).suspected).toBe(false);
  });

  it('should stay suspected while disconnected', () => {
    const d = new SessionTakeoverDetector(opts);
    cycle(d, 0);
    cycle(d, 1_000);
    cycle(d, 2_000);
    expect(d.tick(500_000).suspected).toBe(true);
  });
});
