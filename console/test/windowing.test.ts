import { describe, expect, it } from 'vitest';
import { rowWindow, scrollToRow } from '../src/windowing';

describe('rowWindow', () => {
  it('renders a short list whole', () => {
    expect(rowWindow(100, 5000, 600, 30)).toEqual({ start: 0, end: 100, padTop: 0, padBottom: 0 });
  });

  it('renders the visible rows plus the overscan of a long list, with spacers for the rest', () => {
    const w = rowWindow(500, 3000, 600, 30, 10);
    // rows 100..120 are visible (600 / 30 + 1), 10 more on each side
    expect(w).toEqual({ start: 90, end: 131, padTop: 2700, padBottom: (500 - 131) * 30 });
    expect(w.padTop + (w.end - w.start) * 30 + w.padBottom).toBe(500 * 30);
  });

  it('clamps at both ends (top, past the bottom after rows disappeared)', () => {
    expect(rowWindow(500, 0, 600, 30, 10)).toMatchObject({ start: 0, end: 31, padTop: 0 });
    const w = rowWindow(200, 50_000, 600, 30, 10);
    expect(w).toMatchObject({ start: 169, end: 200, padBottom: 0, padTop: 169 * 30 });
  });
});

describe('scrollToRow', () => {
  it('scrolls only when the row is outside the view', () => {
    expect(scrollToRow(10, 0, 600, 30)).toBe(0);
    expect(scrollToRow(30, 0, 600, 30)).toBe(31 * 30 - 600);
    expect(scrollToRow(5, 600, 600, 30)).toBe(150);
  });
});
