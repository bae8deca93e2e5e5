/**
 * `npm run bench:console`: the built console (dist/console) in headless Chromium under load — 2,000 devices,
 * 500 active alarms, 200 telemetry updates per second and an alarm event per second — with the server replaced by an
 * in-page fake (/ws frames and HTTP answers), so only the browser's work is measured. It cycles through the alarm
 * list, the mimic, the trends and the map, and prints the longest frame, frames over 50 ms and JS heap samples.
 * Options: --seconds N (default 180), --chromium PATH (default /usr/bin/chromium), --trace FILE (a Chromium
 * performance trace of the first measured cycle for the DevTools Performance panel, summarised: main-thread tasks over
 * 50 ms with their wall and CPU time, the fair figure on a loaded machine), --view NAME (cycle one view only),
 * --profile (a CPU profile of every measured cycle: the functions with the most self time), --memory
 * (the memory run: the page stays on one live view — the trends, the view that keeps data — and the JS heap is
 * sampled after a forced GC every minute; prints the series and its least-squares slope, e.g. --seconds 600 --memory).
 * Prints figures; asserts nothing.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { chromium } from 'playwright-core';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
};
const SECONDS = Number(arg('seconds', '180'));
const CHROMIUM = arg('chromium', '/usr/bin/chromium');
const TRACE = arg('trace', '');
const MEMORY = process.argv.includes('--memory');
const ONLY = arg('view', '');
const PROFILE = process.argv.includes('--profile');
const ROOT = join(__dirname, '..', '..');
const DIST = arg('dist', join(ROOT, 'dist', 'console'));
const DEVICES = 2000;
const ALARMS = 500;
const RATE = 200;

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html' };

/** The fake plant and server, as in-page script (runs before the console's own code). */
function fakeServer(devices: number, alarms: number, rate: number): string {
  return `(() => {
  const SITES = 50, PER_SITE = ${devices} / SITES;
  const sites = [], devs = [], hazards = [], alarmList = [];
  const kinds = ['gas_detector', 'tank', 'shutoff_valve', 'gas_detector', 'gas_detector'];
  for (let s = 0; s < SITES; s++) {
    const id = 'site-' + s;
    const sources = [0, 1].map((h) => ({ id: id + '-hs' + h, name: '危险源 ' + s + '-' + h, filedGrade: 1 + ((s + h) % 4) }));
    sites.push({ id, name: '测试企业 ' + s, nameEn: 'Enterprise ' + s, jurisdiction: 'tianjin/binhai/p' + (s % 5),
      location: { lat: 38.7 + (s % 10) * 0.12, lon: 116.9 + Math.floor(s / 10) * 0.25 }, hazardSources: sources });
    for (const h of sources) hazards.push({ sourceId: h.id, siteId: id, grade: h.filedGrade, level: ['red','orange','yellow','blue'][h.filedGrade - 1], R: 120 - h.filedGrade * 25 });
    for (let d = 0; d < PER_SITE; d++) {
      const kind = kinds[d % kinds.length];
      devs.push({ siteId: id, deviceId: 'd' + d, name: '设备 ' + d, kind, sourceId: sources[d % 2].id, unit: 'mg/m3', level1: 1, level2: 2,
        levelHPct: 70, levelHHPct: 75, maxFillPct: 80, state: 'online', values: {} });
    }
  }
  let seq = 0;
  const now = Date.now();
  for (let i = 0; i < ${alarms}; i++) {
    const d = devs[(i * 7) % devs.length];
    alarmList.push({ id: 'al-' + i, siteId: d.siteId, sourceId: d.sourceId, ruleId: 'r', deviceId: d.deviceId, condition: 'gas_l2',
      priority: ['critical', 'high', 'medium', 'low'][i % 4], level: 'orange', state: i % 3 ? 'unacknowledged' : 'acknowledged',
      active: true, acked: !(i % 3), value: 2.5, limit: 2, message: '报警 ' + i, raisedAt: new Date(now - i * 1000).toISOString(), seq: ++seq });
  }
  const json = (body) => new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
  const realFetch = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const url = new URL(typeof input === 'string' ? input : input.url, location.href);
    switch (url.pathname) {
      case '/api/sites': return json(sites);
      case '/api/devices': return json(devs);
      case '/api/hazard-sources': return json(hazards);
      case '/api/alarms': return json(alarmList);
      case '/api/alarms/status': return json({ floods: [] });
      case '/api/telemetry': return json({ points: [] });
      default:
        if (url.pathname.startsWith('/api/')) return new Response('{"message":"not in bench"}', { status: 404 });
        return realFetch(input, init);
    }
  };
  sessionStorage.setItem('hazwatch.token', 'bench');
  class FakeSocket {
    constructor() { this.readyState = 0; setTimeout(() => { this.readyState = 1; this.onopen && this.onopen(); }, 10); }
    emit(event, data) { this.onmessage && this.onmessage({ data: JSON.stringify({ event, data }) }); }
    send(raw) {
      const f = JSON.parse(raw);
      if (f.event === 'auth') { this.emit('hello', { seq, server: 'hazwatch', version: 'bench', principal: { name: 'bench', role: 'operator', scope: '' } }); this.emit('status', { storageDegraded: false }); this.start(); }
      if (f.event === 'subscribe') this.emit('subscribed', { alarms: true, telemetry: f.data.telemetry || [], rejected: [], replayed: 0, reset: false });
    }
    start() {
      if (this.timer) return;
      let k = 0;
      // ${rate} telemetry frames per second in ticks of 50 ms; one alarm event per second
      this.timer = setInterval(() => {
        for (let i = 0; i < ${rate} / 20; i++) {
          const d = devs[(k++ * 13) % devs.length];
          this.emit('telemetry', { siteId: d.siteId, deviceId: d.deviceId, ts: Date.now(), values: d.kind === 'tank' ? { level_pct: 50 + 20 * Math.sin(k / 50) } : d.kind === 'shutoff_valve' ? { position: k % 40 ? 'open' : 'moving' } : { conc: 1 + Math.sin(k / 30) } });
        }
      }, 50);
      this.alarmTimer = setInterval(() => {
        const a = alarmList[(k++ * 3) % alarmList.length];
        const acked = !a.acked;
        const next = { ...a, acked, state: acked ? 'acknowledged' : 'unacknowledged', seq: ++seq, event: acked ? 'acknowledged' : 'raised', raisedAt: acked ? a.raisedAt : new Date().toISOString() };
        alarmList[alarmList.indexOf(a)] = next;
        this.emit('alarm', next);
      }, 1000);
    }
    close() { clearInterval(this.timer); clearInterval(this.alarmTimer); this.readyState = 3; }
  }
  FakeSocket.OPEN = 1;
  window.WebSocket = FakeSocket;
  // frame timing: every animation frame's duration, plus long-animation-frame entries when the browser has them
  window.__bench = { frames: [], long: [] };
  let last = performance.now();
  const tick = (t) => { window.__bench.frames.push(t - last); last = t; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  try { new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__bench.long.push(e.duration); }).observe({ type: 'long-animation-frame', buffered: true }); } catch (e) {}
})();`;
}

type Sample = { t: number; heapMB: number; maxFrame: number; over50: number; frames: number; lafMax: number };

async function main(): Promise<void> {
  if (!existsSync(join(DIST, 'index.html')))
    throw new Error(`${DIST}/index.html missing: run npm run build first`);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing (apt-get install chromium)`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--enable-precise-memory-info'],
  });
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.route('http://bench.local/**', async (route) => {
    const path = new URL(route.request().url()).pathname;
    const file = path === '/' ? join(DIST, 'index.html') : join(DIST, path.replace(/^\/console\//, ''));
    if (!existsSync(file)) return route.fulfill({ status: 404, body: 'not found' });
    return route.fulfill({
      status: 200,
      body: readFileSync(file),
      headers: { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' },
    });
  });
  await page.addInitScript(fakeServer(DEVICES, ALARMS, RATE));
  await page.goto('http://bench.local/');
  await page.locator('#conn[data-state="open"]').waitFor();
  // the list is windowed (console/src/windowing.ts): all 500 alarms are in the list, ~40 rows in the DOM
  await page.locator(`#alarm-table[data-rows="${ALARMS}"]`).waitFor({ state: 'attached', timeout: 60_000 });
  const cdp = await page.context().newCDPSession(page);
  if (MEMORY) {
    await memoryRun(page, cdp);
    await browser.close();
    return;
  }
  const views = ONLY ? [ONLY] : ['alarms', 'mimic', 'trends', 'map'];
  const samples: Sample[] = [];
  const started = Date.now();
  console.log(
    `console bench: ${DEVICES} devices, ${ALARMS} active alarms, ${RATE} telemetry updates/s, 1 alarm event/s, ${SECONDS} s`,
  );
  let v = 0;
  while (Date.now() - started < SECONDS * 1000) {
    const view = views[v++ % views.length] as string;
    await page.click(`#tab-${view}`);
    if (view === 'trends' && (await page.locator('.pen').count()) === 0) {
      await page.selectOption('#pen-device', { index: 1 });
      await page.click('#pen-add');
    }
    // discard the view switch itself (a one-off mount), then measure 10 s of steady updates
    await page.evaluate('new Promise((r) => setTimeout(r, 1000))');
    await page.evaluate('window.__bench.frames = []; window.__bench.long = []');
    const tracing = TRACE !== '' && v === 1;
    if (tracing) await browser.startTracing(page, { path: TRACE, screenshots: false });
    if (PROFILE) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
      await cdp.send('Profiler.start');
    }
    if (view === 'alarms') {
      // an operator scrolling through the list while it updates
      for (let i = 0; i < 10; i++) {
        await page.mouse.move(800, 500);
        await page.mouse.wheel(0, i < 5 ? 900 : -900);
        await page.evaluate('new Promise((r) => setTimeout(r, 1000))');
      }
    } else await page.evaluate('new Promise((r) => setTimeout(r, 10000))');
    if (tracing) {
      await browser.stopTracing();
      summariseTrace(TRACE, view);
    }
    if (PROFILE) {
      const { profile } = (await cdp.send('Profiler.stop')) as { profile: CpuProfile };
      summariseProfile(profile, view);
      if (process.env.CONSOLE_BENCH_PROFILE_OUT)
        writeFileSync(
          `${process.env.CONSOLE_BENCH_PROFILE_OUT}-${view}-${v}.cpuprofile`,
          JSON.stringify(profile),
        );
    }
    await cdp.send('HeapProfiler.collectGarbage');
    const heap = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number };
    const m = await page.evaluate<{ max: number; over: number; n: number; laf: number }>(
      '(() => { const f = window.__bench.frames; return { max: Math.max(0, ...f), over: f.filter((x) => x > 50).length, n: f.length, laf: Math.max(0, ...window.__bench.long) }; })()',
    );
    const s: Sample = {
      t: Math.round((Date.now() - started) / 1000),
      heapMB: heap.usedSize / 1048576,
      maxFrame: m.max,
      over50: m.over,
      frames: m.n,
      lafMax: m.laf,
    };
    samples.push(s);
    console.log(
      `  t=${String(s.t).padStart(4)} s  view=${view.padEnd(7)} frames=${s.frames}  longest frame=${s.maxFrame.toFixed(1)} ms  frames>50ms=${s.over50}  longest LoAF=${s.lafMax.toFixed(1)} ms  heap=${s.heapMB.toFixed(1)} MB`,
    );
  }
  const first = samples.slice(0, 4);
  const lastFour = samples.slice(-4);
  const avg = (xs: Sample[]): number => xs.reduce((n, x) => n + x.heapMB, 0) / Math.max(1, xs.length);
  console.log(
    `summary: longest frame ${Math.max(...samples.map((s) => s.maxFrame)).toFixed(1)} ms, frames over 50 ms ${samples.reduce((n, s) => n + s.over50, 0)} of ${samples.reduce((n, s) => n + s.frames, 0)}, heap after GC first cycle ${avg(first).toFixed(1)} MB → last cycle ${avg(lastFour).toFixed(1)} MB, page errors ${errors.length}`,
  );
  if (errors.length) console.log(errors.slice(0, 5).join('\n'));
  await browser.close();
}

type CpuProfile = {
  nodes: Array<{
    id: number;
    children?: number[];
    callFrame: { functionName: string; url: string; lineNumber: number };
  }>;
  samples: number[];
  timeDeltas: number[];
};

/** Self time per function of a CPU profile, the top 12. */
function summariseProfile(p: CpuProfile, view: string): void {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const n = byId.get(id);
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    if (!n) return;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop() ?? ''}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  // inclusive time: each sample counts once for every distinct function on its stack
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)?.callFrame;
      if (!f || f.url === '') continue;
      const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop() ?? ''}:${f.lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + dt);
    }
  });
  const busy = [...self].filter(([k]) => !k.startsWith('(idle)') && !k.startsWith('(program)'));
  const busyMs = busy.reduce((n, [, ms]) => n + ms, 0);
  console.log(`  profile ${view}: ${busyMs.toFixed(0)} ms of JS/GC in ${total.toFixed(0)} ms sampled`);
  for (const [k, ms] of busy.sort((a, b) => b[1] - a[1]).slice(0, 12))
    console.log(`    ${ms.toFixed(0).padStart(6)} ms self  ${k}`);
  for (const [k, ms] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 16))
    console.log(`    ${ms.toFixed(0).padStart(6)} ms total ${k}`);
}

type TraceEvent = {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string };
};

/** Main-thread tasks of the renderer over 50 ms in a Chromium trace: wall time and CPU (thread) time. */
function summariseTrace(file: string, view: string): void {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents?: TraceEvent[] } | TraceEvent[];
  const events = Array.isArray(raw) ? raw : (raw.traceEvents ?? []);
  const main = events.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  const all = events.filter(
    (e) => main && e.pid === main.pid && e.tid === main.tid && e.ph === 'X' && e.name === 'RunTask',
  );
  // the first frame of a trace carries the tracer's own start (V8 interrupt callbacks, ~1 s wall here): not the page's
  const t0 = Math.min(...all.map((e) => e.ts ?? 0));
  const tasks = all.filter((e) => (e.ts ?? 0) > t0 + 20_000);
  const long = tasks.filter((e) => (e.dur ?? 0) > 50_000);
  const cpuTop = tasks
    .map((e) => e.tdur ?? 0)
    .sort((a, b) => b - a)
    .slice(0, 10);
  const ms = (us: number | undefined): string => ((us ?? 0) / 1000).toFixed(1);
  const cpu = tasks.reduce((n, e) => n + (e.tdur ?? 0), 0);
  console.log(
    `  trace ${view}: CPU of the 10 costliest tasks ${cpuTop.map((us) => ms(us)).join(', ')} ms; tasks over 16 ms CPU ${tasks.filter((e) => (e.tdur ?? 0) > 16_000).length}, over 50 ms CPU ${tasks.filter((e) => (e.tdur ?? 0) > 50_000).length}`,
  );
  console.log(
    `  trace ${view}: ${tasks.length} main-thread tasks, ${ms(cpu)} ms CPU; tasks over 50 ms wall: ${long.length} (CPU of those: ${long.map((e) => ms(e.tdur)).join(', ') || '—'} ms); longest task ${ms(Math.max(0, ...tasks.map((e) => e.dur ?? 0)))} ms wall, ${ms(Math.max(0, ...tasks.map((e) => e.tdur ?? 0)))} ms CPU`,
  );
}

/** Least-squares slope of y over x. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/**
 * --memory: the trends view with four pens (live points are kept per pen, the one store that grows with time) plus the
 * alarm churn and 200 telemetry frames/s, heap after a forced GC once a minute; also a visit of every other view each
 * minute so their mounts and unmounts are in the figure.
 */
async function memoryRun(
  page: import('playwright-core').Page,
  cdp: import('playwright-core').CDPSession,
): Promise<void> {
  const heapMB = async (): Promise<number> => {
    await cdp.send('HeapProfiler.collectGarbage');
    const h = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number };
    return h.usedSize / 1048576;
  };
  const nodes = async (): Promise<number> =>
    ((await cdp.send('Memory.getDOMCounters')) as { nodes: number }).nodes;
  await page.click('#tab-trends');
  for (let i = 1; i <= 4; i++) {
    await page.selectOption('#pen-device', { index: i * 3 });
    await page.click('#pen-add');
  }
  console.log(
    `console memory: ${DEVICES} devices, ${ALARMS} active alarms, ${RATE} telemetry updates/s, 1 alarm event/s, ${SECONDS} s, heap after forced GC each minute`,
  );
  const started = Date.now();
  const xs: number[] = [];
  const ys: number[] = [];
  const sample = async (): Promise<void> => {
    const t = (Date.now() - started) / 60_000;
    const mb = await heapMB();
    xs.push(t);
    ys.push(mb);
    console.log(`  t=${t.toFixed(1).padStart(5)} min  heap=${mb.toFixed(2)} MB  DOM nodes=${await nodes()}`);
  };
  await sample();
  const others = ['alarms', 'map', 'mimic', 'kpi', 'regulator'];
  let k = 0;
  while (Date.now() - started < SECONDS * 1000) {
    // one other view for 5 s, back to the trends for the rest of the minute
    await page.click(`#tab-${others[k++ % others.length] as string}`);
    await page.evaluate('new Promise((r) => setTimeout(r, 5000))');
    await page.click('#tab-trends');
    const next = started + xs.length * 60_000;
    await page.evaluate(`new Promise((r) => setTimeout(r, ${Math.max(0, next - Date.now())}))`);
    await sample();
  }
  const s = slope(xs, ys);
  const half = Math.floor(ys.length / 2);
  const s2 = slope(xs.slice(half), ys.slice(half));
  console.log(
    `summary: heap ${ys[0]?.toFixed(2)} MB → ${ys.at(-1)?.toFixed(2)} MB over ${xs.at(-1)?.toFixed(1)} min; slope ${(s * 1024).toFixed(1)} kB/min over the whole run, ${(s2 * 1024).toFixed(1)} kB/min over the second half`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
