import { describe, expect, it } from 'vitest';
import { MERCATOR, tileSrc, tilesFor, worldXY } from '../src/tiles';

describe('map tiles', () => {
  it('projects with Web Mercator both ways', () => {
    const p = MERCATOR.project([117.2, 39.1]);
    const back = MERCATOR.unproject(p);
    expect(back[0]).toBeCloseTo(117.2, 9);
    expect(back[1]).toBeCloseTo(39.1, 9);
    expect(worldXY(0, 0)).toEqual([0.5, 0.5]);
  });

  it('covers a view of Tianjin with ~256 px tiles at the right zoom, placed in pixels', () => {
    // about 2.2 degrees of longitude over 1000 px: zoom 9 (world 131,072 px ≈ 1000 / (2.2/360))
    const tiles = tilesFor([116.1, 40.3], [118.3, 38.5], 1000, 900);
    expect(new Set(tiles.map((t) => t.z))).toEqual(new Set([9]));
    const first = tiles[0]!;
    expect(first.left).toBeLessThanOrEqual(0);
    expect(first.top).toBeLessThanOrEqual(0);
    expect(first.size).toBeGreaterThan(180);
    expect(first.size).toBeLessThan(370);
    // every pixel of the view is under some tile
    const right = Math.max(...tiles.map((t) => t.left + t.size));
    const bottom = Math.max(...tiles.map((t) => t.top + t.size));
    expect(right).toBeGreaterThanOrEqual(1000);
    expect(bottom).toBeGreaterThanOrEqual(900);
    expect(tileSrc('https://t/{z}/{x}/{y}.png', first)).toBe(`https://t/9/${first.x}/${first.y}.png`);
  });

  it('asks for no more than the cap and nothing for an empty view', () => {
    expect(tilesFor([-180, 85], [180, -85], 20_000, 20_000, 64)).toHaveLength(64);
    expect(tilesFor([118, 39], [117, 40], 1000, 900)).toEqual([]);
  });
});
