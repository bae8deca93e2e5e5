/**
 * The operator console against the real server (embedded PostgreSQL, in-process broker, real rules, alarms and auth)
 * in headless Chromium, with the plant simulated by `npm run simulate -- --scenario chlorine-leak` in its own process
 * (the leak takes two chlorine detectors of one area past level 2 → a voted critical alarm). Sign in with the demo
 * operator token, wait for the simulated alarm, acknowledge it by clicking, see the state change, and save
 * screenshots under test/artifacts/ (git-ignored).
 * Needs /usr/bin/chromium and a built server (npm run build); skipped with a printed reason without Chromium.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';
import { pollUntil } from '../setup/poll-until';
import { startServer, type ServerProcess } from '../setup/server-process';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, '..', 'artifacts');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium)
  console.warn(`console.e2e-spec: skipped — ${CHROMIUM} is missing (apt-get install -y chromium)`);
const describeIf = haveChromium ? describe : describe.skip;

describeIf('operator console end to end (real server, headless Chromium)', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  let simulator: ChildProcess | undefined;
  let simOutput = '';
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServer({ env: { SIMULATE: 'false' } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });
  afterAll(async () => {
    await browser?.close();
    if (simulator && simulator.exitCode === null) {
      const exited = new Promise((r) => simulator?.once('exit', r));
      simulator.kill('SIGINT');
      await exited;
    }
    await server?.stop();
  });

  it('should show a simulated critical alarm, acknowledge it on click, and show the new state', async () => {
    await page.goto(`${server.url}/`);
    await page.locator('#token-dialog[open]').waitFor();
    await page.fill('#token-input', server.tokens().operator as string);
    await page.click('#token-submit');
    await page.locator('#conn[data-state="open"]').waitFor();
    // the plant model is loaded once connected: the one-map lists the enterprises
    await page.click('#tab-map');
    await page.locator('.site[data-site-id="bohai-chem"]').waitFor();
    await page.click('#tab-alarms');

    // The simulated plant with a chlorine leak starting 5 s after the simulators connect.
    const root = join(__dirname, '..', '..');
    simulator = spawn(
      process.execPath,
      [
        join(root, 'dist', 'simulators', 'main.js'),
        '--url',
        server.mqttUrl() as string,
        '--config',
        join(root, 'config'),
        '--scenario',
        'chlorine-leak',
        '--scenario-start',
        '5',
      ],
      {
        cwd: root,
        // the embedded broker refuses anonymous clients: the simulator publishes as the test gateway of every site
        env: {
          PATH: process.env.PATH ?? '',
          LOG_LEVEL: 'warn',
          MQTT_USERNAME: server.mqttAuth().username,
          MQTT_PASSWORD: server.mqttAuth().password,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    simulator.stdout?.on('data', (c: Buffer) => (simOutput += c.toString()));
    simulator.stderr?.on('data', (c: Buffer) => (simOutput += c.toString()));
    const critical = page
      .locator('#alarm-rows tr.alarm[data-priority="critical"][data-state="unacknowledged"]')
      .first();
    const id = await pollUntil(
      async () => {
        if (simulator?.exitCode !== null) throw new Error(`simulator exited: ${simOutput.slice(-2000)}`);
        return (await critical.count()) > 0 ? critical.getAttribute('data-alarm-id') : undefined;
      },
      {
        timeoutMs: 60_000,
        intervalMs: 250,
        what: 'a critical unacknowledged alarm row from the simulated chlorine leak',
      },
    );
    const row = page.locator(`#alarm-rows tr.alarm[data-alarm-id="${id}"]`);
    expect(await row.getAttribute('class')).toContain('unacked');
    await page.screenshot({ path: join(ARTIFACTS, 'console-alarm.png') });

    await row.locator('button[data-action="ack"]').click();
    // The server took the click as an acknowledgement by this operator. (On a loaded box the leak may have cleared
    // before the click landed: then the ack takes the alarm from rtn_unacknowledged to normal, not to acknowledged.)
    const acked = await pollUntil(
      async () => {
        const res = await fetch(`${server.url}/api/alarms/${id}`, {
          headers: { authorization: `Bearer ${server.tokens().operator}` },
        });
        const body = (await res.json()) as { acked: boolean; state: string };
        return body.acked ? body : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `alarm ${id} acknowledged on the server` },
    );
    expect(['acknowledged', 'normal']).toContain(acked.state);
    // …and the console shows it: the row is no longer unacknowledged (acknowledged, or gone once normal). The ack
    // is journalled (fsync, then the database) before it is announced back: slow on a loaded CI box.
    await pollUntil(
      async () => {
        if ((await row.count()) === 0) return acked.state === 'normal' ? true : undefined;
        const state = await row.getAttribute('data-state');
        return state === 'acknowledged' || state === 'normal' ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `the console showing alarm ${id} acknowledged` },
    );
    if ((await row.count()) > 0) {
      expect(await row.getAttribute('class')).not.toContain('unacked');
      expect(await row.locator('button[data-action="ack"]').count()).toBe(0);
    }

    // the hazard-source mimic draws the chlorine tank farm; clicking a detector opens its trend
    await page.click('#tab-mimic');
    const detector = page.locator('g.detector[data-device="bohai-chem/cl-gd-1"]');
    await detector.waitFor();
    // live values reach the schematic over /ws: the detector shows a number (the simulator publishes every few seconds)
    await pollUntil(async () => /\d/.test((await detector.locator('text.det-value').textContent()) ?? ''), {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'a live value on the cl-gd-1 detector of the mimic',
    });
    await page.screenshot({ path: join(ARTIFACTS, 'console-mimic-live.png') });
    await detector.click();
    await page.locator('#trend-view .pen[data-pen="bohai-chem/cl-gd-1/conc"]').waitFor();
    await page.locator('#trend-chart canvas').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'console.png') });
    expect(pageErrors).toEqual([]);
  });
});
