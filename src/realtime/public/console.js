// hazwatch live operator console. Plain ES modules, no build step, no third-party code.
// Data: /ws (alarm, telemetry, hazard, status pushes; resume with `since`) and the HTTP API (docs/contract.md §3).
import { applyLabels, getLang, setLang, t, tOr } from './i18n.js';
import { renderTrend } from './chart.js';

const TOKEN_KEY = 'hazwatch.token';
const MUTE_KEY = 'hazwatch.muted';
const PRIORITY_RANK = { critical: 4, high: 3, medium: 2, low: 1 };
const HIDDEN_STATES = new Set(['shelved', 'suppressed', 'out_of_service']);
const FAULT_CONDITION = /fault|stale|offline|quality|comm|calib|drift|frozen|range|negative|sensor/i;
const SYSTEMS = ['esd', 'gas_detection', 'video', 'lightning'];
const NUMERIC_CHANNELS = {
  gas_detector: ['conc'],
  tank: ['level_pct', 'temp_c', 'pressure_kpa'],
  shutoff_valve: [],
  safety_system: [],
};
const CHANNEL_UNITS = { level_pct: '%', temp_c: '°C', pressure_kpa: 'kPa' };
const GRADE_LEVEL = { 1: 'red', 2: 'orange', 3: 'yellow', 4: 'blue' };
const FLOOD_WINDOW_MS = 10 * 60 * 1000;
const FLOOD_LIMIT = 10;
const HOUR_MS = 60 * 60 * 1000;

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  principal: null,
  /** id → latest alarm snapshot (state ≠ normal). */
  alarms: new Map(),
  /** Newest alarm-event seq applied: the `since` of the next (re)subscribe. null until the first hello. */
  lastSeq: null,
  sites: [],
  siteById: new Map(),
  deviceByKey: new Map(),
  sourceById: new Map(),
  hazards: new Map(),
  /** `site/device` → { online, lastSeen, values: {channel: value}, ts } */
  devices: new Map(),
  selected: null,
  channel: null,
  /** `site/device/channel` → [{t, v}] live points for the trend. */
  live: new Map(),
  history: null,
  /** `${id}@${raisedAt}` → raise time (ms), for the flood indicator. */
  raises: new Map(),
  muted: localStorage.getItem(MUTE_KEY) === '1',
  storageDegraded: false,
  plantLoaded: false,
  /** Regulator view (GET /api/regulator/overview) and duty-check compliance (GET /api/duty-checks/summary, optional). */
  overview: null,
  duty: null,
};

// ---------------------------------------------------------------------------------------------------------------------
// small DOM helpers

const $ = (id) => document.getElementById(id);

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat())
    if (c !== undefined && c !== null && c !== false) node.append(c instanceof Node ? c : String(c));
  return node;
}

let toastTimer = null;
function toast(message, isError = false) {
  const el = $('toast');
  el.textContent = message;
  el.className = isError ? 'toast error' : 'toast';
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), isError ? 8000 : 3000);
}

const pad = (n) => String(n).padStart(2, '0');
const toMs = (v) => (typeof v === 'number' ? v : Date.parse(v));
function fmtTime(v) {
  const ms = toMs(v);
  if (!Number.isFinite(ms)) return '';
  const d = new Date(ms);
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
function fmtValue(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number')
    return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
  return String(v);
}
const named = (o) => (o ? (getLang() === 'en' && o.nameEn ? o.nameEn : (o.name ?? o.id)) : '');
const asList = (body) =>
  Array.isArray(body)
    ? body
    : Array.isArray(body?.items)
      ? body.items
      : Array.isArray(body?.data)
        ? body.data
        : [];

// ---------------------------------------------------------------------------------------------------------------------
// HTTP

class AuthLost extends Error {}

async function api(path, { method = 'GET', body } = {}) {
  const res = await fetch(path, {
    method,
    headers: {
      Authorization: `Bearer ${state.token}`,
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  if (res.status === 401) {
    authLost();
    throw new AuthLost('unauthorized');
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const msg = json?.message ?? res.statusText;
    throw new Error(`${res.status} ${Array.isArray(msg) ? msg.join('; ') : msg}`);
  }
  return json;
}

// ---------------------------------------------------------------------------------------------------------------------
// WebSocket with auth frame, backoff and `since` resume

let ws = null;
let backoffMs = 500;
let reconnectTimer = null;

function setConn(kind) {
  const el = $('conn');
  el.className = `conn conn-${kind}`;
  el.dataset.state = kind;
  const label = $('conn-label');
  label.dataset.i18n = `conn.${kind}`;
  label.textContent = t(`conn.${kind}`);
}

function connect() {
  clearTimeout(reconnectTimer);
  if (!state.token) return askToken(false);
  setConn('connecting');
  const sock = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  ws = sock;
  sock.onopen = () => sock.send(JSON.stringify({ event: 'auth', data: { token: state.token } }));
  sock.onmessage = (m) => {
    let frame;
    try {
      frame = JSON.parse(m.data);
    } catch {
      return;
    }
    onFrame(frame);
  };
  sock.onclose = (e) => {
    if (ws !== sock) return;
    ws = null;
    if (e.code === 4401) return authLost();
    setConn('closed');
    const delay = Math.min(15000, backoffMs) * (0.75 + Math.random() * 0.5);
    backoffMs = Math.min(15000, backoffMs * 2);
    reconnectTimer = setTimeout(connect, delay);
  };
}

function send(event, data) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ event, data }));
}

function onFrame({ event, data }) {
  switch (event) {
    case 'hello':
      return onHello(data);
    case 'subscribed':
      if (data.reset) {
        // The server's journal is not the one we followed: start over from its current state.
        state.alarms.clear();
        state.lastSeq = null;
        loadAlarms();
      }
      if (data.rejected?.length) console.warn('telemetry subscription entries rejected', data.rejected);
      return;
    case 'alarm':
      return applyAlarm(data);
    case 'telemetry':
      return applyTelemetry(data);
    case 'hazard':
      state.hazards.set(data.sourceId, data);
      return scheduleRender();
    case 'status':
      state.storageDegraded = Boolean(data.storageDegraded);
      $('banner-storage').hidden = !state.storageDegraded;
      // why (e.g. the database does not answer), from the server's liveness probe
      $('storage-detail').textContent = data.databaseReason ?? '';
      return;
    case 'journalled':
      // every alarm event up to data.seq is now in the journal: clear the "not yet journalled" marks
      for (const a of state.alarms.values())
        if (a.journalled === false && a.seq <= data.seq) a.journalled = true;
      return scheduleRender();
    case 'error':
      console.warn('server error frame', data);
      if (data.code === 'bad_frame') toast(`${t('action.failed')}: ${data.message}`, true);
      return;
    default:
      return;
  }
}

function onHello(data) {
  backoffMs = 500;
  setConn('open');
  state.principal = data.principal ?? null;
  renderWho();
  const first = state.lastSeq === null;
  const since = first ? data.seq : state.lastSeq;
  if (first) state.lastSeq = data.seq;
  send('subscribe', { alarms: true, since, telemetry: wantedTelemetry() });
  if (first) loadAlarms();
  if (!state.plantLoaded) loadPlant();
  if (first) loadKpis();
}

// per-site KPIs and online rate (docs/alarm-lifecycle.md): per site first, the all-sites rate labelled as an aggregate
async function loadKpis() {
  try {
    const dayStart = new Date();
    dayStart.setHours(0, 0, 0, 0);
    const [kpi, online] = await Promise.all([
      api(`/api/kpi/alarms?from=${Date.now() - 86_400_000}`),
      api(`/api/kpi/online?from=${dayStart.getTime()}`),
    ]);
    const rateBySite = new Map((kpi?.bySite ?? []).map((s) => [s.siteId, s]));
    const onlineBySite = new Map();
    for (const r of Array.isArray(online) ? online : []) onlineBySite.set(r.siteId, r);
    const sites = [...new Set([...onlineBySite.keys(), ...rateBySite.keys()])].sort();
    $('kpi-rows').replaceChildren(
      ...sites.map((siteId) => {
        const r = rateBySite.get(siteId);
        const o = onlineBySite.get(siteId);
        return h(
          'tr',
          {},
          h('td', {}, siteId),
          h(
            'td',
            { class: r && !r.averageWithinTarget ? 'over' : undefined },
            r ? String(r.averagePer10Min) : '0',
          ),
          h('td', {}, o ? `${o.onlinePercent} %` : '—'),
        );
      }),
    );
    $('kpi-aggregate').textContent = kpi?.aggregate
      ? t('kpi.aggregate').replace('{n}', String(kpi.aggregate.averagePer10Min))
      : '';
  } catch (err) {
    if (!(err instanceof AuthLost)) console.warn('KPIs unavailable', err);
  }
}

/** Safety systems of every visible source (overview status) and the selected device (detail pane). */
function wantedTelemetry() {
  const keys = new Set();
  for (const [key, d] of state.deviceByKey) if (d.kind === 'safety_system') keys.add(key);
  if (state.selected) keys.add(state.selected);
  return [...keys].slice(0, 500);
}

// ---------------------------------------------------------------------------------------------------------------------
// alarms

function alarmKind(a) {
  if (HIDDEN_STATES.has(a.state)) return 'hidden';
  if (!a.active && a.state !== 'latched') return 'normal';
  return FAULT_CONDITION.test(a.condition ?? '') ? 'fault' : 'alarm';
}

function applyAlarm(a, { fromEvent = true } = {}) {
  if (typeof a?.seq !== 'number' || !a.id) return;
  if (fromEvent && (state.lastSeq === null || a.seq > state.lastSeq)) state.lastSeq = a.seq;
  const prev = state.alarms.get(a.id);
  if (prev && prev.seq >= a.seq) return;
  if (a.state === 'normal') state.alarms.delete(a.id);
  else state.alarms.set(a.id, a);
  const raisedNow =
    a.active &&
    (!prev || !prev.active || a.event === 'raised' || a.event === 'realarm' || prev.raisedAt !== a.raisedAt);
  if (a.raisedAt) state.raises.set(`${a.id}@${a.raisedAt}`, toMs(a.raisedAt));
  if (fromEvent && raisedNow && a.priority === 'critical' && !a.acked) beep();
  scheduleRender();
}

let alarmsRetry = null;
/**
 * The current alarm list (merged with pushed events by per-alarm seq). Until it has loaded once the list may be
 * incomplete, so a failure (e.g. the server is still rebuilding alarm state) is shown and retried until it succeeds.
 */
async function loadAlarms() {
  clearTimeout(alarmsRetry);
  try {
    const list = asList(await api('/api/alarms'));
    for (const a of list) applyAlarm(a, { fromEvent: false });
  } catch (err) {
    if (err instanceof AuthLost) return;
    toast(`${t('alarms.title')}: ${err.message}`, true);
    alarmsRetry = setTimeout(loadAlarms, 3000);
  }
}

function canAct() {
  return state.principal && state.principal.role !== 'regulator';
}

async function ack(a, button) {
  button.disabled = true;
  try {
    const res = await api(`/api/alarms/${encodeURIComponent(a.id)}/ack`, { method: 'POST', body: {} });
    if (res && typeof res.seq === 'number') applyAlarm(res, { fromEvent: false });
    toast(t('action.acked'));
  } catch (err) {
    button.disabled = false;
    if (!(err instanceof AuthLost)) toast(`${t('action.failed')}: ${err.message}`, true);
  }
}

let shelving = null;
function openShelve(a) {
  shelving = a;
  $('shelve-what').textContent = `${a.message ?? a.condition} (${a.id})`;
  $('shelve-reason').value = '';
  $('shelve-dialog').showModal();
  $('shelve-reason').focus();
}

async function submitShelve() {
  const a = shelving;
  if (!a) return;
  const minutes = Number($('shelve-minutes').value);
  const reason = $('shelve-reason').value.trim();
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 720 || reason === '') return;
  $('shelve-dialog').close();
  shelving = null;
  try {
    const res = await api(`/api/alarms/${encodeURIComponent(a.id)}/shelve`, {
      method: 'POST',
      body: { minutes, reason },
    });
    if (res && typeof res.seq === 'number') applyAlarm(res, { fromEvent: false });
    toast(t('action.shelved'));
  } catch (err) {
    if (!(err instanceof AuthLost)) toast(`${t('action.failed')}: ${err.message}`, true);
  }
}

function floodCount(now = Date.now()) {
  let n = 0;
  for (const [key, at] of state.raises) {
    if (now - at > FLOOD_WINDOW_MS) state.raises.delete(key);
    else n++;
  }
  return n;
}

const byPriorityThenTime = (a, b) =>
  (PRIORITY_RANK[b.priority] ?? 0) - (PRIORITY_RANK[a.priority] ?? 0) || toMs(b.raisedAt) - toMs(a.raisedAt);

function alarmRow(a) {
  const kind = alarmKind(a);
  const source = state.sourceById.get(a.sourceId);
  const device = a.deviceId ? state.deviceByKey.get(`${a.siteId}/${a.deviceId}`) : null;
  const key = a.deviceId ? `${a.siteId}/${a.deviceId}` : null;
  const actions = h('td', { class: 'actions' });
  if (canAct() && !a.acked) {
    const b = h(
      'button',
      { type: 'button', class: 'btn btn-small btn-ack', dataset: { action: 'ack' } },
      t('ack'),
    );
    b.addEventListener('click', (e) => {
      e.stopPropagation();
      ack(a, b);
    });
    actions.append(b);
  }
  const mayShelve =
    canAct() &&
    !HIDDEN_STATES.has(a.state) &&
    !(a.priority === 'critical' && state.principal?.role === 'operator');
  if (mayShelve) {
    const b = h(
      'button',
      { type: 'button', class: 'btn btn-small', dataset: { action: 'shelve' } },
      t('shelve'),
    );
    b.addEventListener('click', (e) => {
      e.stopPropagation();
      openShelve(a);
    });
    actions.append(b);
  }
  return h(
    'tr',
    {
      class: `alarm kind-${kind}${a.acked ? '' : ' unacked'}${key && key === state.selected ? ' selected' : ''}`,
      dataset: { alarmId: a.id, state: a.state, priority: a.priority },
      onclick: () => key && selectDevice(key),
    },
    h(
      'td',
      { class: 'prio' },
      h('span', { class: `prio-badge prio-${a.priority}` }, t(`priority.${a.priority}`)),
    ),
    h('td', { class: 'time' }, fmtTime(a.raisedAt)),
    h(
      'td',
      {},
      named(source) || a.sourceId,
      device ? h('div', { class: 'detail-meta' }, named(device)) : null,
    ),
    h('td', {}, a.message ?? a.condition),
    h('td', { class: 'value' }, `${fmtValue(a.value)} / ${fmtValue(a.limit)}`),
    h(
      'td',
      { class: 'state' },
      t(`state.${a.state}`),
      a.journalled === false
        ? h(
            'span',
            { class: 'not-journalled', title: t('alarm.notJournalledHint') },
            ` ${t('alarm.notJournalled')}`,
          )
        : null,
    ),
    actions,
  );
}

function renderAlarms() {
  const all = [...state.alarms.values()];
  const shown = all.filter((a) => !HIDDEN_STATES.has(a.state)).sort(byPriorityThenTime);
  const hidden = all.filter((a) => HIDDEN_STATES.has(a.state)).sort(byPriorityThenTime);
  const flood = floodCount();
  const flooding = flood > FLOOD_LIMIT;
  $('banner-flood').hidden = !flooding;
  $('flood-detail').textContent = flooding ? t('flood.detail', { n: flood }) : '';
  const rows = [];
  if (flooding) {
    // Group by hazard source; groups ordered by their most urgent alarm. Nothing is hidden.
    const groups = new Map();
    for (const a of shown) {
      if (!groups.has(a.sourceId)) groups.set(a.sourceId, []);
      groups.get(a.sourceId).push(a);
    }
    for (const [sourceId, list] of groups) {
      rows.push(
        h(
          'tr',
          { class: 'group' },
          h(
            'td',
            { colspan: 7 },
            `${named(state.sourceById.get(sourceId)) || sourceId} · ${t('alarms.count', { n: list.length })}`,
          ),
        ),
      );
      for (const a of list) rows.push(alarmRow(a));
    }
  } else {
    for (const a of shown) rows.push(alarmRow(a));
  }
  $('alarm-rows').replaceChildren(...rows);
  $('alarm-empty').hidden = shown.length > 0;
  $('alarm-count').textContent = shown.length ? t('alarms.count', { n: shown.length }) : '';
  $('hidden-alarms').hidden = hidden.length === 0;
  $('hidden-count').textContent = t('alarms.count', { n: hidden.length });
  $('hidden-rows').replaceChildren(...hidden.map(alarmRow));
  $('seq').textContent = state.lastSeq !== null ? `${t('conn.seq')} ${state.lastSeq}` : '';
}

// ---------------------------------------------------------------------------------------------------------------------
// plant overview

async function loadPlant() {
  state.plantLoaded = true;
  try {
    // /api/sites: enterprises with hazard sources; /api/devices: device metadata, online state and last values.
    const [sites, devices] = await Promise.all([api('/api/sites'), api('/api/devices')]);
    state.sites = asList(sites);
    state.siteById = new Map(state.sites.map((s) => [s.id, s]));
    state.sourceById = new Map();
    for (const s of state.sites)
      for (const src of s.hazardSources ?? []) state.sourceById.set(src.id, { ...src, siteId: s.id });
    state.deviceByKey = new Map();
    applyDevices(asList(devices));
    send('subscribe', { telemetry: wantedTelemetry() });
  } catch (err) {
    state.plantLoaded = false;
    if (err instanceof AuthLost) return;
    toast(`${t('plant.loadFailed')}: ${err.message}`, true);
    setTimeout(() => state.token && !state.plantLoaded && loadPlant(), 5000);
    return;
  }
  await loadHazards();
  await loadOverview();
  scheduleRender();
}

const isRegulatorView = () => state.principal?.role === 'regulator';

/** Regulator view data; a server without the endpoint leaves the simple jurisdiction tree. */
async function loadOverview() {
  if (!isRegulatorView()) return;
  try {
    state.overview = await api('/api/regulator/overview');
  } catch (err) {
    if (!(err instanceof AuthLost)) console.warn('regulator overview unavailable', err);
  }
  try {
    const month = new Date().toISOString().slice(0, 7);
    state.duty = await api(`/api/duty-checks/summary?month=${month}`);
  } catch {
    state.duty = null; // the duty-check module may be absent: the slot says so
  }
}

async function loadHazards() {
  try {
    for (const hz of asList(await api('/api/hazard-sources'))) state.hazards.set(hz.sourceId ?? hz.id, hz);
  } catch (err) {
    if (!(err instanceof AuthLost)) console.warn('hazard sources unavailable', err);
  }
}

async function loadDevices() {
  try {
    applyDevices(asList(await api('/api/devices')));
  } catch (err) {
    if (!(err instanceof AuthLost)) console.warn('devices unavailable', err);
  }
}

/** Device metadata, online state and last values from GET /api/devices. */
function applyDevices(list) {
  for (const d of list) {
    const id = d.deviceId ?? d.id;
    const key = `${d.siteId}/${id}`;
    state.deviceByKey.set(key, { ...d, id, siteId: d.siteId });
    const prev = state.devices.get(key) ?? { values: {} };
    const flat = {};
    let newest = -Infinity;
    for (const [ch, v] of Object.entries(d.values ?? {})) {
      const boxed = v !== null && typeof v === 'object' && 'value' in v;
      flat[ch] = boxed ? v.value : v;
      if (boxed && v.ts) newest = Math.max(newest, toMs(v.ts));
    }
    const lastSeen = d.lastSeen ?? prev.lastSeen;
    // Whichever is newer wins: a pushed telemetry frame or this snapshot.
    const liveIsNewer = prev.ts !== undefined && prev.ts > Math.max(newest, toMs(lastSeen) || -Infinity);
    state.devices.set(key, {
      online: d.state === undefined || d.state === 'unknown' ? prev.online : d.state === 'online',
      lastSeen: liveIsNewer ? prev.lastSeen : lastSeen,
      values: liveIsNewer ? { ...flat, ...prev.values } : { ...prev.values, ...flat },
      ts: prev.ts,
    });
  }
}

function applyTelemetry(f) {
  const key = `${f.siteId}/${f.deviceId}`;
  const d = state.devices.get(key) ?? { online: true, values: {} };
  d.values = { ...d.values, ...f.values };
  d.ts = f.ts;
  d.lastSeen = f.ts;
  d.online = true;
  state.devices.set(key, d);
  for (const [ch, v] of Object.entries(f.values)) {
    if (typeof v !== 'number') continue;
    const lk = `${key}/${ch}`;
    const pts = state.live.get(lk) ?? [];
    pts.push({ t: f.ts, v });
    while (pts.length && pts[0].t < f.ts - HOUR_MS) pts.shift();
    state.live.set(lk, pts);
  }
  scheduleRender();
}

function systemStatus(src) {
  const out = [];
  for (const sys of src.requiredSystems ?? SYSTEMS) {
    let key = null;
    for (const [k, d] of state.deviceByKey)
      if (d.kind === 'safety_system' && d.sourceId === src.id && d.system === sys) key = k;
    const dev = key ? state.devices.get(key) : null;
    const status = !dev ? 'unknown' : dev.online === false ? 'offline' : (dev.values.status ?? 'unknown');
    out.push({ sys, status, key });
  }
  return out;
}

function activeAlarmDevices() {
  const keys = new Set();
  for (const a of state.alarms.values()) if (a.active && a.deviceId) keys.add(`${a.siteId}/${a.deviceId}`);
  return keys;
}

function renderPlant() {
  const root = $('plant');
  if (state.sites.length === 0) {
    root.replaceChildren(h('p', { class: 'empty' }, t('plant.noData')));
    return;
  }
  const inAlarm = activeAlarmDevices();
  root.replaceChildren(
    ...state.sites.map((s) =>
      h(
        'div',
        { class: 'site', dataset: { siteId: s.id } },
        h(
          'div',
          { class: 'site-head' },
          h('strong', {}, named(s)),
          h('div', { class: 'path' }, `${t('plant.jurisdiction')}: ${s.jurisdiction ?? ''}`),
        ),
        ...(s.hazardSources ?? []).map((src) => sourceBlock(s, src, inAlarm)),
      ),
    ),
  );
  renderJurisdiction();
}

function sourceBlock(site, src, inAlarm) {
  const hz = state.hazards.get(src.id);
  const filed = src.filedGrade ?? hz?.filedGrade;
  // The filed grade is official and sets the colour; the live R is an indicator shown beside it, never a re-grade.
  const filedLevel = GRADE_LEVEL[filed] ?? 'unknown';
  const liveLevel = hz?.level ?? GRADE_LEVEL[hz?.grade] ?? 'unknown';
  const liveDiffers = hz && filed && hz.grade !== filed;
  const grades = h(
    'div',
    { class: 'grades' },
    `${t('plant.filed')} ${t('plant.grade', { g: filed ?? '?' })} · `,
    h(
      'span',
      { class: liveDiffers ? 'live-differs' : '', dataset: { liveGrade: hz?.grade ?? '' } },
      hz ? h('span', { class: `grade grade-small grade-${liveLevel}`, title: liveLevel }) : null,
      `${t('plant.live')} ${hz && Number.isFinite(hz.R) ? hz.R.toFixed(1) : '—'}${hz?.grade ? ` (${t('plant.grade', { g: hz.grade })})` : ''}`,
      // A stale / bad tank level: R is an upper bound, not a measurement.
      hz?.uncertain
        ? h(
            'span',
            {
              class: 'r-uncertain',
              title: t('plant.uncertainTitle', { tanks: (hz.uncertainTanks ?? []).join(', ') }),
            },
            ` ${t('plant.uncertain')}`,
          )
        : null,
    ),
  );
  const systems = h(
    'div',
    { class: 'systems' },
    ...systemStatus(src).map(({ sys, status, key }) =>
      h(
        'span',
        { class: `sys sys-${status}`, title: t(`sys.${status}`), onclick: () => key && selectDevice(key) },
        `${t(`sys.${sys}`)}: ${t(`sys.${status}`)}`,
      ),
    ),
  );
  const devices = [...state.deviceByKey.entries()].filter(
    ([, d]) => d.sourceId === src.id && d.siteId === site.id && d.kind !== 'safety_system',
  );
  return h(
    'div',
    { class: 'source', dataset: { sourceId: src.id } },
    h(
      'div',
      { class: 'source-head' },
      h('span', { class: `grade grade-${filedLevel}`, title: `${t('plant.filed')}: ${filedLevel}` }),
      h('span', { class: 'source-name' }, named(src)),
      grades,
    ),
    systems,
    h(
      'div',
      { class: 'devices' },
      ...devices.map(([key, d]) => {
        const dev = state.devices.get(key);
        const cls = [
          'device',
          inAlarm.has(key) ? 'in-alarm' : '',
          dev && dev.online === false ? 'offline' : '',
          key === state.selected ? 'selected' : '',
        ].join(' ');
        return h(
          'button',
          {
            type: 'button',
            class: cls,
            title: named(d),
            onclick: () => selectDevice(key),
            dataset: { device: key },
          },
          d.id,
        );
      }),
    ),
  );
}

/** Regulator view: the jurisdiction tree above the overview, with active alarm counts per node. */
function renderJurisdiction() {
  const box = $('jurisdiction');
  if (!isRegulatorView()) {
    box.hidden = true;
    return;
  }
  if (state.overview?.enterprises) return renderRegulatorView(box, state.overview);
  const tree = new Map();
  const activeBySite = new Map();
  for (const a of state.alarms.values())
    if (a.active) activeBySite.set(a.siteId, (activeBySite.get(a.siteId) ?? 0) + 1);
  for (const s of state.sites) {
    let node = tree;
    for (const seg of (s.jurisdiction ?? '').split('/').filter(Boolean)) {
      if (!node.has(seg)) node.set(seg, new Map());
      node = node.get(seg);
    }
    node.set(`site:${s.id}`, s);
  }
  const count = (node) => {
    let n = 0;
    for (const [k, v] of node) n += k.startsWith('site:') ? (activeBySite.get(v.id) ?? 0) : count(v);
    return n;
  };
  const list = (node) =>
    h(
      'ul',
      {},
      ...[...node].map(([k, v]) =>
        k.startsWith('site:')
          ? h('li', {}, `${named(v)} (${activeBySite.get(v.id) ?? 0})`)
          : h('li', {}, `${k} (${count(v)})`, list(v)),
      ),
    );
  box.replaceChildren(h('strong', {}, t('regulator.title')), list(tree));
  box.hidden = false;
}

const LEVEL_OF = ['city', 'district', 'park'];

/** Open alarms of an enterprise, live from the alarm list (the overview's counts are only a snapshot). */
function liveAlarmCounts(siteId) {
  const n = { critical: 0, high: 0, medium: 0, low: 0 };
  for (const a of state.alarms.values())
    if (a.siteId === siteId && a.active) n[a.priority] = (n[a.priority] ?? 0) + 1;
  return n;
}

/** GET /api/duty-checks/summary → { month, sites: [{ siteId, checks, onDuty, noAnswer, wrongKey, failed, running, onDutyRate }] } */
function dutyFor(siteId) {
  return state.duty?.sites?.find((r) => r.siteId === siteId) ?? null;
}

function dutyText(x) {
  if (!x || x.checks === 0) return t('reg.dutyNone');
  const missed = x.noAnswer + x.wrongKey + x.failed;
  const pct = x.onDutyRate === null || x.onDutyRate === undefined ? '' : ` (${Math.round(x.onDutyRate)} %)`;
  return `${t('reg.duty')}: ${x.onDuty} / ${x.checks}${pct}${missed > 0 ? ` · ${t('reg.dutyMissed')} ${missed}` : ''}`;
}

function enterpriseNode(e) {
  const n = liveAlarmCounts(e.id);
  const overdue = e.disposals?.overdue ?? 0;
  const review = e.disposals?.awaitingReview ?? 0;
  const chips = ['critical', 'high', 'medium', 'low']
    .filter((p) => n[p] > 0)
    .map((p) =>
      h(
        'span',
        { class: `prio-badge prio-${p}`, title: t(`priority.${p}`) },
        `${t(`priority.${p}`)} ${n[p]}`,
      ),
    );
  return h(
    'li',
    { class: `reg-enterprise${overdue ? ' has-overdue' : ''}`, dataset: { siteId: e.id } },
    h(
      'div',
      { class: 'reg-head' },
      h('strong', {}, named(e)),
      h(
        'span',
        { class: 'reg-badges' },
        ...(chips.length
          ? chips
          : [h('span', { class: 'reg-quiet' }, `${t('reg.alarms')}: ${t('reg.none')}`)]),
        overdue
          ? h(
              'span',
              { class: 'reg-overdue', dataset: { overdue: String(overdue) } },
              `${t('reg.overdue')} ${overdue}`,
            )
          : null,
        review ? h('span', { class: 'reg-review' }, `${t('reg.review')} ${review}`) : null,
      ),
    ),
    h(
      'ul',
      { class: 'reg-sources' },
      ...(e.hazardSources ?? []).map((src) =>
        h(
          'li',
          { class: 'reg-source', dataset: { sourceId: src.id, level: src.filedLevel } },
          h('span', {
            class: `grade grade-${src.filedLevel}`,
            title: `${t('plant.filed')} ${t('plant.grade', { g: src.filedGrade })}`,
          }),
          h('span', { class: 'reg-source-name' }, named(src)),
          h(
            'span',
            { class: 'reg-live' },
            src.liveLevel ? h('span', { class: `grade grade-small grade-${src.liveLevel}` }) : null,
            `${t('plant.live')} ${src.R !== null && src.R !== undefined ? Number(src.R).toFixed(1) : '—'}`,
          ),
          h(
            'span',
            { class: 'reg-systems', title: t('reg.systems') },
            ...Object.entries(src.systems ?? {}).map(([sys, st]) =>
              h(
                'span',
                { class: `sys sys-${st}`, dataset: { system: sys } },
                `${t(`sys.${sys}`)}: ${tOr(`sys.${st}`, st)}`,
              ),
            ),
          ),
        ),
      ),
    ),
    h('div', { class: 'reg-duty', dataset: { duty: state.duty ? 'yes' : 'none' } }, dutyText(dutyFor(e.id))),
  );
}

function renderRegulatorView(box, ov) {
  const tree = new Map();
  for (const e of ov.enterprises) {
    let node = tree;
    const segs = (e.jurisdiction ?? '').split('/').filter(Boolean);
    segs.forEach((seg, i) => {
      if (!node.has(seg))
        node.set(seg, { level: LEVEL_OF[i] ?? 'area', children: new Map(), enterprises: [] });
      const next = node.get(seg);
      if (i === segs.length - 1) next.enterprises.push(e);
      node = next.children;
    });
  }
  const totals = (entry) => {
    let alarms = 0;
    let overdue = 0;
    for (const e of entry.enterprises) {
      const n = liveAlarmCounts(e.id);
      alarms += n.critical + n.high + n.medium + n.low;
      overdue += e.disposals?.overdue ?? 0;
    }
    for (const c of entry.children.values()) {
      const x = totals(c);
      alarms += x.alarms;
      overdue += x.overdue;
    }
    return { alarms, overdue };
  };
  const list = (node, path) =>
    h(
      'ul',
      { class: 'reg-tree' },
      ...[...node].map(([seg, entry]) => {
        const p = path ? `${path}/${seg}` : seg;
        const x = totals(entry);
        return h(
          'li',
          { class: `reg-node reg-${entry.level}`, dataset: { path: p } },
          h(
            'div',
            { class: 'reg-node-head' },
            h('span', { class: 'reg-level' }, tOr(`reg.${entry.level}`, entry.level)),
            h('strong', {}, seg),
            h('span', { class: 'reg-count' }, `${t('reg.alarms')} ${x.alarms}`),
            x.overdue ? h('span', { class: 'reg-overdue' }, `${t('reg.overdue')} ${x.overdue}`) : null,
          ),
          entry.children.size ? list(entry.children, p) : null,
          entry.enterprises.length
            ? h('ul', { class: 'reg-enterprises' }, ...entry.enterprises.map(enterpriseNode))
            : null,
        );
      }),
    );
  box.replaceChildren(h('strong', {}, t('regulator.title')), list(tree, ''));
  box.dataset.view = 'regulator';
  box.hidden = false;
}

// ---------------------------------------------------------------------------------------------------------------------
// detail pane and trend

function selectDevice(key) {
  if (state.selected === key) return;
  state.selected = key;
  const d = state.deviceByKey.get(key);
  state.channel = (NUMERIC_CHANNELS[d?.kind] ?? [])[0] ?? null;
  send('subscribe', { telemetry: wantedTelemetry() });
  loadHistory();
  scheduleRender();
}

async function loadHistory() {
  const key = state.selected;
  const channel = state.channel;
  state.history = null;
  if (!key || !channel) return;
  const to = Date.now();
  const from = to - HOUR_MS;
  const q = new URLSearchParams({
    device: key,
    channel,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    bucket: '60',
  });
  try {
    const body = await api(`/api/telemetry?${q}`);
    if (state.selected !== key || state.channel !== channel) return;
    const points = asList(body?.points ?? body)
      .map((p) => ({
        t: toMs(p.time ?? p.bucket ?? p.ts ?? p.t),
        v: Number(p.last ?? p.avg ?? p.value ?? p.v),
        min: p.min !== undefined ? Number(p.min) : undefined,
        max: p.max !== undefined ? Number(p.max) : undefined,
      }))
      .filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v));
    state.history = { key, channel, points, error: null };
  } catch (err) {
    if (err instanceof AuthLost) return;
    state.history = { key, channel, points: [], error: err.message };
  }
  scheduleRender();
}

function renderDetail() {
  const root = $('detail');
  const key = state.selected;
  const d = key ? state.deviceByKey.get(key) : null;
  if (!key || !d) {
    root.replaceChildren(h('p', { class: 'hint' }, t('detail.hint')));
    return;
  }
  const dev = state.devices.get(key) ?? { values: {} };
  const site = state.siteById.get(d.siteId);
  const src = state.sourceById.get(d.sourceId);
  const values = h('dl', { class: 'values' });
  for (const [ch, v] of Object.entries(dev.values ?? {})) {
    const unit = ch === 'conc' ? (d.unit ?? '') : (CHANNEL_UNITS[ch] ?? '');
    const shown =
      typeof v === 'number' ? `${fmtValue(v)} ${unit}`.trim() : tOr(`val.${String(v)}`, String(v));
    values.append(h('dt', {}, tOr(`ch.${ch}`, ch)), h('dd', { dataset: { channel: ch } }, shown));
  }
  const channels = NUMERIC_CHANNELS[d.kind] ?? [];
  const picker = channels.length
    ? h(
        'div',
        { class: 'channel-pick' },
        h('label', {}, `${t('detail.channel')} `),
        (() => {
          const sel = h(
            'select',
            {},
            ...channels.map((c) => h('option', { value: c, selected: c === state.channel }, t(`ch.${c}`))),
          );
          sel.addEventListener('change', () => {
            state.channel = sel.value;
            loadHistory();
            scheduleRender();
          });
          return sel;
        })(),
      )
    : null;
  const chart = h('div', { class: 'chart' });
  root.replaceChildren(
    h(
      'div',
      { class: 'detail-head' },
      h('strong', {}, named(d)),
      h('span', { class: 'detail-meta' }, t(`kind.${d.kind}`)),
    ),
    h(
      'div',
      { class: 'detail-meta' },
      `${named(site)} · ${named(src)} · ${dev.online === false ? t('detail.offline') : t('detail.online')}`,
      dev.lastSeen ? ` · ${t('detail.lastSeen')} ${fmtTime(dev.lastSeen)}` : '',
    ),
    h('h2', {}, t('detail.values')),
    values,
    channels.length ? h('h2', {}, t('detail.trend')) : null,
    picker,
    channels.length ? chart : null,
  );
  if (!channels.length || !state.channel) return;
  const to = Date.now();
  const from = to - HOUR_MS;
  const hist =
    state.history && state.history.key === key && state.history.channel === state.channel
      ? state.history
      : null;
  const live = (state.live.get(`${key}/${state.channel}`) ?? []).filter((p) => p.t >= from);
  const lastHist = hist?.points.length ? hist.points[hist.points.length - 1].t : -Infinity;
  const points = [...(hist?.points ?? []), ...live.filter((p) => p.t > lastHist)].filter((p) => p.t >= from);
  const limits =
    d.kind === 'gas_detector' && state.channel === 'conc'
      ? [
          { value: d.level1, label: t('detail.level1'), cls: 'l1' },
          { value: d.level2, label: t('detail.level2'), cls: 'l2' },
        ]
      : [];
  renderTrend(chart, {
    points,
    from,
    to,
    unit: state.channel === 'conc' ? d.unit : CHANNEL_UNITS[state.channel],
    limits,
    emptyText: hist?.error ? `${t('detail.historyFailed')}: ${hist.error}` : t('detail.noHistory'),
  });
}

// ---------------------------------------------------------------------------------------------------------------------
// audible alert (WebAudio) and mute

let audio = null;
function unlockAudio() {
  if (!audio && window.AudioContext) audio = new AudioContext();
  if (audio?.state === 'suspended') audio.resume();
}

let alerts = 0;
function beep() {
  if (state.muted) return;
  // Count of audible alerts sounded (visible to tests and to anyone inspecting the page).
  document.documentElement.dataset.alerts = String(++alerts);
  if (!audio) return;
  const start = audio.currentTime + 0.02;
  for (let i = 0; i < 3; i++) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'square';
    osc.frequency.value = i % 2 ? 660 : 880;
    gain.gain.setValueAtTime(0.0001, start + i * 0.35);
    gain.gain.exponentialRampToValueAtTime(0.2, start + i * 0.35 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + i * 0.35 + 0.28);
    osc.connect(gain).connect(audio.destination);
    osc.start(start + i * 0.35);
    osc.stop(start + i * 0.35 + 0.3);
  }
}

function renderMute() {
  const b = $('mute');
  b.setAttribute('aria-pressed', String(state.muted));
  b.dataset.i18n = state.muted ? 'unmute' : 'mute';
  b.textContent = t(b.dataset.i18n);
}

// ---------------------------------------------------------------------------------------------------------------------
// token prompt and session

function askToken(invalid) {
  $('token-error').hidden = !invalid;
  setConn('auth');
  const dlg = $('token-dialog');
  if (!dlg.open) dlg.showModal();
  $('token-input').focus();
}

function authLost() {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  clearTimeout(alarmsRetry);
  if (ws) {
    const s = ws;
    ws = null;
    s.close();
  }
  askToken(true);
}

function renderWho() {
  const p = state.principal;
  $('who').textContent = p ? `${p.name} · ${t(`role.${p.role}`)}${p.scope ? ` · ${p.scope}` : ''}` : '';
}

// ---------------------------------------------------------------------------------------------------------------------
// rendering

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderAlarms();
    renderPlant();
    renderDetail();
  });
}

function init() {
  setLang(getLang());
  renderMute();
  $('token-form').addEventListener('submit', (e) => {
    const token = $('token-input').value.trim();
    if (!token) {
      e.preventDefault();
      return;
    }
    unlockAudio();
    state.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('token-input').value = '';
    // A new token may be another principal with another jurisdiction: start from nothing.
    state.lastSeq = null;
    state.alarms.clear();
    state.raises.clear();
    state.plantLoaded = false;
    state.sites = [];
    state.deviceByKey = new Map();
    state.devices = new Map();
    state.hazards = new Map();
    state.overview = null;
    state.duty = null;
    state.selected = null;
    scheduleRender();
    connect();
  });
  $('token-dialog').addEventListener('cancel', (e) => e.preventDefault());
  $('shelve-form').addEventListener('submit', (e) => {
    e.preventDefault();
    submitShelve();
  });
  $('shelve-cancel').addEventListener('click', () => {
    shelving = null;
    $('shelve-dialog').close();
  });
  $('mute').addEventListener('click', () => {
    state.muted = !state.muted;
    localStorage.setItem(MUTE_KEY, state.muted ? '1' : '0');
    renderMute();
  });
  $('lang').addEventListener('click', () => {
    setLang(getLang() === 'zh' ? 'en' : 'zh');
    renderMute();
    renderWho();
    setConn($('conn').dataset.state);
    scheduleRender();
  });
  $('logout').addEventListener('click', () => {
    state.principal = null;
    state.lastSeq = null;
    state.alarms.clear();
    renderWho();
    authLost();
    $('token-error').hidden = true;
  });
  document.addEventListener('pointerdown', unlockAudio, { once: false, passive: true });
  // Online state, live R and last-seen are refreshed periodically; alarms and telemetry arrive by push.
  setInterval(() => {
    if (!state.token || !state.plantLoaded) return;
    Promise.all([loadDevices(), loadHazards(), loadOverview()]).then(scheduleRender);
  }, 30_000);
  // Flood window and "time since" age even without events.
  setInterval(scheduleRender, 15_000);
  // Ingest lag / broker connection from the public readiness body (docs/adr/0008-ack-after-commit.md).
  setInterval(() => void pollIngest(), 5_000);
  applyLabels(document);
  if (state.token) connect();
  else askToken(false);
}

/** Shows a banner while readings wait more than 5 s to be stored, or while the server is off its MQTT broker. */
async function pollIngest() {
  let text = '';
  try {
    const body = await (await fetch('/health/ready')).json();
    const lag = /lag (\d+) ms/.exec(body?.checks?.writer?.detail ?? '');
    const lagMs = lag ? Number(lag[1]) : 0;
    if (body?.checks?.mqtt && !body.checks.mqtt.ok) text = t('ingest.offline');
    else if (lagMs > 5000) text = t('ingest.lag', { s: Math.round(lagMs / 1000) });
  } catch {
    text = '';
  }
  const b = $('banner-ingest');
  b.textContent = text;
  b.hidden = text === '';
}

init();
