/**
 * Joins a replay of missed alarm events with the live stream, with no gap and no duplicate.
 *
 * Protocol: create the merge (state `replaying`) BEFORE asking the alarm service for events since `since`; from then on
 * every live event goes through `live()` and is buffered. When the replay arrives, `replayed()` returns the replay
 * followed by the buffered live events, both filtered to seq > the last delivered seq, in seq order, and switches to
 * `live`, where each live event passes through once (seq > last delivered).
 *
 * Live events are produced by the single alarm writer in seq order, so "seq > last delivered" is an exact
 * de-duplication. The live buffer is bounded: overflowing it is reported (the caller disconnects the client, which
 * resumes with `since`), never silently truncated.
 */
export type Sequenced = { readonly seq: number };

export type MergeState = 'replaying' | 'live';

export class ReplayOverflowError extends Error {
  constructor(readonly limit: number) {
    super(`more than ${limit} live alarm events arrived while the replay was loading`);
    this.name = 'ReplayOverflowError';
  }
}

export class ReplayMerge<E extends Sequenced> {
  private state: MergeState = 'replaying';
  private buffer: E[] = [];
  private last: number;

  constructor(
    since: number,
    private readonly maxBuffered = 10_000,
  ) {
    this.last = since;
  }

  /** A merge that has nothing to replay (no `since`): starts live at `from`. */
  static live<E extends Sequenced>(from: number, maxBuffered?: number): ReplayMerge<E> {
    const m = new ReplayMerge<E>(from, maxBuffered);
    m.state = 'live';
    return m;
  }

  get phase(): MergeState {
    return this.state;
  }

  /** Seq of the newest event handed out for delivery. */
  get lastDelivered(): number {
    return this.last;
  }

  get buffered(): number {
    return this.buffer.length;
  }

  /** A live event. Returns the events to deliver now (empty while replaying or for a duplicate). */
  live(event: E): E[] {
    if (this.state === 'replaying') {
      if (this.buffer.length >= this.maxBuffered) throw new ReplayOverflowError(this.maxBuffered);
      this.buffer.push(event);
      return [];
    }
    if (event.seq <= this.last) return [];
    this.last = event.seq;
    return [event];
  }

  /** The replay (any order, may overlap the live buffer). Returns everything to deliver, in seq order; goes live. */
  replayed(events: readonly E[]): E[] {
    if (this.state !== 'replaying') throw new Error('replayed() called twice');
    const all = [...events, ...this.buffer].sort((a, b) => a.seq - b.seq);
    const out: E[] = [];
    for (const e of all) {
      if (e.seq <= this.last) continue;
      this.last = e.seq;
      out.push(e);
    }
    this.buffer = [];
    this.state = 'live';
    return out;
  }
}
