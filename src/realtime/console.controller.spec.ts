import type { Response } from 'express';
import type { AppConfig } from '../config/app-config';
import { ConsoleController } from './console.controller';

/** The console page with and without a customer tile server (CONSOLE_TILE_URL, docs/contract.md §1). */
async function page(env: Partial<AppConfig['env']>): Promise<{ html: string; csp: string }> {
  const headers = new Map<string, string>();
  const res = { setHeader: (k: string, v: string) => headers.set(k, v) } as unknown as Response;
  const controller = new ConsoleController({ env } as unknown as AppConfig);
  const html = await controller.index(res);
  return { html, csp: headers.get('Content-Security-Policy') ?? '' };
}

describe('ConsoleController: optional map tiles', () => {
  it('without a tile server: images from the server itself only, no tile meta tag', async () => {
    const { html, csp } = await page({ CONSOLE_TILE_URL: '', CONSOLE_TILE_ATTRIBUTION: '' });
    expect(csp).toContain("img-src 'self' data: blob:;");
    expect(csp).toContain("script-src 'self';");
    expect(html).not.toContain('hazwatch-tiles');
  });

  it('with one: its origin alone joins img-src and the page carries the template (escaped) for the map', async () => {
    const { html, csp } = await page({
      CONSOLE_TILE_URL: 'https://t0.tianditu.gov.cn/vec_w/wmts?TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=k1',
      CONSOLE_TILE_ATTRIBUTION: '© 天地图 & NASG',
    });
    expect(csp).toContain("img-src 'self' data: blob: https://t0.tianditu.gov.cn;");
    expect(csp).toContain("connect-src 'self' ws: wss:");
    expect(html).toContain(
      '<meta name="hazwatch-tiles" content="https://t0.tianditu.gov.cn/vec_w/wmts?TILEMATRIX={z}&amp;TILEROW={y}&amp;TILECOL={x}&amp;tk=k1" data-attribution="© 天地图 &amp; NASG" />',
    );
    expect(html.indexOf('hazwatch-tiles')).toBeLessThan(html.indexOf('</head>'));
  });

  it('in demo mode with the simulated plant, the page carries the drill schedule (off otherwise)', async () => {
    const demo = { HAZWATCH_DEMO: true, SIMULATE: true, DEMO_DRILL_FIRST_S: 180, DEMO_DRILL_EVERY_S: 1800 };
    const meta = /<meta name="hazwatch-drill" content="([^"]+)"/.exec((await page(demo)).html);
    const schedule = JSON.parse((meta?.[1] ?? '{}').replace(/&quot;/g, '"')) as Record<string, unknown>;
    expect(schedule).toMatchObject({ firstMs: 180_000, everyMs: 1_800_000 });
    expect((schedule.phases as { scenario: string }[]).map((p) => p.scenario)).toEqual([
      'chlorine-leak',
      'overfill',
    ]);
    expect((await page({ ...demo, SIMULATE: false })).html).not.toContain('hazwatch-drill');
    expect((await page({ ...demo, DEMO_DRILL_FIRST_S: 0 })).html).not.toContain('hazwatch-drill');
  });
});
