/** The console's singletons: store, connection, annunciator and UI state, plus the hooks views use to follow them. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { Annunciator } from './annunciator';
import { AuthLost, Connection, asList, type ConnState } from './connection';
import { declared, type DeclaredDrill } from './drill';
import { getLang, named, setLang, t, type Lang } from './i18n';
import {
  type Alarm,
  type AlarmFilter,
  type DeviceInfo,
  type Hazard,
  type SiteInfo,
  Store,
  type Topic,
} from './model';

export type ViewName = 'alarms' | 'map' | 'mimic' | 'trends' | 'kpi' | 'regulator';
export const VIEWS: readonly ViewName[] = ['alarms', 'map', 'mimic', 'trends', 'kpi', 'regulator'];

export type Pen = { readonly key: string; readonly channel: string };

export type Ui = {
  view: ViewName;
  lang: Lang;
  conn: ConnState;
  tokenError: boolean;
  filter: AlarmFilter;
  /** Enterprise the mimic shows. */
  siteId: string | null;
  /** Enterprise the map is zoomed into (null: the whole jurisdiction). */
  mapSiteId: string | null;
  sourceId: string | null;
  pens: Pen[];
  range: '1h' | '8h' | '24h' | '7d';
  toast: { text: string; error: boolean } | null;
  shelving: Alarm | null;
  /** Drill announced by the server (alarms whose rule or message carries the drill mark). */
  regulatorOverview: RegulatorOverview | null;
  duty: DutySummary | null;
};

export type RegulatorSource = {
  id: string;
  name: string;
  nameEn?: string | null;
  filedGrade: number;
  filedLevel: string;
  liveLevel?: string | null;
  R?: number | null;
  systems?: Record<string, string>;
};
export type RegulatorEnterprise = {
  id: string;
  name: string;
  nameEn?: string | null;
  jurisdiction: string;
  location?: { lat: number; lon: number };
  openAlarms?: Record<string, number>;
  disposals?: { overdue: number; awaiting: number; awaitingReview: number };
  hazardSources: RegulatorSource[];
};
export type RegulatorOverview = { enterprises: RegulatorEnterprise[] };
export type DutySummary = {
  month: string;
  sites: Array<{
    siteId: string;
    checks: number;
    onDuty: number;
    noAnswer: number;
    wrongKey: number;
    failed: number;
    onDutyRate: number | null;
  }>;
};

export const store = new Store();
export const annunciator = new Annunciator();

const uiListeners = new Set<() => void>();
export const ui: Ui = {
  view: 'alarms',
  lang: getLang(),
  conn: 'connecting',
  tokenError: false,
  filter: { view: 'active', priorities: new Set(), text: '', sort: 'priority' },
  siteId: null,
  mapSiteId: null,
  sourceId: null,
  pens: [],
  range: '1h',
  toast: null,
  shelving: null,
  regulatorOverview: null,
  duty: null,
};
let toastTimer: ReturnType<typeof setTimeout> | undefined;

export function setUi(patch: Partial<Ui>): void {
  Object.assign(ui, patch);
  if (patch.lang) setLang(patch.lang);
  for (const fn of uiListeners) fn();
}

export function toast(text: string, error = false): void {
  clearTimeout(toastTimer);
  setUi({ toast: { text, error } });
  toastTimer = setTimeout(() => setUi({ toast: null }), error ? 8000 : 3000);
}

export const conn = new Connection(store, {
  onState: (s) => setUi({ conn: s }),
  onAuthLost: () => setUi({ tokenError: true }),
  onRaised: (a) => {
    if (annunciator.sound(a.priority)) store.changed();
  },
  onHello: (first) => {
    if (first) void loadPlant();
  },
  onError: (m) => toast(`${t('action.failed')}: ${m}`, true),
});

/**
 * Re-renders the calling component when the UI state or one of `topics` of the store changes: at most once per
 * animation frame, or once per `minMs` (trends redraw at 1 Hz like an HMI trend, not at the telemetry rate).
 */
export function useLive(
  topics: readonly Topic[] = ['alarms', 'telemetry', 'plant', 'status'],
  minMs = 0,
): number {
  const [n, setN] = useState(0);
  const queued = useRef(false);
  const last = useRef(0);
  useEffect(() => {
    const bump = (): void => {
      if (queued.current) return;
      queued.current = true;
      const wait = Math.max(0, last.current + minMs - performance.now());
      const run = (): void => {
        requestAnimationFrame(() => {
          queued.current = false;
          last.current = performance.now();
          setN((x) => x + 1);
        });
      };
      if (wait > 0) setTimeout(run, wait);
      else run();
    };
    const off = store.subscribe(bump, topics);
    uiListeners.add(bump);
    return () => {
      off();
      uiListeners.delete(bump);
    };
  }, []);
  return n;
}

export const isRegulator = (): boolean => conn.principal?.role === 'regulator';
export const canAct = (): boolean => conn.principal !== null && conn.principal.role !== 'regulator';

/** Name of a site / source / device for display (names, never ids, unless the name is unknown). */
export const siteName = (id: string): string => named(store.siteById.get(id)) || id;
export const sourceName = (id: string): string => named(store.sourceById.get(id)) || id;
export const deviceName = (siteId: string, deviceId: string | undefined): string =>
  deviceId ? named(store.deviceByKey.get(`${siteId}/${deviceId}`)) || deviceId : '';

export async function loadPlant(): Promise<void> {
  try {
    const [sites, devices] = await Promise.all([
      conn.api<unknown>('/api/sites'),
      conn.api<unknown>('/api/devices'),
    ]);
    store.setPlant(asList<SiteInfo>(sites), asList<DeviceInfo>(devices));
    await Promise.all([loadHazards(), loadRegulator(), loadFloods(), loadDrills()]);
    subscribeWanted();
  } catch (err) {
    if (err instanceof AuthLost) return;
    toast(`${t('plant.loadFailed')}: ${(err as Error).message}`, true);
    setTimeout(() => conn.token && void loadPlant(), 5000);
  }
}

/** Online state and last-seen of every device (the server decides offline: last will, staleness). */
export async function loadDevices(): Promise<void> {
  try {
    store.applyDevices(asList<DeviceInfo>(await conn.api<unknown>('/api/devices')));
  } catch (err) {
    if (!(err instanceof AuthLost)) console.warn('device states unavailable', err);
  }
}

export async function loadHazards(): Promise<void> {
  try {
    for (const hz of asList<Hazard & { id?: string }>(await conn.api('/api/hazard-sources')))
      store.hazards.set(hz.sourceId ?? hz.id ?? '', hz);
    store.changed('plant');
  } catch (err) {
    if (!(err instanceof AuthLost)) console.warn('hazard sources unavailable', err);
  }
}

/** Flood state comes from the server (GET /api/alarms/status → floods), never computed here. */
export async function loadFloods(): Promise<void> {
  try {
    const s = await conn.api<{ floods?: Array<{ siteId: string; alarmsIn10Min: number; flood: boolean }> }>(
      '/api/alarms/status',
    );
    const next = new Map<string, number>();
    for (const f of s?.floods ?? []) if (f.flood) next.set(f.siteId, f.alarmsIn10Min);
    if ([...next].join() !== [...store.floods].join()) {
      store.floods = next;
      store.changed('status');
    }
  } catch (err) {
    if (!(err instanceof AuthLost)) console.warn('alarm status unavailable', err);
  }
}

/** Declared drills of the sites in scope (running ones and the last week's): alarms in their windows are drills. */
export async function loadDrills(): Promise<void> {
  try {
    const list = asList<DeclaredDrill>(await conn.api<unknown>('/api/drills'));
    const sig = (l: readonly DeclaredDrill[]): string => l.map((d) => `${d.id}:${d.endedAt ?? ''}`).join();
    if (sig(list) !== sig(declared.list)) {
      declared.list = list;
      // the tag and the banner follow the windows: alarm rows re-render
      store.plantRev++;
      store.changed('alarms');
    }
  } catch (err) {
    if (!(err instanceof AuthLost)) console.warn('drills unavailable', err);
  }
}

/** Supervisor / admin: start or end a drill of a site (the server records who and when). */
export async function startDrill(siteId: string, scenario: string): Promise<void> {
  try {
    await conn.api(`/api/sites/${encodeURIComponent(siteId)}/drills`, { method: 'POST', body: { scenario } });
    toast(t('drill.started'));
  } catch (err) {
    if (!(err instanceof AuthLost)) toast(`${t('action.failed')}: ${(err as Error).message}`, true);
  }
  await loadDrills();
}

export async function endDrill(siteId: string): Promise<void> {
  try {
    await conn.api(`/api/sites/${encodeURIComponent(siteId)}/drills/end`, { method: 'POST', body: {} });
    toast(t('drill.ended'));
  } catch (err) {
    if (!(err instanceof AuthLost)) toast(`${t('action.failed')}: ${(err as Error).message}`, true);
  }
  await loadDrills();
}

export const canDeclareDrill = (): boolean =>
  conn.principal?.role === 'supervisor' || conn.principal?.role === 'admin';

/** Regulator overview and duty checks: the regulator view is open to every role, scoped by the server. */
export async function loadRegulator(): Promise<void> {
  try {
    setUi({ regulatorOverview: await conn.api<RegulatorOverview>('/api/regulator/overview') });
  } catch (err) {
    if (!(err instanceof AuthLost)) console.warn('regulator overview unavailable', err);
  }
  try {
    const month = new Date().toISOString().slice(0, 7);
    setUi({ duty: await conn.api<DutySummary>(`/api/duty-checks/summary?month=${month}`) });
  } catch {
    setUi({ duty: null });
  }
}

/**
 * Telemetry the console needs: the four systems of every source and, for the mimic and trends, the devices on screen.
 */
export function subscribeWanted(): void {
  const keys: string[] = [];
  for (const [key, d] of store.deviceByKey) if (d.kind === 'safety_system') keys.push(key);
  if (ui.sourceId)
    for (const [key, d] of store.deviceByKey)
      if (d.sourceId === ui.sourceId && d.kind !== 'safety_system') keys.push(key);
  for (const p of ui.pens) keys.push(p.key);
  // live points are kept for the pens only: memory stays flat however many devices stream
  store.trendKeys = new Set(ui.pens.map((p) => `${p.key}/${p.channel}`));
  for (const k of store.live.keys()) if (!store.trendKeys.has(k)) store.live.delete(k);
  conn.subscribeTelemetry(keys);
}

export async function ack(a: Alarm): Promise<void> {
  try {
    const res = await conn.api<Alarm>(`/api/alarms/${encodeURIComponent(a.id)}/ack`, {
      method: 'POST',
      body: {},
    });
    if (res && typeof res.seq === 'number') store.applyAlarm(res, false);
    toast(t('action.acked'));
  } catch (err) {
    if (!(err instanceof AuthLost)) toast(`${t('action.failed')}: ${(err as Error).message}`, true);
  }
}

export async function shelve(a: Alarm, minutes: number, reason: string): Promise<void> {
  try {
    const res = await conn.api<Alarm>(`/api/alarms/${encodeURIComponent(a.id)}/shelve`, {
      method: 'POST',
      body: { minutes, reason },
    });
    if (res && typeof res.seq === 'number') store.applyAlarm(res, false);
    toast(t('action.shelved'));
  } catch (err) {
    if (!(err instanceof AuthLost)) toast(`${t('action.failed')}: ${(err as Error).message}`, true);
  }
}

export function openSite(siteId: string, view: ViewName = 'mimic'): void {
  const site = store.siteById.get(siteId);
  setUi({ siteId, sourceId: site?.hazardSources[0]?.id ?? null, view });
  subscribeWanted();
}

export function addPen(key: string, channel: string): void {
  if (ui.pens.some((p) => p.key === key && p.channel === channel)) return setUi({ view: 'trends' });
  setUi({ pens: [...ui.pens, { key, channel }].slice(-6), view: 'trends' });
  subscribeWanted();
}
