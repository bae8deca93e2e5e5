import { EventEmitter } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { shareEventLoop } from './socket-turns';

/** A socket stand-in recording pause/resume/cork/uncork; `defer` queues turn ends for the test to run. */
function harness(budgetBytes: number) {
  const calls: string[] = [];
  const deferred: Array<() => void> = [];
  let paused = false;
  const sock = Object.assign(new EventEmitter(), {
    destroyed: false,
    pause: () => {
      paused = true;
      calls.push('pause');
    },
    resume: () => {
      paused = false;
      calls.push('resume');
    },
    isPaused: () => paused,
    cork: () => calls.push('cork'),
    uncork: () => calls.push('uncork'),
  });
  let yields = 0;
  let turns = 0;
  let quiet = 0;
  const control = shareEventLoop(sock, {
    budgetBytes,
    defer: (fn) => deferred.push(fn),
    onYield: () => yields++,
    onTurn: () => turns++,
    onQuiet: () => quiet++,
  });
  const data = (n: number) => sock.emit('data', Buffer.alloc(n));
  const endTurn = () => deferred.splice(0).forEach((fn) => fn());
  return {
    sock,
    calls,
    data,
    endTurn,
    yields: () => yields,
    turns: () => turns,
    quiet: () => quiet,
    control,
    deferred,
    isPaused: () => paused,
  };
}

describe('shareEventLoop', () => {
  it('corks on the first chunk of a turn and uncorks once at the end of the turn', () => {
    const h = harness(1000);
    h.data(100);
    h.data(100);
    expect(h.calls).toEqual(['cork']);
    expect(h.deferred).toHaveLength(1);
    h.endTurn();
    expect(h.calls).toEqual(['cork', 'uncork']);
    h.data(10);
    expect(h.calls).toEqual(['cork', 'uncork', 'cork']);
  });

  it('pauses the socket once the turn budget is reached and resumes it after the turn', () => {
    const h = harness(1000);
    h.data(600);
    expect(h.isPaused()).toBe(false);
    h.data(600);
    expect(h.isPaused()).toBe(true);
    expect(h.yields()).toBe(1);
    // Bytes already pushed by the stream in the same turn do not pause twice.
    h.data(600);
    expect(h.calls.filter((c) => c === 'pause')).toHaveLength(1);
    h.endTurn();
    expect(h.isPaused()).toBe(false);
    expect(h.calls).toEqual(['cork', 'pause', 'uncork', 'resume']);
  });

  it('reports liveness once per turn in which data arrived, not per chunk', () => {
    const h = harness(1000);
    expect(h.turns()).toBe(0);
    h.data(10);
    h.data(10);
    h.data(10);
    expect(h.turns()).toBe(1);
    h.endTurn();
    h.endTurn(); // a turn without data
    expect(h.turns()).toBe(1);
    h.data(10);
    expect(h.turns()).toBe(2);
  });

  it('starts every turn with a fresh budget', () => {
    const h = harness(1000);
    h.data(900);
    h.endTurn();
    h.data(900);
    expect(h.isPaused()).toBe(false);
    h.endTurn();
    expect(h.yields()).toBe(0);
  });

  it('does not resume a socket it did not pause, nor a destroyed one', () => {
    const h = harness(1000);
    h.data(10);
    h.sock.pause(); // e.g. pipe back-pressure
    h.endTurn();
    expect(h.isPaused()).toBe(true);

    const d = harness(10);
    d.data(20);
    d.sock.destroyed = true;
    d.endTurn();
    expect(d.calls).not.toContain('resume');
  });

  it('reports intake quiet once when a turn passes without data after a turn with data', () => {
    const h = harness(1000);
    h.data(10);
    h.endTurn(); // the turn with data ends; a quiet check is scheduled
    h.data(10); // more data before the check: not quiet
    h.endTurn(); // runs the check (not quiet) and ends the data turn (schedules the next check)
    expect(h.quiet()).toBe(0);
    h.endTurn(); // a turn without data
    expect(h.quiet()).toBe(1);
    h.endTurn();
    expect(h.quiet()).toBe(1);
  });

  it('keeps a held socket paused across turn ends and re-pauses it when something else resumed it', () => {
    const h = harness(100);
    h.control.hold(true);
    expect(h.isPaused()).toBe(true);
    h.sock.resume(); // e.g. a pipe draining
    h.data(500); // this chunk is handled; reading stops again
    expect(h.isPaused()).toBe(true);
    h.endTurn();
    expect(h.isPaused()).toBe(true);
    h.control.hold(false);
    expect(h.isPaused()).toBe(false);
  });

  it('holds a piped stream for real: a destination that drains does not resume it (the pipe is taken down)', async () => {
    const src = new PassThrough();
    let got = 0;
    const dest = new Writable({
      highWaterMark: 16,
      write: (c: Buffer, _e, cb) => ((got += c.length), setImmediate(cb)),
    });
    src.pipe(dest);
    const control = shareEventLoop(src, { budgetBytes: 1 << 20 });
    for (let i = 0; i < 20; i++) src.write(Buffer.alloc(100)); // the destination backs up: the pipe awaits its drain
    control.hold(true);
    for (let i = 0; i < 50; i++) src.write(Buffer.alloc(100));
    for (let i = 0; i < 100; i++) await new Promise((r) => setImmediate(r));
    expect(got).toBeLessThanOrEqual(2000);
    control.hold(false);
    for (let i = 0; i < 500 && got < 7000; i++) await new Promise((r) => setImmediate(r));
    expect(got).toBe(7000);
  });
});
