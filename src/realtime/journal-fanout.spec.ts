import { VirtualTimeScheduler } from 'rxjs';
import type { ListenConnection } from '../auth/token-revocation.listener';
import { settle } from '../common/testing/manual.scheduler';
import type { AlarmEventDto } from './domain/client-events';
import { JOURNAL_CHANNEL, JournalFanout, type JournalTailPort } from './journal-fanout';
import { ReplayGapError } from './realtime.ports';

/** /ws fan-out from the journal in cluster mode (docs/adr/0016-cluster.md, "/ws fan-out across nodes"). */
describe('JournalFanout', () => {
  const ev = (seq: number, siteId = 'a'): AlarmEventDto => ({ seq, siteId }) as unknown as AlarmEventDto;

  /** A journal whose rows become final as the watermark moves (rows above it may exist, uncommitted in order). */
  class FakeTail implements JournalTailPort {
    rows: AlarmEventDto[] = [];
    watermark = 0;
    reads = 0;
    failNext = false;
    async readAfter(afterSeq: number, limit: number) {
      this.reads++;
      if (this.failNext) {
        this.failNext = false;
        throw new Error('connection reset');
      }
      const events = this.rows
        .filter((r) => r.seq > afterSeq && r.seq <= this.watermark)
        .sort((x, y) => x.seq - y.seq)
        .slice(0, limit);
      return { events, watermark: this.watermark };
    }
  }

  class FakeConn implements ListenConnection {
    queries: string[] = [];
    released = false;
    private handlers: Record<string, Array<(a?: unknown) => void>> = {};
    async query(text: string) {
      this.queries.push(text);
      return undefined;
    }
    on(event: string, fn: (arg: never) => void) {
      (this.handlers[event] ??= []).push(fn as (a?: unknown) => void);
      return this;
    }
    removeAllListeners(event?: string) {
      if (event) delete this.handlers[event];
      else this.handlers = {};
      return this;
    }
    release() {
      this.released = true;
    }
    emit(event: string, arg?: unknown) {
      for (const fn of this.handlers[event] ?? []) fn(arg);
    }
    notify() {
      this.emit('notification', { channel: JOURNAL_CHANNEL, payload: '1' });
    }
  }

  async function setup(opts: { connectFails?: number; pageSize?: number; maxReplay?: number } = {}) {
    const tail = new FakeTail();
    tail.rows = [ev(1), ev(2), ev(3)];
    tail.watermark = 3;
    const scheduler = new VirtualTimeScheduler();
    const conns: FakeConn[] = [];
    let failures = opts.connectFails ?? 0;
    const fanout = new JournalFanout(
      tail,
      async () => {
        if (failures-- > 0) throw new Error('database down');
        const c = new FakeConn();
        conns.push(c);
        return c;
      },
      scheduler,
      {
        pageSize: opts.pageSize ?? 500,
        pollMs: 1000,
        fallbackPollMs: 250,
        maxReplay: opts.maxReplay ?? 50_000,
      },
    );
    const pushed: number[] = [];
    fanout.events$.subscribe((e) => pushed.push(e.seq));
    await fanout.start();
    await settle();
    const advance = async (ms: number) => {
      scheduler.maxFrames = scheduler.frame + ms;
      scheduler.flush();
      await settle();
    };
    return { tail, fanout, conns, pushed, advance };
  }

  it('should start live at the watermark and LISTEN on the journal channel', async () => {
    const t = await setup();
    expect(t.fanout.currentSeq()).toBe(3);
    expect(t.pushed).toEqual([]);
    expect(t.conns[0]!.queries).toEqual([`LISTEN ${JOURNAL_CHANNEL}`]);
    expect(t.fanout.stats.listening).toBe(true);
  });

  it('should push new rows once, in seq order, only up to the commit watermark', async () => {
    const t = await setup();
    // 5 committed before 4: not final until the watermark passes 4
    t.tail.rows.push(ev(5));
    t.tail.watermark = 3;
    t.conns[0]!.notify();
    await settle();
    expect(t.pushed).toEqual([]);
    t.tail.rows.push(ev(4));
    t.tail.watermark = 5;
    t.conns[0]!.notify();
    t.conns[0]!.notify();
    await settle();
    expect(t.pushed).toEqual([4, 5]);
    expect(t.fanout.currentSeq()).toBe(5);
  });

  it('should page through a burst larger than one read', async () => {
    const t = await setup({ pageSize: 2 });
    for (let s = 4; s <= 10; s++) t.tail.rows.push(ev(s));
    t.tail.watermark = 10;
    t.conns[0]!.notify();
    await settle();
    expect(t.pushed).toEqual([4, 5, 6, 7, 8, 9, 10]);
  });

  it('should move the cursor over gaps (rolled-back seqs) once they are below the watermark', async () => {
    const t = await setup();
    t.tail.rows.push(ev(6));
    t.tail.watermark = 8;
    t.conns[0]!.notify();
    await settle();
    expect(t.pushed).toEqual([6]);
    expect(t.fanout.currentSeq()).toBe(8);
  });

  it('should read on the periodic tick when a notification was lost', async () => {
    const t = await setup();
    t.tail.rows.push(ev(4));
    t.tail.watermark = 4;
    await t.advance(750);
    expect(t.pushed).toEqual([]);
    await t.advance(250);
    expect(t.pushed).toEqual([4]);
  });

  it('should retry a failed read from the same cursor (nothing skipped)', async () => {
    const t = await setup();
    t.tail.rows.push(ev(4));
    t.tail.watermark = 4;
    t.tail.failNext = true;
    t.conns[0]!.notify();
    await settle();
    expect(t.pushed).toEqual([]);
    expect(t.fanout.stats.readErrors).toBe(1);
    await t.advance(1000);
    expect(t.pushed).toEqual([4]);
  });

  it('should poll while LISTEN is down, reconnect at a tick, and read what came meanwhile', async () => {
    const t = await setup({ connectFails: 1 });
    expect(t.fanout.stats.listening).toBe(false);
    t.tail.rows.push(ev(4));
    t.tail.watermark = 4;
    await t.advance(250);
    expect(t.pushed).toEqual([4]);
    expect(t.fanout.stats.listening).toBe(true);
    // the connection drops: released, polled again, re-established at the next tick
    t.conns[0]!.emit('error', new Error('terminated'));
    expect(t.conns[0]!.released).toBe(true);
    expect(t.fanout.stats.listening).toBe(false);
    t.tail.rows.push(ev(5));
    t.tail.watermark = 5;
    await t.advance(250);
    expect(t.pushed).toEqual([4, 5]);
    expect(t.conns).toHaveLength(2);
  });

  it('should replay from the tail up to the live cursor, catching up first', async () => {
    const t = await setup();
    t.tail.rows.push(ev(4), ev(5));
    t.tail.watermark = 5;
    // the client saw seq 4 on another node; this one has not read it yet
    expect(t.fanout.currentSeq()).toBe(3);
    expect(await t.fanout.refresh()).toBe(5);
    expect((await t.fanout.eventsSince(1)).map((e) => e.seq)).toEqual([2, 3, 4, 5]);
    expect(t.pushed).toEqual([4, 5]);
  });

  it('should refuse a replay larger than maxReplay with a ReplayGapError (the client reloads)', async () => {
    const t = await setup({ pageSize: 2, maxReplay: 2 });
    await expect(t.fanout.eventsSince(0)).rejects.toBeInstanceOf(ReplayGapError);
  });

  it('should UNLISTEN, release the connection and complete on stop', async () => {
    const t = await setup();
    let completed = false;
    t.fanout.events$.subscribe({ complete: () => (completed = true) });
    await t.fanout.stop();
    expect(t.conns[0]!.queries).toContain(`UNLISTEN ${JOURNAL_CHANNEL}`);
    expect(t.conns[0]!.released).toBe(true);
    expect(completed).toBe(true);
  });
});
