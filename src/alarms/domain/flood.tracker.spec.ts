import { FloodTracker } from './flood.tracker';

const MIN = 60_000;

describe('FloodTracker', () => {
  it('should not flood at exactly 10 alarms in 10 minutes', () => {
    const f = new FloodTracker();
    for (let i = 0; i < 10; i++) f.record('s1', i * 1000);
    expect(f.status('s1', 10_000)).toEqual({ siteId: 's1', alarmsIn10Min: 10, flood: false });
  });

  it('should flood at the 11th alarm within 10 minutes and report the change', () => {
    const f = new FloodTracker();
    for (let i = 0; i < 10; i++) expect(f.record('s1', i * MIN * 0.5)).toBe(false);
    expect(f.record('s1', 5 * MIN)).toBe(true);
    expect(f.status('s1', 5 * MIN).flood).toBe(true);
    expect(f.status('s2', 5 * MIN).flood).toBe(false);
  });

  it('should stay in flood until fewer than 5 remain in the window', () => {
    const f = new FloodTracker();
    for (let i = 0; i < 11; i++) f.record('s1', i * MIN * 0.5); // 0 .. 5 min
    // at 12 min: raises after 2 min remain → those at 2.5,3,...,5 min = 6 → still flooding
    expect(f.tick(12 * MIN)).toEqual([]);
    expect(f.status('s1', 12 * MIN)).toMatchObject({ alarmsIn10Min: 6, flood: true });
    // at 13 min: 4 remain (3.5..5) → flood ends
    expect(f.tick(13 * MIN)).toEqual(['s1']);
    expect(f.status('s1', 13 * MIN).flood).toBe(false);
  });

  it('should list every site with recent raises', () => {
    const f = new FloodTracker();
    f.record('b', 0);
    f.record('a', 0);
    expect(f.all(MIN).map((s) => s.siteId)).toEqual(['a', 'b']);
    expect(f.all(11 * MIN)).toEqual([]);
  });
});
