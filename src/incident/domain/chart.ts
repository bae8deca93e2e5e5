/**
 * Telemetry chart of one channel as plain geometry (pure): the HTML dossier draws it as inline SVG and the PDF draws
 * the same geometry with vector operations, so both print the same picture (docs/incident-dossier.md).
 */
import type { DossierSeries } from './dossier.types';
import { localClock } from './local-time';

export type Pt = readonly [number, number];
export type ChartGeometry = {
  readonly width: number;
  readonly height: number;
  readonly plot: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  /** Average line, split where data is missing (a gap is never drawn as a straight line). */
  readonly lines: ReadonlyArray<readonly Pt[]>;
  /** min…max band per run, as closed polygons. */
  readonly bands: ReadonlyArray<readonly Pt[]>;
  readonly limits: ReadonlyArray<{ readonly y: number; readonly label: string }>;
  /**
   * Event marks; `row` stacks labels that would overlap (0 = top), `left` puts a label left of its line near the right
   * edge. A label that finds no free row is left out (its line stays); marks with the same label at the same place
   * are drawn once.
   */
  readonly marks: ReadonlyArray<{
    readonly x: number;
    readonly label: string;
    readonly row: number;
    readonly left: boolean;
  }>;
  readonly yTicks: ReadonlyArray<{ readonly y: number; readonly label: string }>;
  readonly xTicks: ReadonlyArray<{ readonly x: number; readonly label: string }>;
  /** True when the series has no point in the window (the chart then says so). */
  readonly empty: boolean;
};

const W = 640;
const H = 170;
const PLOT = { x: 52, y: 8, w: W - 52 - 12, h: H - 8 - 26 };

function niceStep(span: number, count: number): number {
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

const fmtNum = (v: number): string =>
  Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(3)).toString();

export function chartGeometry(s: DossierSeries, timeZone = 'Asia/Shanghai'): ChartGeometry {
  const t0 = Date.parse(s.from);
  const t1 = Date.parse(s.to);
  const values = [...s.points.flatMap((p) => [p.min, p.max]), ...s.limits.map((l) => l.value)].filter(
    Number.isFinite,
  );
  let lo = values.length ? Math.min(...values) : 0;
  let hi = values.length ? Math.max(...values) : 1;
  if (hi === lo) {
    hi += Math.abs(hi) * 0.1 || 1;
    lo -= Math.abs(lo) * 0.1 || 0;
  }
  const step = niceStep(hi - lo, 4);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  const x = (t: number): number => PLOT.x + ((t - t0) / (t1 - t0)) * PLOT.w;
  const y = (v: number): number => PLOT.y + PLOT.h - ((v - lo) / (hi - lo)) * PLOT.h;
  const r = (n: number): number => Math.round(n * 10) / 10;

  // runs of consecutive buckets; a missing bucket (gap > 1.5 buckets) starts a new run
  const sorted = [...s.points].sort((a, b) => Date.parse(a.t) - Date.parse(b.t));
  const runs: Array<typeof sorted> = [];
  const maxGap = s.bucketSeconds * 1000 * 1.5;
  let prev: number | undefined;
  for (const p of sorted) {
    const t = Date.parse(p.t);
    if (prev === undefined || t - prev > maxGap) runs.push([]);
    runs[runs.length - 1]?.push(p);
    prev = t;
  }
  const mid = (t: string): number => Date.parse(t) + (s.bucketSeconds * 1000) / 2;
  const lines = runs.map((run) => run.map((p): Pt => [r(x(Math.min(mid(p.t), t1))), r(y(p.avg))]));
  const bands = runs
    .filter((run) => run.length > 1)
    .map((run) => [
      ...run.map((p): Pt => [r(x(Math.min(mid(p.t), t1))), r(y(p.max))]),
      ...[...run].reverse().map((p): Pt => [r(x(Math.min(mid(p.t), t1))), r(y(p.min))]),
    ]);
  const yTicks: Array<{ y: number; label: string }> = [];
  for (let v = lo; v <= hi + step / 1e6; v += step) yTicks.push({ y: r(y(v)), label: fmtNum(v) });
  const span = t1 - t0;
  const tickMs =
    [60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3].find(
      (m) => span / m <= 8,
    ) ?? 86400e3 * Math.ceil(span / 86400e3 / 8);
  const xTicks: Array<{ x: number; label: string }> = [];
  // ticks on round local minutes: Asia/Shanghai has no DST, so aligning on the zone offset is exact there
  const offset = Date.parse(`${localClock(t0, timeZone).replace(' ', 'T')}Z`) - Math.floor(t0 / 1000) * 1000;
  for (let t = Math.ceil((t0 + offset) / tickMs) * tickMs - offset; t <= t1; t += tickMs)
    xTicks.push({ x: r(x(t)), label: localClock(t, timeZone).slice(span > 86400e3 ? 5 : 11, 16) });
  return {
    width: W,
    height: H,
    plot: PLOT,
    lines,
    bands,
    limits: s.limits.map((l) => ({ y: r(y(l.value)), label: `${l.label} ${fmtNum(l.value)}` })),
    marks: placeMarks(
      s.marks
        .map((m) => ({ t: Date.parse(m.at), label: m.label }))
        .filter((m) => m.t >= t0 && m.t <= t1)
        .map((m) => ({ x: r(x(m.t)), label: m.label })),
    ),
    yTicks,
    xTicks,
    empty: s.points.length === 0,
  };
}

/** Label rows of event marks at most (the plot is ~136 units high; rows are 10 apart). */
export const MARK_ROWS = 4;
/** Estimated width of a mark label at font size 8: CJK characters are square, others about half. */
const labelWidth = (label: string): number =>
  [...label].reduce((n, ch) => n + (ch.charCodeAt(0) > 0x2e80 ? 8 : 4.5), 0) + 4;

function placeMarks(marks: ReadonlyArray<{ x: number; label: string }>): ChartGeometry['marks'] {
  const right = PLOT.x + PLOT.w;
  const sorted = [...marks].sort((a, b) => a.x - b.x);
  const unique = sorted.filter(
    (m, i) => !sorted.slice(0, i).some((o) => o.label === m.label && Math.abs(o.x - m.x) < 2),
  );
  const rowEnd: number[] = Array.from({ length: MARK_ROWS }, () => -Infinity);
  return unique.map((m) => {
    const wd = labelWidth(m.label);
    const left = m.x + 2 + wd > right;
    const from = left ? m.x - 2 - wd : m.x + 2;
    const row = rowEnd.findIndex((end) => end <= from);
    if (row === -1) return { x: m.x, label: '', row: 0, left };
    rowEnd[row] = from + wd;
    return { x: m.x, label: m.label, row, left };
  });
}

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const path = (pts: readonly Pt[]): string =>
  pts.map(([a, b], i) => `${i === 0 ? 'M' : 'L'}${a} ${b}`).join(' ');

/** Inline SVG (no script, no external reference) of a chart, with a title for screen readers. */
export function chartSvg(g: ChartGeometry, title: string): string {
  const { x, y, w, h } = g.plot;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${g.width} ${g.height}" width="${g.width}" height="${g.height}" role="img" aria-label="${esc(title)}">`,
    `<title>${esc(title)}</title>`,
    `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="#fff" stroke="#999" stroke-width="0.8"/>`,
  ];
  for (const t of g.yTicks)
    parts.push(
      `<line x1="${x}" x2="${x + w}" y1="${t.y}" y2="${t.y}" stroke="#e3e3e3" stroke-width="0.6"/>`,
      `<text x="${x - 4}" y="${t.y + 3}" font-size="9" text-anchor="end" fill="#333">${esc(t.label)}</text>`,
    );
  for (const t of g.xTicks)
    parts.push(
      `<line x1="${t.x}" x2="${t.x}" y1="${y + h}" y2="${y + h + 4}" stroke="#666" stroke-width="0.6"/>`,
      `<text x="${t.x}" y="${y + h + 15}" font-size="9" text-anchor="middle" fill="#333">${esc(t.label)}</text>`,
    );
  for (const b of g.bands)
    parts.push(`<path d="${path(b)} Z" fill="#9ecae1" fill-opacity="0.45" stroke="none"/>`);
  for (const l of g.lines)
    parts.push(
      l.length === 1
        ? `<circle cx="${l[0]?.[0]}" cy="${l[0]?.[1]}" r="1.8" fill="#08519c"/>`
        : `<path d="${path(l)}" fill="none" stroke="#08519c" stroke-width="1.3"/>`,
    );
  for (const l of g.limits)
    parts.push(
      `<line x1="${x}" x2="${x + w}" y1="${l.y}" y2="${l.y}" stroke="#d62728" stroke-width="0.9" stroke-dasharray="5 3"/>`,
      `<text x="${x + w - 2}" y="${l.y - 2}" font-size="9" text-anchor="end" fill="#d62728">${esc(l.label)}</text>`,
    );
  for (const m of g.marks) {
    parts.push(`<line x1="${m.x}" x2="${m.x}" y1="${y}" y2="${y + h}" stroke="#ff7f0e" stroke-width="0.9"/>`);
    if (m.label !== '')
      parts.push(
        `<text x="${m.left ? m.x - 2 : m.x + 2}" y="${y + 9 + m.row * 10}" font-size="8"${m.left ? ' text-anchor="end"' : ''} fill="#c65f00">${esc(m.label)}</text>`,
      );
  }
  if (g.empty)
    parts.push(
      `<text x="${x + w / 2}" y="${y + h / 2}" font-size="11" text-anchor="middle" fill="#666">该时段无数据</text>`,
    );
  parts.push('</svg>');
  return parts.join('\n');
}
