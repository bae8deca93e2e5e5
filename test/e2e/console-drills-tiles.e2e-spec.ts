/**
 * The console's declared-drill banner and control (docs/adr/0028-declared-drills.md) and the configured tile layer
 * (CONSOLE_TILE_URL, served here by a local stub tile server) in headless Chromium against the real console page with
 * the in-memory backend (console-harness.ts). Screenshots go to test/artifacts/console-drill-<lang>.png and
 * console-map-tiles.png. Needs /usr/bin/chromium; skipped with a printed reason without it.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { chromium, type Browser, type Page } from 'playwright-core';
import { JsonLogger } from '../../src/common/logger';
import { startConsoleHarness, type ConsoleHarness } from './console-harness';

JsonLogger.setLevel('error');

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, '..', 'artifacts');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(
    `console-drills-tiles.e2e-spec: skipped — ${CHROMIUM} is missing (apt-get install -y chromium)`,
  );
const describeIf = haveChromium ? describe : describe.skip;

/** A 256×256 one-colour PNG (a real image: the console drops tiles that fail to decode). */
function pngTile(rgb: [number, number, number]): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer): number => {
    let c = 0xffffffff;
    for (const x of b) c = (crcTable[(c ^ x) & 0xff] as number) ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(256, 0);
  ihdr.writeUInt32BE(256, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: 256 }, () => rgb).flat())]);
  const raw = Buffer.concat(Array.from({ length: 256 }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describeIf('console: declared drills and the tile layer (headless Chromium)', () => {
  let browser: Browser;
  let h: ConsoleHarness;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await page?.close();
    await h?.close();
    expect(pageErrors.splice(0)).toEqual([]);
  });

  const open = async (env: Record<string, string>, token: string): Promise<void> => {
    h = await startConsoleHarness(env);
    page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(h.url);
    await page.locator('#token-dialog[open]').waitFor();
    await page.fill('#token-input', token);
    await page.click('#token-submit');
    await page.locator('#conn[data-state="open"]').waitFor();
  };

  it('should let a supervisor start a drill, announce it in the banner, tag the site alarms 演练 and end it', async () => {
    await open({}, 'sup-token');
    await page.click('#tab-mimic');
    await page.locator('#mimic-site').waitFor();
    expect(await page.locator('#mimic-site').inputValue()).toBe('bohai-chem');
    await expect(page.locator('#banner-drill').isHidden()).resolves.toBe(true);

    await page.fill('#drill-scenario', '液氯储罐区泄漏应急演练');
    await page.click('#drill-start');
    await page.locator('#drill-control[data-running="true"]').waitFor();
    await page.locator('#banner-drill[data-sites="bohai-chem"]').waitFor();
    const banner = (await page.locator('#banner-drill').textContent()) ?? '';
    expect(banner).toContain('演练');
    expect(banner).toContain('液氯储罐区泄漏应急演练');
    expect(banner).toContain('shift supervisor Li');
    expect(h.drills).toEqual([
      expect.objectContaining({ siteId: 'bohai-chem', startedBy: 'shift supervisor Li' }),
    ]);

    // an alarm of the drill site during the drill carries the tag; the message says nothing of a drill
    const inDrill = h.alarms.raise({ priority: 'high', message: '氯气二级报警' });
    await page.click('#tab-alarms');
    const row = page.locator(`#alarm-rows tr.alarm[data-alarm-id="${inDrill.id}"]`);
    await row.locator('.tag-drill').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'console-drill-zh.png') });
    await page.click('#lang');
    await page.locator('#banner-drill', { hasText: 'DRILL' }).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'console-drill-en.png') });
    await page.click('#lang');

    await page.click('#tab-mimic');
    await page.click('#drill-end');
    await page.locator('#drill-control[data-running="false"]').waitFor();
    expect(h.drills[0]).toMatchObject({ running: false, endedBy: 'shift supervisor Li' });
    // after the drill an alarm of the same site is real: no tag
    const real = h.alarms.raise({ priority: 'critical', deviceId: 'cl-gd-2', message: '氯气二级报警' });
    await page.click('#tab-alarms');
    const realRow = page.locator(`#alarm-rows tr.alarm[data-alarm-id="${real.id}"]`);
    await realRow.waitFor();
    expect(await realRow.locator('.tag-drill').count()).toBe(0);
  });

  it('should not offer the drill control to an operator, who still sees a running drill', async () => {
    await open({}, 'op-token');
    h.drills.push({
      id: 'drill-x',
      siteId: 'bohai-chem',
      scenario: '氨泄漏演练',
      startedAt: new Date().toISOString(),
      startedBy: 'shift supervisor Li',
      endedAt: null,
      endedBy: null,
      running: true,
    });
    await page.click('#tab-mimic');
    await page.locator('#drill-state').waitFor({ timeout: 15_000 });
    expect(await page.locator('#drill-control').count()).toBe(0);
    await page.locator('#banner-drill[data-sites="bohai-chem"]').waitFor();
  });

  describe('with a tile server', () => {
    let tiles: Server;
    const requested: string[] = [];
    beforeAll(async () => {
      const tile = pngTile([40, 70, 95]);
      tiles = createServer((req, res) => {
        requested.push(req.url ?? '');
        if (!/^\/\d+\/\d+\/\d+\.png$/.test(req.url ?? '')) return void res.writeHead(404).end();
        res.writeHead(200, { 'Content-Type': 'image/png', 'Access-Control-Allow-Origin': '*' }).end(tile);
      });
      await new Promise<void>((r) => tiles.listen(0, '127.0.0.1', r));
    });
    afterAll(async () => {
      await new Promise<void>((r) => tiles.close(() => r()));
    });

    it('should lay the configured tiles under the map, from the configured server only, with the attribution', async () => {
      const port = (tiles.address() as AddressInfo).port;
      await open(
        {
          CONSOLE_TILE_URL: `http://127.0.0.1:${port}/{z}/{x}/{y}.png`,
          CONSOLE_TILE_ATTRIBUTION: '© stub tiles for tests',
        },
        'op-token',
      );
      await page.click('#tab-map');
      await page.locator('#map-view .map-stack.with-tiles .tiles img.map-tile').first().waitFor();
      // tiles decoded (a broken tile is removed): the first one has its size
      await page.waitForFunction(
        `(() => { const img = document.querySelector('.tiles img.map-tile'); return img !== null && img.complete && img.naturalWidth === 256; })()`,
        undefined,
        { timeout: 15_000 },
      );
      expect(requested.length).toBeGreaterThan(0);
      expect(requested.every((u) => /^\/\d+\/\d+\/\d+\.png$/.test(u))).toBe(true);
      const srcs = await page.evaluate<string[]>(
        `[...document.querySelectorAll('.tiles img.map-tile')].map((e) => e.src)`,
      );
      expect(srcs.every((s) => s.startsWith(`http://127.0.0.1:${port}/`))).toBe(true);
      expect(await page.locator('.tile-attribution').textContent()).toBe('© stub tiles for tests');
      await page.screenshot({ path: join(ARTIFACTS, 'console-map-tiles.png') });
    });
  });
});
