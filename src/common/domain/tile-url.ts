/**
 * The optional map tile server of the console (CONSOLE_TILE_URL, docs/contract.md §1): an http(s) URL template with
 * {z}, {x} and {y}, e.g. a customer's own Tianditu or OpenStreetMap tile server. Pure: parsed once by the config
 * schema and again by the console controller for the CSP origin.
 */
export class TileUrlError extends Error {}

export type TileUrl = {
  /** The template as given. */
  readonly template: string;
  /** scheme://host[:port]: the only origin added to the console's CSP img-src. */
  readonly origin: string;
};

/** Parses a tile URL template; '' means none (the bundled outlines alone). Throws TileUrlError with the reason. */
export function parseTileUrl(raw: string): TileUrl | null {
  const template = raw.trim();
  if (template === '') return null;
  for (const p of ['{z}', '{x}', '{y}'])
    if (!template.includes(p)) throw new TileUrlError(`the template has no ${p}`);
  const stray = template.replace(/\{[zxy]\}/g, '').match(/[{}]/);
  if (stray) throw new TileUrlError('only {z}, {x} and {y} may appear in braces');
  let url: URL;
  try {
    url = new URL(template.replace(/\{([zxy])\}/g, '0'));
  } catch {
    throw new TileUrlError('not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new TileUrlError(`scheme ${url.protocol} is not http: or https:`);
  if (url.username || url.password) throw new TileUrlError('credentials in the URL are not allowed');
  if (/[\s"'<>`\\]/.test(template)) throw new TileUrlError('quotes, spaces, < > ` and \\ are not allowed');
  return { template, origin: url.origin };
}
