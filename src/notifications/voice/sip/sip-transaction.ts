/**
 * SIP transaction timers (RFC 3261 §17.1) on the injected `Scheduler` (src/common/timer.port.ts), so a call runs
 * through its timeouts in virtual time in unit specs: Timer A (INVITE retransmission, doubling from T1 up to T2),
 * Timer B (INVITE transaction timeout, 64·T1), and the user agent's own per-call timers (ring timeout, CANCEL wait,
 * BYE retransmission and give-up, key timeout).
 */
import type { Scheduler, TimerHandle } from '../../../common/timer.port';

/** RTT estimate (RFC 3261 §17.1.1.1). */
export const T1 = 500;
/** Cap of the retransmit interval (RFC 3261's T2; it caps non-INVITE retransmissions, here INVITE's too: a phone network hop is slow). */
export const T2 = 4_000;
/** INVITE transaction timeout; also how long a CANCELed INVITE waits for its 487 and a finished call is kept. */
export const TIMER_B = 64 * T1;

/**
 * Timer A and Timer B of one INVITE client transaction: `retransmit` at T1, 2·T1, 4·T1, … (capped at T2) until
 * `stop` (any response), `timeout` once at Timer B unless stopped first.
 */
export class InviteTimers {
  private timerA: TimerHandle | undefined;
  private readonly timerB: TimerHandle;

  constructor(scheduler: Scheduler, retransmit: () => void, timeout: () => void) {
    let interval = T1;
    const fireA = (): void => {
      retransmit();
      interval = Math.min(interval * 2, T2);
      this.timerA = scheduler.after(interval, fireA);
    };
    this.timerA = scheduler.after(interval, fireA);
    this.timerB = scheduler.after(TIMER_B, () => {
      this.stop();
      timeout();
    });
  }

  stop(): void {
    this.timerA?.cancel();
    this.timerA = undefined;
    this.timerB.cancel();
  }
}

/** The timers of one call: all cancelled at once when the call ends. */
export class CallTimers {
  private readonly handles: TimerHandle[] = [];
  private invite: InviteTimers | undefined;

  constructor(private readonly scheduler: Scheduler) {}

  after(ms: number, fn: () => void): void {
    this.handles.push(this.scheduler.after(ms, fn));
  }

  /** Starts the timers of a new INVITE transaction (a retried INVITE replaces the previous one's). */
  startInvite(retransmit: () => void, timeout: () => void): void {
    this.invite?.stop();
    this.invite = new InviteTimers(this.scheduler, retransmit, timeout);
  }

  /** A response arrived: the INVITE is no longer retransmitted, Timer B no longer runs. */
  stopInvite(): void {
    this.invite?.stop();
    this.invite = undefined;
  }

  cancelAll(): void {
    this.stopInvite();
    for (const h of this.handles.splice(0)) h.cancel();
  }
}
