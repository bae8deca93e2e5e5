/**
 * The operator console in headless Chromium against the real gateway and console page, with an in-memory backend
 * (console-harness.ts) so every alarm is raised by the test. The full-app scenario is console.e2e-spec.ts.
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
    // the plant overview is loaded once connected
    await page.locator('.site').first().waitFor();
  };
  const row = (id: string): Locator => page.locator(`tr.alarm[data-alarm-id="${id}"]`);
  const classes = async (l: Locator): Promise<string[]> =>
    ((await l.getAttribute('class')) ?? '').split(/\s+/);
  const attrs = async (l: Locator, name: string): Promise<Array<string | null>> => {
    const out: Array<string | null> = [];
    for (const one of await l.all()) out.push(await one.getAttribute(name));
    return out;
  };

  it('should show a raised critical alarm blinking, sound an alert, and show it acknowledged after Ack is clicked', async () => {
    await signIn();
    const a = h.alarms.raise({ priority: 'critical', message: '氯气二级报警（表决）' });
    await row(a.id).waitFor();
    await expect(row(a.id).getAttribute('data-state')).resolves.toBe('unacknowledged');
    expect(await classes(row(a.id))).toEqual(expect.arrayContaining(['unacked', 'kind-alarm']));
    await page.waitForFunction('document.documentElement.dataset.alerts === "1"');

    await row(a.id).locator('button[data-action="ack"]').click();
    await page.locator(`tr.alarm[data-alarm-id="${a.id}"][data-state="acknowledged"]`).waitFor();
    expect(h.ackCalls).toEqual([a.id]);
    expect(await classes(row(a.id))).not.toContain('unacked');
    expect(await row(a.id).locator('button[data-action="ack"]').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'console-ui-acked.png') });
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

  it('should sort alarms by priority then newest first', async () => {
    await signIn();
    const low = h.alarms.raise({
      priority: 'low',
      condition: 'calibration_overdue',
      message: 'calibration overdue',
    });
    const high1 = h.alarms.raise({ priority: 'high' });
    const crit = h.alarms.raise({ priority: 'critical' });
    const high2 = h.alarms.raise({ priority: 'high', deviceId: 'cl-gd-2' });
    await row(high2.id).waitFor();
    const order = await attrs(page.locator('#alarm-rows tr.alarm'), 'data-alarm-id');
    expect(order[0]).toBe(crit.id);
    expect(order.slice(1, 3).sort()).toEqual([high1.id, high2.id].sort());
    expect(order[3]).toBe(low.id);
    // a fault-type condition is shown yellow, not red
    expect(await classes(row(low.id))).toContain('kind-fault');
  });

  it('should lose no alarm event when the connection drops and the console resumes with since', async () => {
    await signIn();
    const a = h.alarms.raise({ priority: 'high' });
    await row(a.id).waitFor();
    expect(h.dropConnections()).toBe(1);
    // raised while the console is disconnected
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

  it('should show the flood indicator and group by hazard source when more than 10 alarms arrive in 10 minutes', async () => {
    await signIn();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++)
      ids.push(h.alarms.raise({ priority: 'medium', sourceId: 'bhc-cl2', deviceId: 'cl-gd-1' }).id);
    for (let i = 0; i < 5; i++)
      ids.push(h.alarms.raise({ priority: 'medium', sourceId: 'bhc-nh3', deviceId: 'nh-gd-1' }).id);
    await row(ids.at(-1) as string).waitFor();
    await page.locator('#banner-flood').waitFor({ state: 'visible' });
    expect(await page.locator('#alarm-rows tr.group').count()).toBe(2);
    // nothing hidden: every alarm still has its row
    expect(await page.locator('#alarm-rows tr.alarm').count()).toBe(11);
    await page.screenshot({ path: join(ARTIFACTS, 'console-ui-flood.png') });
  });

  it('should move a shelved alarm to the hidden section after Shelve asks minutes and reason', async () => {
    await signIn();
    const a = h.alarms.raise({ priority: 'high' });
    await row(a.id).locator('button[data-action="shelve"]').click();
    await page.locator('#shelve-dialog[open]').waitFor();
    await page.fill('#shelve-minutes', '45');
    await page.fill('#shelve-reason', 'detector under maintenance');
    await page.locator('#shelve-form button[type="submit"]').click();
    await page
      .locator(`#hidden-rows tr.alarm[data-alarm-id="${a.id}"][data-state="shelved"]`)
      .waitFor({ state: 'attached' });
    expect(await page.locator(`#alarm-rows tr.alarm[data-alarm-id="${a.id}"]`).count()).toBe(0);
  });

  it('should switch labels between Chinese (default) and English', async () => {
    await signIn();
    expect(await page.locator('#alarms-title [data-i18n="alarms.title"]').textContent()).toBe('报警列表');
    h.alarms.raise({ priority: 'high', message: 'chlorine level 2' });
    await page.locator('#alarm-rows tr.alarm').first().waitFor();
    await page.click('#lang');
    expect(await page.locator('#alarms-title [data-i18n="alarms.title"]').textContent()).toBe('Alarms');
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    // rendered labels follow the switch too
    expect(await page.locator('#alarm-rows td.state').first().textContent()).toBe('Unacknowledged');
    await page.screenshot({ path: join(ARTIFACTS, 'console-ui-en.png') });
  });

  it('should give a binhai regulator the jurisdiction tree, no wuqing enterprise and no Ack button', async () => {
    await signIn('reg-token');
    await page.locator('#jurisdiction').waitFor({ state: 'visible' });
    expect(await attrs(page.locator('.site'), 'data-site-id')).toEqual(['bohai-chem', 'nangang-petro']);
    const wq = h.alarms.raise({ siteId: 'wuqing-fine', sourceId: 'wqf-h2o2', deviceId: 'hp-gd-1' });
    const bh = h.alarms.raise({ siteId: 'bohai-chem' });
    await row(bh.id).waitFor();
    expect(await row(wq.id).count()).toBe(0);
    expect(await row(bh.id).locator('button').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'console-ui-regulator.png') });
  });

  it('should ask for the token again when the server refuses it', async () => {
    await page.goto(h.url);
    await page.fill('#token-input', 'wrong');
    await page.click('#token-submit');
    await page.locator('#token-error').waitFor({ state: 'visible' });
    expect(await page.locator('#conn').getAttribute('data-state')).toBe('auth');
    expect(await page.evaluate('sessionStorage.getItem("hazwatch.token")')).toBeNull();
  });

  it('should show live values and a trend chart when a device is selected', async () => {
    await signIn();
    await page.locator('button.device[data-device="bohai-chem/cl-gd-1"]').click();
    await page.locator('#detail svg.trend path.trend-line').waitFor();
    h.telemetry.next({
      siteId: 'bohai-chem',
      deviceId: 'cl-gd-1',
      channel: 'conc',
      value: 1.23,
      ts: Date.now(),
      quality: 'good',
      receivedAt: Date.now(),
    });
    await page.locator('#detail dd[data-channel="conc"]', { hasText: '1.23' }).waitFor();
    // set points of the detector are drawn
    expect(await page.locator('#detail .trend-limit').count()).toBe(2);
    await page.screenshot({ path: join(ARTIFACTS, 'console-ui-detail.png') });
  });
});
