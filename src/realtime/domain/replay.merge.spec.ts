import { ReplayMerge, ReplayOverflowError } from './replay.merge';

type Ev = { seq: number; id: string };
const ev = (seq: number): Ev => ({ seq, id: `a${seq}` });
const seqs = (es: readonly Ev[]): number[] => es.map((e) => e.seq);

describe('ReplayMerge', () => {
  it('should buffer live events while the replay loads when replaying', () => {
    const m = new ReplayMerge<Ev>(10);
    expect(m.live(ev(14))).toEqual([]);
    expect(m.buffered).toBe(1);
    expect(m.phase).toBe('replaying');
  });

  it('should deliver replay then buffered live events in seq order without duplicates when they overlap', () => {
    const m = new ReplayMerge<Ev>(10);
    m.live(ev(13));
    m.live(ev(14));
    // The replay was read after 13 was written but before 14: it overlaps the buffer at 13.
    const out = m.replayed([ev(11), ev(12), ev(13)]);
    expect(seqs(out)).toEqual([11, 12, 13, 14]);
    expect(m.phase).toBe('live');
    expect(m.lastDelivered).toBe(14);
  });

  it('should drop replayed events at or below since when the alarm service returns them', () => {
    const m = new ReplayMerge<Ev>(10);
    expect(seqs(m.replayed([ev(9), ev(10), ev(11)]))).toEqual([11]);
  });

  it('should sort an unordered replay when it arrives', () => {
    const m = new ReplayMerge<Ev>(0);
    expect(seqs(m.replayed([ev(3), ev(1), ev(2)]))).toEqual([1, 2, 3]);
  });

  it('should pass each live event through exactly once when live', () => {
    const m = new ReplayMerge<Ev>(10);
    m.replayed([ev(11)]);
    expect(seqs(m.live(ev(11)))).toEqual([]);
    expect(seqs(m.live(ev(12)))).toEqual([12]);
    expect(seqs(m.live(ev(12)))).toEqual([]);
    expect(seqs(m.live(ev(15)))).toEqual([15]);
  });

  it('should lose nothing when live events interleave with a slow replay at every boundary', () => {
    // Exhaustive over where the replay snapshot is cut relative to the live buffer start.
    const all = Array.from({ length: 20 }, (_, i) => ev(i + 1));
    for (let bufferFrom = 1; bufferFrom <= 20; bufferFrom++) {
      for (let cut = bufferFrom - 1; cut <= 20; cut++) {
        const m = new ReplayMerge<Ev>(0);
        const delivered: number[] = [];
        const live = all.filter((e) => e.seq >= bufferFrom);
        // events up to `cut` are in the database when the replay reads; live delivery started at bufferFrom
        const replay = all.filter((e) => e.seq <= cut);
        const before = live.filter((e) => e.seq <= cut);
        const after = live.filter((e) => e.seq > cut);
        for (const e of before) delivered.push(...seqs(m.live(e)));
        delivered.push(...seqs(m.replayed(replay)));
        for (const e of after) delivered.push(...seqs(m.live(e)));
        expect({ bufferFrom, cut, delivered }).toEqual({ bufferFrom, cut, delivered: all.map((e) => e.seq) });
      }
    }
  });

  it('should throw ReplayOverflowError when the live buffer exceeds its bound', () => {
    const m = new ReplayMerge<Ev>(0, 2);
    m.live(ev(1));
    m.live(ev(2));
    expect(() => m.live(ev(3))).toThrow(ReplayOverflowError);
  });

  it('should start live at the given seq when created with live()', () => {
    const m = ReplayMerge.live<Ev>(5);
    expect(seqs(m.live(ev(5)))).toEqual([]);
    expect(seqs(m.live(ev(6)))).toEqual([6]);
  });

  it('should refuse a second replay when already live', () => {
    const m = new ReplayMerge<Ev>(0);
    m.replayed([]);
    expect(() => m.replayed([])).toThrow(/twice/);
  });
});
