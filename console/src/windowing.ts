/**
 * Windowed (virtualised) lists: which rows of a long list of equal-height rows are in the DOM. The alarm list keeps
 * ~40 rows in the page however many alarms are active, so an alarm event, a blink phase or a scroll restyles and
 * repaints what is on screen only (docs/adr/0018-console-stack.md, rendering budget).
 */

/** Lists up to this length are rendered whole (small plants, tests): no spacer rows, plain document order. */
export const WINDOW_FROM = 120;

export type RowWindow = {
  /** First row in the DOM (inclusive). */
  readonly start: number;
  /** Past the last row in the DOM (exclusive). */
  readonly end: number;
  /** Height of the spacer above and below the rendered rows, in pixels. */
  readonly padTop: number;
  readonly padBottom: number;
};

/**
 * The rows to render for a scroll position: the visible ones plus `overscan` on each side, so a fast wheel scroll
 * shows rows before the next render. `rowH` ≤ 0 or a short list: everything.
 */
export function rowWindow(
  total: number,
  scrollTop: number,
  viewH: number,
  rowH: number,
  overscan = 12,
  from = WINDOW_FROM,
): RowWindow {
  if (total <= from || rowH <= 0 || !Number.isFinite(scrollTop) || !Number.isFinite(viewH))
    return { start: 0, end: total, padTop: 0, padBottom: 0 };
  const visible = Math.ceil(Math.max(0, viewH) / rowH) + 1;
  // a scroll position past the end (rows went away since) still shows the last rows
  const first = Math.min(Math.floor(Math.max(0, scrollTop) / rowH), Math.max(0, total - visible));
  const start = Math.max(0, Math.min(total, first - overscan));
  const end = Math.max(start, Math.min(total, first + visible + overscan));
  return { start, end, padTop: start * rowH, padBottom: (total - end) * rowH };
}

/** The scrollTop that brings row `index` into view (unchanged when it already is). */
export function scrollToRow(
  index: number,
  scrollTop: number,
  viewH: number,
  rowH: number,
  headH = 0,
): number {
  const top = index * rowH;
  if (top < scrollTop) return top;
  if (top + rowH > scrollTop + viewH - headH) return top + rowH - viewH + headH;
  return scrollTop;
}
