import { Controller, Get, Header, NotFoundException, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Public } from '../auth/auth.decorators';
import { findProjectRoot } from '../common/project-root.util';

/** The console's files: no build step, plain HTML + JS + CSS. Only these names are served. */
const ASSETS: Readonly<Record<string, string>> = {
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'i18n.js': 'text/javascript; charset=utf-8',
  'chart.js': 'text/javascript; charset=utf-8',
};

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Where the console's files live: next to this file when a build copied them (dist/src/realtime/public), else the
 * source tree (src/realtime/public), which `npm start` also uses since `npm run build` (tsc) copies no assets.
 */
export function resolvePublicDir(): string {
  const candidates = [
    join(__dirname, 'public'),
    join(findProjectRoot(__dirname), 'src', 'realtime', 'public'),
  ];
  const dir = candidates.find((d) => existsSync(join(d, 'index.html')));
  if (dir === undefined)
    throw new Error(`operator console files not found (looked in ${candidates.join(', ')})`);
  return dir;
}

/** GET / — the live operator console (docs/contract.md §3). Public: the page asks for a token and sends it over /ws and HTTP. */
@ApiExcludeController()
@Public()
@Controller()
export class ConsoleController {
  private readonly dir = resolvePublicDir();

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  @Header('Content-Security-Policy', CSP)
  @Header('X-Content-Type-Options', 'nosniff')
  async index(): Promise<string> {
    return readFile(join(this.dir, 'index.html'), 'utf8');
  }

  @Get('console/:asset')
  async asset(@Param('asset') asset: string, @Res() res: Response): Promise<void> {
    const type = Object.hasOwn(ASSETS, asset) ? ASSETS[asset] : undefined;
    if (type === undefined) throw new NotFoundException(`no console asset '${asset}'`);
    const body = await readFile(join(this.dir, asset));
    res.setHeader('Content-Type', type);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.send(body);
  }
}
