/**
 * Optional map tiles under the one-map (CONSOLE_TILE_URL, docs/contract.md §1). The server puts the template into a
 * `<meta name="hazwatch-tiles">` of the page and its origin into the CSP; without it the map is the bundled district
 * outlines alone. With it, the geo component uses the Web Mercator projection (so outlines and markers sit on the
 * tiles) and a layer of <img> tiles under the chart's canvas follows every pan and zoom. A tile that fails to load
 * is removed: the outlines stay, so a control room without the tile server still has its map.
 */

export type TileConfig = { readonly template: string; readonly attribution: string };

/** The tile server the page was served with, or null. */
export function tileConfig(doc: Document = document): TileConfig | null {
  const meta = doc.querySelector<HTMLMetaElement>('meta[name="hazwatch-tiles"]');
  const template = meta?.content ?? '';
  if (!/\{z\}/.test(template) || !/\{x\}/.test(template) || !/\{y\}/.test(template)) return null;
  return { template, attribution: meta?.dataset.attribution ?? '' };
}

const RAD = Math.PI / 180;
/** ECharts geo projection: Web Mercator (EPSG:3857), y pointing down like the screen. */
export const MERCATOR = {
  project: (p: number[]): number[] => [
    (p[0] as number) * RAD,
    -Math.log(Math.tan(Math.PI / 4 + ((p[1] as number) * RAD) / 2)),
  ],
  unproject: (p: number[]): number[] => [
    (p[0] as number) / RAD,
    (2 * Math.atan(Math.exp(-(p[1] as number))) - Math.PI / 2) / RAD,
  ],
};

/** Longitude / latitude → the world in tile units at zoom 0 (0..1 both ways, y down). */
export function worldXY(lon: number, lat: number): [number, number] {
  const x = (lon + 180) / 360;
  const s = Math.sin(Math.max(-85.0511, Math.min(85.0511, lat)) * RAD);
  const y = 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
  return [x, y];
}

export type Tile = {
  readonly z: number;
  readonly x: number;
  readonly y: number;
  readonly left: number;
  readonly top: number;
  readonly size: number;
};

/**
 * The tiles covering a view whose top-left and bottom-right pixels show the given lon/lat, `width` pixels wide:
 * the zoom level whose tiles are closest to 256 px, each placed in pixels. At most `max` tiles (a wild zoom-out
 * never asks a tile server for thousands).
 */
export function tilesFor(
  topLeft: readonly [number, number],
  bottomRight: readonly [number, number],
  width: number,
  height: number,
  max = 64,
): Tile[] {
  const [x0, y0] = worldXY(topLeft[0], topLeft[1]);
  const [x1, y1] = worldXY(bottomRight[0], bottomRight[1]);
  if (!(x1 > x0) || !(y1 > y0) || width <= 0 || height <= 0) return [];
  const worldPx = width / (x1 - x0);
  const z = Math.max(0, Math.min(18, Math.round(Math.log2(worldPx / 256))));
  const n = 2 ** z;
  const size = worldPx / n;
  const out: Tile[] = [];
  for (let ty = Math.max(0, Math.floor(y0 * n)); ty <= Math.min(n - 1, Math.floor(y1 * n)); ty++)
    for (let tx = Math.floor(x0 * n); tx <= Math.floor(x1 * n); tx++) {
      if (out.length >= max) return out;
      out.push({
        z,
        x: ((tx % n) + n) % n,
        y: ty,
        left: (tx / n - x0) * worldPx,
        top: (ty / n - y0) * worldPx,
        size,
      });
    }
  return out;
}

export const tileSrc = (template: string, t: Pick<Tile, 'z' | 'x' | 'y'>): string =>
  template.replace('{z}', String(t.z)).replace('{x}', String(t.x)).replace('{y}', String(t.y));

/**
 * Lays the tiles into `layer` (reusing <img> elements by URL, so a pan only moves them). Tiles that fail are dropped
 * and counted in `layer.dataset.failed`.
 */
export function drawTiles(layer: HTMLElement, template: string, tiles: readonly Tile[]): void {
  const keep = new Map<string, HTMLImageElement>();
  for (const img of Array.from(layer.querySelectorAll<HTMLImageElement>('img.map-tile')))
    keep.set(img.dataset.src ?? '', img);
  const used = new Set<string>();
  for (const t of tiles) {
    const src = tileSrc(template, t);
    used.add(src);
    let img = keep.get(src);
    if (!img) {
      img = document.createElement('img');
      img.className = 'map-tile';
      img.alt = '';
      img.decoding = 'async';
      img.dataset.src = src;
      img.onerror = () => {
        img?.remove();
        layer.dataset.failed = String(Number(layer.dataset.failed ?? '0') + 1);
      };
      img.src = src;
      layer.appendChild(img);
    }
    img.style.transform = `translate(${t.left.toFixed(1)}px, ${t.top.toFixed(1)}px)`;
    img.style.width = img.style.height = `${Math.ceil(t.size) + 1}px`;
  }
  for (const [src, img] of keep) if (!used.has(src)) img.remove();
}
