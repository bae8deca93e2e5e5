import { Controller, Get, Header, Inject, NotFoundException, Optional, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { Public } from '../auth/auth.decorators';
import { findProjectRoot } from '../common/project-root.util';
import { parseTileUrl, type TileUrl } from '../common/domain/tile-url';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { demoDrillSchedule } from '../config/demo-drill';

/** Content types of the files Vite writes into dist/console/assets (docs/adr/0018-console-stack.md). */
const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
  '.png': 'image/png',
};
/** Hashed asset names only: no path separators, no dot-dot. */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/**
 * ECharts and Preact set element styles from script (CSSOM), never inline `<style>` from the network; 'unsafe-inline'
 * for styles is still needed because ECharts' tooltip writes a style attribute. Scripts stay 'self' only.
 */
function consolePolicy(tiles: TileUrl | null): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    // the customer's tile server (CONSOLE_TILE_URL), when set, is the only other origin images may come from
    `img-src 'self' data: blob:${tiles ? ` ${tiles.origin}` : ''}`,
    "connect-src 'self' ws: wss:",
    "frame-ancestors 'none'",
  ].join('; ');
}

const attr = (v: string): string =>
  v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Where the built console lives: dist/console, written by `npm run build` (tsc + Vite, docs/adr/0018-console-stack.md).
 * Found from the project root so the compiled server (dist/src/...) and ts tests (src/...) both see it.
 */
export function resolveConsoleDir(): string {
  const dir = join(findProjectRoot(__dirname), 'dist', 'console');
  if (!existsSync(join(dir, 'index.html')))
    throw new Error(`operator console not built: ${join(dir, 'index.html')} is missing (run npm run build)`);
  return dir;
}

/** GET / — the live operator and regulator console (docs/contract.md §3). Public: the page asks for a token and sends it over /ws and HTTP. */
@ApiExcludeController()
@Public()
@Controller()
export class ConsoleController {
  private readonly dir = resolveConsoleDir();
  private readonly tiles: TileUrl | null;
  private readonly attribution: string;
  private readonly csp: string;
  /** `<meta>` tags the console reads at start: tile server, demo drill schedule (none: ''). */
  private readonly metas: string;

  constructor(@Optional() @Inject(APP_CONFIG) config?: AppConfig) {
    // validated at start-up by the env schema; parsed again here for the CSP origin
    this.tiles = parseTileUrl(config?.env.CONSOLE_TILE_URL ?? '');
    this.attribution = config?.env.CONSOLE_TILE_ATTRIBUTION ?? '';
    this.csp = consolePolicy(this.tiles);
    const drill = config ? demoDrillSchedule(config.env) : null;
    this.metas = [
      this.tiles
        ? `<meta name="hazwatch-tiles" content="${attr(this.tiles.template)}" data-attribution="${attr(this.attribution)}" />`
        : '',
      // the demo drill schedule (docs/adr/0024-demo-drill.md): the console announces drills and labels their alarms
      drill ? `<meta name="hazwatch-drill" content="${attr(JSON.stringify(drill))}" />` : '',
    ]
      .filter(Boolean)
      .join('\n    ');
  }

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  @Header('X-Content-Type-Options', 'nosniff')
  async index(@Res({ passthrough: true }) res: Response): Promise<string> {
    res.setHeader('Content-Security-Policy', this.csp);
    const html = await readFile(join(this.dir, 'index.html'), 'utf8');
    // the console reads these (console/src/tiles.ts, console/src/drill.ts); no inline script
    return this.metas ? html.replace('</head>', `    ${this.metas}\n  </head>`) : html;
  }

  @Get('console/assets/:asset')
  async asset(@Param('asset') asset: string, @Res() res: Response): Promise<void> {
    const type = ASSET_NAME.test(asset) && !asset.includes('..') ? TYPES[extname(asset)] : undefined;
    const file = join(this.dir, 'assets', asset);
    if (type === undefined || !existsSync(file)) throw new NotFoundException(`no console asset '${asset}'`);
    res.setHeader('Content-Type', type);
    // names carry a content hash: cacheable for good
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.send(await readFile(file));
  }
}
