import { makeSeries } from '../testing/dossier.factory';
import { chartGeometry, chartSvg, MARK_ROWS } from './chart';

describe('chartGeometry', () => {
  it('should scale points into the plot, highest value at the top and time left to right', () => {
    const g = chartGeometry(makeSeries());
    const line = g.lines[0] ?? [];
    const xs = line.map(([x]) => x);
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
    for (const [x, y] of line) {
      expect(x).toBeGreaterThanOrEqual(g.plot.x);
      expect(x).toBeLessThanOrEqual(g.plot.x + g.plot.w);
      expect(y).toBeGreaterThanOrEqual(g.plot.y);
      expect(y).toBeLessThanOrEqual(g.plot.y + g.plot.h);
    }
    const peak = line.reduce((a, b) => (b[1] < a[1] ? b : a));
    // the peak (3.7 at minute 48 + half a bucket) is the topmost point
    expect(peak[0]).toBeCloseTo(g.plot.x + ((58 + 1) / 80) * g.plot.w, 0);
  });

  it('should draw the set points as horizontal lines ordered by value', () => {
    const g = chartGeometry(makeSeries());
    expect(g.limits.map((l) => l.label)).toEqual(['一级报警 1', '二级报警 2']);
    expect(g.limits[1]!.y).toBeLessThan(g.limits[0]!.y);
  });

  it('should break the line at missing buckets instead of bridging the gap', () => {
    const s = makeSeries();
    const g = chartGeometry({ ...s, points: s.points.filter((_, i) => i < 10 || i > 14) });
    expect(g.lines).toHaveLength(2);
    expect(g.lines.map((l) => l.length)).toEqual([10, 25]);
  });

  it('should stack labels of marks that would overlap and draw a repeated mark once', () => {
    const s = makeSeries();
    const at = s.marks[0]!.at;
    const g = chartGeometry({
      ...s,
      marks: [
        { at, label: '报警产生' },
        { at, label: '报警产生' },
        { at, label: '报警确认' },
        { at, label: '报警恢复' },
        { at: s.to, label: '报警恢复' },
      ],
    });
    expect(g.marks.map((m) => [m.label, m.row, m.left])).toEqual([
      ['报警产生', 0, false],
      ['报警确认', 1, false],
      ['报警恢复', 2, false],
      // at the right edge the label goes left of its line
      ['报警恢复', 0, true],
    ]);
    const crowded = chartGeometry({
      ...s,
      marks: Array.from({ length: MARK_ROWS + 1 }, (_, i) => ({ at, label: `事件${i}` })),
    });
    expect(crowded.marks.map((m) => m.label)).toEqual([
      ...Array.from({ length: MARK_ROWS }, (_, i) => `事件${i}`),
      '',
    ]);
  });

  it('should place event marks in time and drop those outside the window', () => {
    const s = makeSeries();
    const g = chartGeometry({ ...s, marks: [...s.marks, { at: '2020-01-01T00:00:00Z', label: 'old' }] });
    expect(g.marks).toHaveLength(1);
    expect(g.marks[0]!.x).toBeCloseTo(g.plot.x + (32 / 80) * g.plot.w, 0);
  });

  it('should label time ticks in China time', () => {
    const g = chartGeometry(makeSeries());
    // window 17:50–19:10 CST, 10-minute ticks
    expect(g.xTicks.map((t) => t.label)).toEqual([
      '17:50',
      '18:00',
      '18:10',
      '18:20',
      '18:30',
      '18:40',
      '18:50',
      '19:00',
      '19:10',
    ]);
  });

  it('should say so when there is no data', () => {
    const g = chartGeometry(makeSeries({ points: [] }));
    expect(g.empty).toBe(true);
    expect(chartSvg(g, 'x')).toContain('该时段无数据');
  });
});

describe('chartSvg', () => {
  it('should produce well-formed SVG with escaped text', () => {
    const svg = chartSvg(chartGeometry(makeSeries()), 'a <b> & "c"');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('<title>a &lt;b&gt; &amp; &quot;c&quot;</title>');
    expect(svg).not.toContain('<b>');
    expect(svg).toContain('stroke-dasharray');
    expect(svg.trim().endsWith('</svg>')).toBe(true);
  });
});
