// A small SVG trend chart (no library, no CDN): one numeric series over a time window, an optional min/max band
// (bucketed history) and dashed set-point lines.

const SVG = 'http://www.w3.org/2000/svg';

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

/** "Nice" tick values covering [lo, hi]. */
export function niceTicks(lo, hi, count = 5) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) {
    const pad = Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step)
    ticks.push(Number(v.toFixed(10)));
  return ticks;
}

const hhmm = (ms) => {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
};

const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

/**
 * Draws into `container` (replacing its content).
 * series: { points: [{ t: ms, v: number, min?: number, max?: number }], from: ms, to: ms, unit?: string,
 *           limits?: [{ value, label, cls }], emptyText?: string }
 */
export function renderTrend(container, series) {
  container.textContent = '';
  const width = Math.max(container.clientWidth || 0, 280);
  const height = 200;
  const m = { l: 48, r: 12, t: 22, b: 24 };
  const svg = el(
    'svg',
    { viewBox: `0 0 ${width} ${height}`, width, height, class: 'trend', role: 'img' },
    container,
  );
  const pts = series.points.filter((p) => Number.isFinite(p.v)).sort((a, b) => a.t - b.t);
  const limits = (series.limits ?? []).filter((l) => Number.isFinite(l.value));
  const values = pts.flatMap((p) => [p.v, p.min ?? p.v, p.max ?? p.v]).concat(limits.map((l) => l.value));
  const from = series.from;
  const to = series.to;
  const plotW = width - m.l - m.r;
  const plotH = height - m.t - m.b;
  el('rect', { x: m.l, y: m.t, width: plotW, height: plotH, class: 'trend-bg' }, svg);
  if (pts.length === 0) {
    const txt = el(
      'text',
      { x: m.l + plotW / 2, y: m.t + plotH / 2, class: 'trend-empty', 'text-anchor': 'middle' },
      svg,
    );
    txt.textContent = series.emptyText ?? '—';
    return svg;
  }
  // 5 % headroom so the newest point and the set-point labels are not drawn on the frame.
  const span = Math.max(...values) - Math.min(...values) || Math.abs(Math.max(...values)) || 1;
  const lo =
    Math.min(...values) >= 0
      ? Math.max(0, Math.min(...values) - span * 0.05)
      : Math.min(...values) - span * 0.05;
  const hi = Math.max(...values) + span * 0.05;
  const ticks = niceTicks(lo, hi);
  const yLo = ticks[0] ?? lo;
  const yHi = ticks[ticks.length - 1] ?? hi;
  const x = (t) => m.l + ((t - from) / Math.max(1, to - from)) * plotW;
  const y = (v) => m.t + plotH - ((v - yLo) / Math.max(1e-12, yHi - yLo)) * plotH;

  // Axis labels carry as many decimals as the tick step needs, so neighbouring labels never read the same.
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 1;
  let decimals = Math.min(6, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
  if (Math.abs(step * 10 ** decimals - Math.round(step * 10 ** decimals)) > 1e-6) decimals++;
  for (const v of ticks) {
    el('line', { x1: m.l, x2: m.l + plotW, y1: y(v), y2: y(v), class: 'trend-grid' }, svg);
    const label = el('text', { x: m.l - 6, y: y(v) + 4, class: 'trend-axis', 'text-anchor': 'end' }, svg);
    label.textContent = v.toFixed(decimals);
  }
  const tenMin = 10 * 60 * 1000;
  for (let t = Math.ceil(from / tenMin) * tenMin; t <= to; t += tenMin) {
    el('line', { x1: x(t), x2: x(t), y1: m.t, y2: m.t + plotH, class: 'trend-grid' }, svg);
    const label = el('text', { x: x(t), y: height - 6, class: 'trend-axis', 'text-anchor': 'middle' }, svg);
    label.textContent = hhmm(t);
  }
  if (series.unit) {
    const u = el('text', { x: m.l - 6, y: 12, class: 'trend-axis', 'text-anchor': 'end' }, svg);
    u.textContent = series.unit;
  }

  const banded = pts.filter((p) => Number.isFinite(p.min) && Number.isFinite(p.max));
  if (banded.length > 1) {
    const top = banded.map((p) => `${x(p.t).toFixed(1)},${y(p.max).toFixed(1)}`);
    const bottom = banded.map((p) => `${x(p.t).toFixed(1)},${y(p.min).toFixed(1)}`).reverse();
    el('polygon', { points: top.concat(bottom).join(' '), class: 'trend-band' }, svg);
  }
  for (const l of limits) {
    el(
      'line',
      { x1: m.l, x2: m.l + plotW, y1: y(l.value), y2: y(l.value), class: `trend-limit ${l.cls ?? ''}` },
      svg,
    );
    const label = el(
      'text',
      {
        x: m.l + 4,
        // above the line, or below it when the line is close to the top of the plot
        y: y(l.value) - m.t < 14 ? y(l.value) + 13 : y(l.value) - 4,
        class: `trend-limit-label ${l.cls ?? ''}`,
        'text-anchor': 'start',
      },
      svg,
    );
    label.textContent = `${l.label} ${fmt(l.value)}`;
  }
  const d = pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join('');
  el('path', { d, class: 'trend-line' }, svg);
  const last = pts[pts.length - 1];
  el('circle', { cx: x(last.t), cy: y(last.v), r: 3, class: 'trend-dot' }, svg);
  return svg;
}
