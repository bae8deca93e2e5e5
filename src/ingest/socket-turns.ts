import type { Writable } from 'node:stream';

/**
 * How the MQTT socket shares the event loop with everything else (the telemetry writer's PostgreSQL socket above all).
 *
 * libuv reads a readable socket up to 32 times (64 KiB each) per poll phase, and mqtt.js handles every packet of a
 * read on `process.nextTick` before returning. Under a backlog that is ~2 MiB ≈ 20,000 messages ≈ half a second of
 * work before any other socket is served: the writer's COPY round trips then wait, its queue grows and stored
 * throughput collapses although the CPU is not the limit. So:
 *
 * - **Turn budget**: once `budgetBytes` arrived in one event-loop turn, the socket is paused; it resumes on
 *   `setImmediate`, after the poll phase served the other sockets. Nothing is dropped: unread bytes stay in the kernel
 *   and, beyond that, at the broker (QoS 1 in flight).
 * - **Liveness**: `onTurn` tells the keep-alive guard that the broker is talking (mqtt-client-hooks.ts: a PINGRESP can
 *   sit behind thousands of PUBLISH frames; incoming data vetoes the client's own timeout, PINGREQs still go out).
 * - **Quiet**: `onQuiet` runs once when a turn passes without data after turns with data (intake went quiet: the
 *   writer seals its open batch so held acknowledgements go out now, not after WRITER_FLUSH_MS).
 * - **Hold**: `hold(true)` stops reading the socket until `hold(false)` (back-pressure for what acks cannot throttle:
 *   QoS 0). The turn logic never resumes a held socket.
 * - **Corked acknowledgements**: the PUBACKs of one turn leave in one write (was one syscall per message, ~15 % of
 *   server CPU at 20k msg/s). Acks are delayed by less than one turn; nothing is acknowledged earlier than before.
 */
export type TurnSocket = {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  isPaused(): boolean;
  cork?: () => void;
  uncork?: () => void;
  destroyed?: boolean;
  pipe?(dest: Writable): unknown;
  unpipe?(dest?: Writable): unknown;
  _readableState?: { pipes?: unknown };
};

/**
 * Where a piped socket sends its data (Node's readable state). mqtt.js pipes its socket into a parser stream, and a pipe
 * resumes a paused source whenever the destination drains, so a hold must unpipe. Throws when a piped socket does not
 * show its destinations the way Node 14+ does (a hold that silently leaks data would break the memory bound).
 */
function pipeDestinations(socket: TurnSocket): Writable[] {
  const state = socket._readableState;
  if (state === undefined) return [];
  if (!Array.isArray(state.pipes))
    throw new Error('socket-turns: readable state without a pipes array; cannot hold the MQTT socket');
  return [...(state.pipes as Writable[])];
}

export type TurnOptions = {
  /** Bytes read in one event-loop turn before the socket yields. */
  budgetBytes: number;
  /** Runs `fn` after the current poll phase (setImmediate; injectable for tests). */
  defer?: (fn: () => void) => void;
  /** Counts a yield (metrics). */
  onYield?: () => void;
  /** Called once per turn in which data arrived (before the turn's chunks are handled). */
  onTurn?: () => void;
  /** Called once when a turn passes without data after a turn with data. */
  onQuiet?: () => void;
};

export type TurnControl = {
  /** Stop (true) or restart (false) reading the socket; idempotent. */
  hold(held: boolean): void;
  readonly held: boolean;
};

export function shareEventLoop(socket: TurnSocket, opts: TurnOptions): TurnControl {
  const defer = opts.defer ?? ((fn: () => void) => void setImmediate(fn));
  const canCork = typeof socket.cork === 'function' && typeof socket.uncork === 'function';
  let inTurn = false;
  let bytes = 0;
  let yielded = false;
  let held = false;
  let unpiped: Writable[] = [];
  // A quiet check is scheduled for the turn after a turn with data; data in between cancels it.
  let quietCheck = false;
  let sawData = false;
  const checkQuiet = (): void => {
    quietCheck = false;
    if (sawData) return;
    opts.onQuiet?.();
  };
  const endTurn = (): void => {
    inTurn = false;
    bytes = 0;
    if (canCork) socket.uncork!();
    if (yielded) {
      yielded = false;
      // Only undo our own pause: if the socket was destroyed meanwhile there is nothing to resume.
      if (!held && !socket.destroyed && socket.isPaused()) socket.resume();
    }
    if (opts.onQuiet && !quietCheck) {
      quietCheck = true;
      sawData = false;
      defer(checkQuiet);
    }
  };
  socket.on('data', (chunk: Buffer) => {
    sawData = true;
    // Something (a pipe draining) resumed a held socket: this chunk is handled, the next waits.
    if (held && !socket.destroyed && !socket.isPaused()) socket.pause();
    if (!inTurn) {
      inTurn = true;
      if (canCork) socket.cork!();
      defer(endTurn);
      opts.onTurn?.();
    }
    bytes += chunk.length;
    if (!yielded && bytes >= opts.budgetBytes) {
      yielded = true;
      socket.pause();
      opts.onYield?.();
    }
  });
  return {
    hold(h: boolean): void {
      if (h === held) return;
      held = h;
      if (socket.destroyed) return;
      if (h) {
        unpiped = pipeDestinations(socket);
        for (const d of unpiped) socket.unpipe!(d);
        if (!socket.isPaused()) socket.pause();
      } else {
        const dests = unpiped;
        unpiped = [];
        // pipe() resumes the source; a turn that yielded resumes it at its end instead.
        for (const d of dests) socket.pipe!(d);
        if (inTurn && yielded) {
          if (!socket.isPaused()) socket.pause();
        } else if (socket.isPaused()) socket.resume();
      }
    },
    get held(): boolean {
      return held;
    },
  };
}
