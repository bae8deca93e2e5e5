/**
 * The operator and regulator console (Preact + ECharts build in dist/console, docs/adr/0018-console-stack.md) in
 * headless Chromium against the real gateway and console page, with an in-memory backend (console-harness.ts) so every
 * alarm is raised by the test. The full-app scenario is console.e2e-spec.ts. Screenshots of every view, in Chinese and
 * English, go to test/artifacts/console-<view>-<lang>.png.
 * Needs /usr/bin/chromium (apt-get install chromium); skipped with a printed reason without it.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { JsonLogger } from '../../src/common/logger';
import { startConsoleHarness, type ConsoleHarness } from './console-harness';

JsonLogger.setLevel('error');

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, '..', 'artifacts');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(`console-ui.e2e-spec: skipped — ${CHROMIUM} is missing (apt-get install -y chromium)`);
const describeIf = haveChromium ? describe : describe.skip;

describeIf('operator console (headless Chromium, in-memory backend)', () => {
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

  beforeEach(async () => {
    h = await startConsoleHarness();
    page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });
  afterEach(async () => {
    await page.close();
    await h.close();
    expect(pageErrors.splice(0)).toEqual([]);
  });

  const signIn = async (token = 'op-token'): Promise<void> => {
    await page.goto(h.url);
    await page.locator('#token-dialog[open]').waitFor();
    await page.fill('#token-input', token);
    await page.click('#token-submit');
    await page.locator('#conn[data-state="open"]').waitFor();
    // the plant model is loaded once connected: the mimic's enterprise picker lists the sites
  };
  const view = async (name: string): Promise<void> => {
    await page.click(`#tab-${name}`);
    await page.locator(`#tab-${name}[aria-selected="true"]`).waitFor();
  };
  const row = (id: string): Locator => page.locator(`#alarm-rows tr.alarm[data-alarm-id="${id}"]`);
  const classes = async (l: Locator): Promise<string[]> =>
    ((await l.getAttribute('class')) ?? '').split(/\s+/);
  const attrs = async (l: Locator, name: string): Promise<Array<string | null>> => {
    const out: Array<string | null> = [];
    for (const one of await l.all()) out.push(await one.getAttribute(name));
    return out;
  };
  const count = (what: string): Promise<string | null> =>
    page.locator(`#banner-counts [data-count="${what}"] .n`).textContent();

  it('should show a raised critical alarm blinking in the list and on the map, sound it, and stop both blinks after Ack', async () => {
    await signIn();
    const a = h.alarms.raise({ priority: 'critical', message: '氯气二级报警（表决）' });
    await row(a.id).waitFor();
    await expect(row(a.id).getAttribute('data-state')).resolves.toBe('unacknowledged');
    expect(await classes(row(a.id))).toEqual(expect.arrayContaining(['unacked', 'kind-alarm', 'blink']));
    await page.locator('html[data-alerts="1"]').waitFor({ state: 'attached' });
    expect(await count('critical')).toBe('1');
    expect(await count('unacked')).toBe('1');
    await view('map');
    await page.locator('.site[data-site-id="bohai-chem"][data-unacked="true"]').waitFor();
    await view('alarms');

    await row(a.id).locator('button[data-action="ack"]').click();
    await page.locator(`tr.alarm[data-alarm-id="${a.id}"][data-state="acknowledged"]`).waitFor();
    expect(h.ackCalls).toEqual([a.id]);
    expect(await classes(row(a.id))).not.toContain('blink');
    expect(await row(a.id).locator('button[data-action="ack"]').count()).toBe(0);
    expect(await count('unacked')).toBe('0');
    expect(await count('critical')).toBe('1');
    await view('map');
    await page.locator('.site[data-site-id="bohai-chem"][data-unacked="false"]').waitFor();
  });

  it('should show alarms raised before the console connected, retrying the list until the server can answer', async () => {
    const before = h.alarms.raise({ priority: 'high' });
    const acked = h.alarms.raise({ priority: 'medium', deviceId: 'cl-gd-2' });
    h.alarms.ack(acked.id, 'earlier shift');
    h.listFailures.remaining = 1;
    await signIn();
    await page.locator(`tr.alarm[data-alarm-id="${before.id}"][data-state="unacknowledged"]`).waitFor();
    await page.locator(`tr.alarm[data-alarm-id="${acked.id}"][data-state="acknowledged"]`).waitFor();
    expect(h.listFailures.remaining).toBe(0);
  });

  it('should sort by priority then newest, sort by time on request, and filter by priority and text', async () => {
    await signIn();
    const low = h.alarms.raise({
      priority: 'low',
      condition: 'calibration_overdue',
      message: 'calibration overdue',
    });
    const high1 = h.alarms.raise({ priority: 'high' });
    const crit = h.alarms.raise({ priority: 'critical' });
    const high2 = h.alarms.raise({ priority: 'high', deviceId: 'cl-gd-2', message: 'second detector' });
    await row(high2.id).waitFor();
    const order = await attrs(page.locator('#alarm-rows tr.alarm'), 'data-alarm-id');
    expect(order[0]).toBe(crit.id);
    expect(order.slice(1, 3).sort()).toEqual([high1.id, high2.id].sort());
    expect(order[3]).toBe(low.id);
    // a fault-type condition is shown yellow, not red
    expect(await classes(row(low.id))).toContain('kind-fault');

    await page.selectOption('#alarm-sort', 'time');
    await page.locator(`#alarm-rows tr.alarm:first-child[data-alarm-id="${high2.id}"]`).waitFor();
    await page.click('button[data-prio-filter="high"]');
    await page.locator('#alarm-rows tr.alarm').nth(2).waitFor({ state: 'detached' });
    expect(
      (await attrs(page.locator('#alarm-rows tr.alarm'), 'data-priority')).every((p) => p === 'high'),
    ).toBe(true);
    await page.fill('#alarm-filter', 'second');
    await page.locator('#alarm-rows tr.alarm').nth(1).waitFor({ state: 'detached' });
    expect(await attrs(page.locator('#alarm-rows tr.alarm'), 'data-alarm-id')).toEqual([high2.id]);
  });

  it('should mark the first-out alarm of a hazard source', async () => {
    await signIn();
    const first = h.alarms.raise({ priority: 'high', deviceId: 'cl-gd-1' });
    const second = h.alarms.raise({ priority: 'critical', deviceId: 'cl-gd-2' });
    await row(second.id).waitFor();
    await page.locator(`tr.alarm.first-out[data-alarm-id="${first.id}"]`).waitFor();
    expect(await classes(row(second.id))).not.toContain('first-out');
  });

  it('should lose no alarm event when the connection drops and the console resumes with since', async () => {
    await signIn();
    const a = h.alarms.raise({ priority: 'high' });
    await row(a.id).waitFor();
    expect(h.dropConnections()).toBe(1);
    const missed = h.alarms.raise({ priority: 'medium', deviceId: 'cl-gd-3' });
    h.alarms.clear(a.id);
    await row(missed.id).waitFor();
    await page.locator(`tr.alarm[data-alarm-id="${a.id}"][data-state="rtn_unacknowledged"]`).waitFor();
    await page.locator('#conn[data-state="open"]').waitFor();
    // cleared before ack: shown green (returned to normal, still to be acknowledged)
    expect(await classes(row(a.id))).toContain('kind-normal');
  });

  it('should show the storage banner when the server reports storage degraded and hide it on recovery', async () => {
    await signIn();
    expect(await page.locator('#banner-storage').isHidden()).toBe(true);
    h.storage.degraded = true;
    await page.locator('#banner-storage').waitFor({ state: 'visible' });
    h.storage.degraded = false;
    await page.locator('#banner-storage').waitFor({ state: 'hidden' });
  });

  it('should show the server-reported flood and group by hazard source, hiding nothing', async () => {
    await signIn();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++)
      ids.push(h.alarms.raise({ priority: 'medium', sourceId: 'bhc-cl2', deviceId: 'cl-gd-1' }).id);
    for (let i = 0; i < 5; i++)
      ids.push(h.alarms.raise({ priority: 'medium', sourceId: 'bhc-nh3', deviceId: 'nh-gd-1' }).id);
    await row(ids.at(-1) as string).waitFor();
    await page.locator('#banner-flood').waitFor({ state: 'visible' });
    expect(await page.locator('#flood-detail').textContent()).toContain('天津渤海化工有限公司');
    await page.locator('#alarm-rows tr.group').nth(1).waitFor();
    expect(await page.locator('#alarm-rows tr.group').count()).toBe(2);
    expect(await page.locator('#alarm-rows tr.alarm').count()).toBe(11);
  });

  it('should move a shelved alarm to the shelved view after Shelve asks minutes and reason', async () => {
    await signIn();
    const a = h.alarms.raise({ priority: 'high' });
    await row(a.id).locator('button[data-action="shelve"]').click();
    await page.locator('#shelve-dialog[open]').waitFor();
    await page.fill('#shelve-minutes', '45');
    await page.fill('#shelve-reason', 'detector under maintenance');
    await page.locator('#shelve-form button[type="submit"]').click();
    await page.locator(`#alarm-rows tr.alarm[data-alarm-id="${a.id}"]`).waitFor({ state: 'detached' });
    expect(await count('shelved')).toBe('1');
    await page.click('button[data-alarm-view="shelved"]');
    await page.locator(`#alarm-rows tr.alarm[data-alarm-id="${a.id}"][data-state="shelved"]`).waitFor();
  });

  it('should work from the keyboard: number keys and arrows switch views, arrows move in the list, A acknowledges', async () => {
    await signIn();
    const a = h.alarms.raise({ priority: 'high' });
    const b = h.alarms.raise({ priority: 'critical', deviceId: 'cl-gd-2' });
    await row(a.id).waitFor();
    await page.keyboard.press('2');
    await page.locator('#map-view').waitFor();
    await page.focus('#tab-map');
    await page.keyboard.press('ArrowRight');
    await page.locator('#mimic-view').waitFor();
    expect(await page.evaluate('document.activeElement?.id')).toBe('tab-mimic');
    await page.keyboard.press('1');
    await row(b.id).waitFor();
    await row(b.id).focus();
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate('document.activeElement?.getAttribute("data-alarm-id")')).toBe(a.id);
    await page.keyboard.press('a');
    await page.locator(`tr.alarm[data-alarm-id="${a.id}"][data-state="acknowledged"]`).waitFor();
    expect(h.ackCalls).toEqual([a.id]);
  });

  it('should switch labels between Chinese (default) and English', async () => {
    await signIn();
    expect(await page.locator('#alarms-title [data-i18n="alarms.title"]').textContent()).toBe('报警列表');
    h.alarms.raise({ priority: 'high', message: 'chlorine level 2' });
    await page.locator('#alarm-rows tr.alarm').first().waitFor();
    expect(await page.locator('#alarm-rows td.site-name').first().textContent()).toBe('天津渤海化工有限公司');
    await page.click('#lang');
    await page.locator('#alarms-title [data-i18n="alarms.title"]', { hasText: 'Alarms' }).waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    expect(await page.locator('#alarm-rows td.state').first().textContent()).toBe('Unacknowledged');
    expect(await page.locator('#alarm-rows td.site-name').first().textContent()).toBe(
      'Bohai Chemical Co., Ltd.',
    );
  });

  it('should give a binhai regulator the regulator view, no wuqing enterprise and no Ack button', async () => {
    await signIn('reg-token');
    await page.locator('#regulator-view #jurisdiction').waitFor();
    await page.locator('#jurisdiction .reg-enterprise').nth(1).waitFor();
    expect(await attrs(page.locator('#jurisdiction .reg-enterprise'), 'data-site-id')).toEqual([
      'bohai-chem',
      'nangang-petro',
    ]);
    const wq = h.alarms.raise({ siteId: 'wuqing-fine', sourceId: 'wqf-h2o2', deviceId: 'hp-gd-1' });
    const bh = h.alarms.raise({ siteId: 'bohai-chem' });
    await page
      .locator('#jurisdiction .reg-enterprise[data-site-id="bohai-chem"] .prio-badge.prio-high')
      .waitFor();
    await view('alarms');
    await row(bh.id).waitFor();
    expect(await row(wq.id).count()).toBe(0);
    expect(await row(bh.id).locator('button').count()).toBe(0);
  });

  it('should ask for the token again when the server refuses it', async () => {
    await page.goto(h.url);
    await page.fill('#token-input', 'wrong');
    await page.click('#token-submit');
    await page.locator('#token-error').waitFor({ state: 'visible' });
    expect(await page.locator('#conn').getAttribute('data-state')).toBe('auth');
    expect(await page.evaluate('sessionStorage.getItem("hazwatch.token")')).toBeNull();
  });

  it('should update the mimic from /ws without reload: tank level bar, detector colour by alarm level, valve state', async () => {
    await signIn();
    await view('mimic');
    const tank = page.locator('g.tank[data-device="bohai-chem/cl-tk-1"]');
    await tank.waitFor();
    await page.locator('html[data-telemetry~="bohai-chem/cl-tk-1"]').waitFor({ state: 'attached' });
    expect(await tank.locator('line.fill-limit').count()).toBe(1);
    expect(await tank.locator('.mark-hh').count()).toBe(1);
    const now = Date.now();
    const push = (deviceId: string, channel: string, value: number | string): void =>
      h.telemetry.next({
        siteId: 'bohai-chem',
        deviceId,
        channel,
        value,
        ts: now,
        quality: 'good',
        receivedAt: now,
      });
    push('cl-tk-1', 'level_pct', 78.2);
    push('cl-gd-1', 'conc', 2.6);
    push('cl-xv-1', 'position', 'moving');
    await page.locator('g.tank[data-device="bohai-chem/cl-tk-1"][data-level="78.2"].tank-hh').waitFor();
    await page.locator('g.detector[data-device="bohai-chem/cl-gd-1"][data-alarm-level="l2"]').waitFor();
    await page.locator('g.valve[data-device="bohai-chem/cl-xv-1"][data-position="moving"]').waitFor();
    expect(await page.locator('#mimic-r').getAttribute('data-grade')).toBe('2');
  });

  it('should open a trend with the device as a pen, follow live values, and switch ranges', async () => {
    await signIn();
    await view('mimic');
    await page.locator('g.detector[data-device="bohai-chem/cl-gd-1"]').click();
    await page.locator('#trend-view .pen[data-pen="bohai-chem/cl-gd-1/conc"]').waitFor();
    await page.locator('#trend-chart canvas').waitFor();
    await page.locator('html[data-telemetry~="bohai-chem/cl-gd-1"]').waitFor({ state: 'attached' });
    h.telemetry.next({
      siteId: 'bohai-chem',
      deviceId: 'cl-gd-1',
      channel: 'conc',
      value: 1.23,
      ts: Date.now(),
      quality: 'good',
      receivedAt: Date.now(),
    });
    await page.locator('.pen-value[data-channel="conc"]', { hasText: '1.23' }).waitFor();
    await page.click('button[data-range="7d"]');
    await page.locator('button[data-range="7d"][aria-pressed="true"]').waitFor();
  });

  it('should zoom the map into an enterprise and open its hazard sources', async () => {
    await signIn();
    await view('map');
    await page.locator('#map-chart canvas').first().waitFor();
    await page.locator('.site[data-site-id="bohai-chem"] .site-btn').click();
    await page.locator('#site-focus[data-site-id="bohai-chem"]').waitFor();
    await page.click('#open-mimic');
    await page.locator('#mimic-view').waitFor();
    expect(await page.locator('#mimic-site').inputValue()).toBe('bohai-chem');
  });

  it('should render every view in Chinese and English (screenshots)', async () => {
    await signIn();
    h.alarms.raise({ priority: 'critical', message: '氯气二级报警（表决）' });
    h.alarms.raise({ priority: 'high', deviceId: 'cl-gd-2', message: '氯气一级报警' });
    const acked = h.alarms.raise({
      priority: 'medium',
      sourceId: 'bhc-nh3',
      deviceId: 'nh-gd-1',
      message: '氨气一级报警',
    });
    h.alarms.ack(acked.id, 'shift lead');
    h.alarms.raise({
      priority: 'low',
      condition: 'calibration_overdue',
      deviceId: 'cl-gd-3',
      message: '探测器标定逾期',
    });
    // two pens on the trend: a detector and a tank; live values reach the mimic once it subscribed to them
    await view('mimic');
    await page.locator('html[data-telemetry~="bohai-chem/cl-tk-1"]').waitFor({ state: 'attached' });
    const now = Date.now();
    for (const [deviceId, channel, value] of [
      ['cl-tk-1', 'level_pct', 71.4],
      ['cl-tk-2', 'level_pct', 52.0],
      ['cl-gd-1', 'conc', 2.6],
      ['cl-gd-2', 'conc', 1.2],
      ['cl-gd-3', 'conc', 0.1],
      ['cl-xv-1', 'position', 'closed'],
    ] as const)
      h.telemetry.next({
        siteId: 'bohai-chem',
        deviceId,
        channel,
        value,
        ts: now,
        quality: 'good',
        receivedAt: now,
      });
    await page.locator('g.tank[data-device="bohai-chem/cl-tk-1"][data-level="71.4"]').waitFor();
    await page.locator('g.detector[data-device="bohai-chem/cl-gd-1"]').click();
    await view('mimic');
    await page.locator('g.tank[data-device="bohai-chem/cl-tk-1"]').click();
    await page.locator('.pen').nth(1).waitFor();
    for (const lang of ['zh', 'en']) {
      if (lang === 'en') await page.click('#lang');
      for (const v of ['alarms', 'map', 'mimic', 'trends', 'kpi', 'regulator']) {
        await view(v);
        if (v === 'kpi') await page.locator('.tile').first().waitFor();
        await page.locator('canvas, svg.mimic, #alarm-rows tr').first().waitFor();
        // let ECharts finish its first animation frame
        await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
        await page.screenshot({ path: join(ARTIFACTS, `console-${v}-${lang}.png`) });
      }
    }
    await page.close();
    page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await signIn('reg-token');
    await page.locator('#jurisdiction .reg-enterprise').nth(1).waitFor();
    await page.locator('#reg-map-chart canvas').first().waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'console-regulator-operator-scope-en.png') });
  });
});
