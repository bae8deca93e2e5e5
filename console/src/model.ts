/**
 * The console's state and the pure rules it shows (no DOM): the alarm list merged from REST and /ws by per-alarm seq,
 * counts for the banner, sorting and filtering, first-out marking, and the four-colour risk of each enterprise.
 * Wire types come from the server's own definitions (type-only imports; docs/adr/0018-console-stack.md).
 */
import type { AlarmState } from '../../src/alarms/domain/alarm.types';
import type { AlarmEventDto, HazardDto, TelemetryDto } from '../../src/realtime/domain/client-events';

export type { AlarmEventDto, AlarmState, HazardDto, TelemetryDto };
export type Priority = AlarmEventDto['priority'];
export type Level = AlarmEventDto['level'];

export const PRIORITIES: readonly Priority[] = ['critical', 'high', 'medium', 'low'];
export const LEVELS: readonly Level[] = ['red', 'orange', 'yellow', 'blue'];
const PRIORITY_RANK: Record<Priority, number> = { critical: 4, high: 3, medium: 2, low: 1 };
export const HIDDEN_STATES: ReadonlySet<AlarmState> = new Set<AlarmState>([
  'shelved',
  'suppressed',
  'out_of_service',
]);
export const GRADE_LEVEL: Readonly<Record<number, Level>> = { 1: 'red', 2: 'orange', 3: 'yellow', 4: 'blue' };
const FAULT_CONDITION = /fault|stale|offline|quality|comm|calib|drift|frozen|range|negative|sensor|clock/i;

/** An alarm as the console holds it: the wire snapshot plus the optional extras the alarm module sends. */
export type Alarm = Omit<AlarmEventDto, 'event' | 'at'> & {
  /** Absent on REST snapshots (GET /api/alarms); present on /ws events. */
  readonly event?: AlarmEventDto['event'];
  readonly at?: string;
  readonly shelvedUntil?: string;
  readonly drill?: boolean;
};

export type HazardSourceInfo = {
  readonly id: string;
  readonly name: string;
  readonly nameEn?: string | null;
  readonly filedGrade?: number;
  readonly requiredSystems?: readonly string[];
  readonly siteId: string;
};
export type SiteInfo = {
  readonly id: string;
  readonly name: string;
  readonly nameEn?: string | null;
  readonly jurisdiction: string;
  /** Official name of the jurisdiction (e.g. 天津市滨海新区临港经济区), when plant.yaml declares jurisdictions. */
  readonly jurisdictionName?: string;
  /** The declared levels of the jurisdiction path, top down, with their GB/T 2260 code where they have one. */
  readonly jurisdictionChain?: readonly {
    readonly path: string;
    readonly name: string;
    readonly code?: string;
  }[];
  readonly location?: { readonly lat: number; readonly lon: number };
  readonly hazardSources: readonly HazardSourceInfo[];
};
export type DeviceInfo = {
  readonly siteId: string;
  readonly id: string;
  readonly name: string;
  readonly nameEn?: string | null;
  readonly kind: string;
  readonly sourceId?: string;
  readonly unit?: string;
  readonly level1?: number;
  readonly level2?: number;
  readonly system?: string;
  readonly maxFillPct?: number;
  readonly levelHPct?: number;
  readonly levelHHPct?: number;
};
export type DeviceLive = {
  online: boolean;
  lastSeen?: number;
  ts?: number;
  values: Record<string, unknown>;
};
export type Hazard = HazardDto & {
  readonly R?: number;
  readonly filedGrade?: number;
  readonly uncertain?: boolean;
};

export type AlarmView = 'active' | 'shelved' | 'suppressed' | 'out_of_service';
export type SortKey = 'priority' | 'time' | 'source';
export type AlarmFilter = {
  readonly view: AlarmView;
  readonly priorities: ReadonlySet<Priority>;
  readonly text: string;
  readonly siteId?: string;
  readonly sort: SortKey;
};

export const toMs = (v: string | number | undefined): number =>
  v === undefined ? NaN : typeof v === 'number' ? v : Date.parse(v);

/** fault (yellow), alarm (red), returned to normal (green), hidden (grey): the row colour class. */
export function alarmKind(a: Alarm): 'hidden' | 'normal' | 'fault' | 'alarm' {
  if (HIDDEN_STATES.has(a.state)) return 'hidden';
  if (!a.active && a.state !== 'latched') return 'normal';
  return FAULT_CONDITION.test(a.condition ?? '') ? 'fault' : 'alarm';
}

/** Blinks: an alarm nobody has acknowledged yet. Acknowledged (or hidden) alarms are steady everywhere. */
export const blinks = (a: Alarm): boolean => !a.acked && !HIDDEN_STATES.has(a.state) && a.state !== 'normal';

export function compareAlarms(sort: SortKey, name: (a: Alarm) => string = (a) => a.sourceId) {
  // newest raise first; alarms raised in the same millisecond: the later event first
  const byTime = (a: Alarm, b: Alarm): number => toMs(b.raisedAt) - toMs(a.raisedAt) || b.seq - a.seq;
  const byPrio = (a: Alarm, b: Alarm): number => PRIORITY_RANK[b.priority] - PRIORITY_RANK[a.priority];
  switch (sort) {
    case 'priority':
      return (a: Alarm, b: Alarm): number => byPrio(a, b) || byTime(a, b) || a.id.localeCompare(b.id);
    case 'time':
      return (a: Alarm, b: Alarm): number => byTime(a, b) || byPrio(a, b) || a.id.localeCompare(b.id);
    case 'source':
      return (a: Alarm, b: Alarm): number =>
        name(a).localeCompare(name(b)) || byPrio(a, b) || byTime(a, b) || a.id.localeCompare(b.id);
  }
}

export type Counts = {
  readonly byPriority: Readonly<Record<Priority, number>>;
  readonly unacked: number;
  readonly active: number;
  readonly shelved: number;
  readonly suppressed: number;
  readonly outOfService: number;
};

export function countAlarms(alarms: Iterable<Alarm>): Counts {
  const byPriority: Record<Priority, number> = { critical: 0, high: 0, medium: 0, low: 0 };
  let unacked = 0;
  let active = 0;
  let shelved = 0;
  let suppressed = 0;
  let outOfService = 0;
  for (const a of alarms) {
    if (a.state === 'shelved') shelved++;
    else if (a.state === 'suppressed') suppressed++;
    else if (a.state === 'out_of_service') outOfService++;
    else if (a.state !== 'normal') {
      byPriority[a.priority]++;
      active++;
      if (!a.acked) unacked++;
    }
  }
  return { byPriority, unacked, active, shelved, suppressed, outOfService };
}

export function filterAlarms(alarms: Iterable<Alarm>, f: AlarmFilter, label: (a: Alarm) => string): Alarm[] {
  const text = f.text.trim().toLowerCase();
  const out: Alarm[] = [];
  for (const a of alarms) {
    if (a.state === 'normal') continue;
    const inView = f.view === 'active' ? !HIDDEN_STATES.has(a.state) : a.state === f.view;
    if (!inView) continue;
    if (f.priorities.size > 0 && !f.priorities.has(a.priority)) continue;
    if (f.siteId !== undefined && a.siteId !== f.siteId) continue;
    if (text && !label(a).toLowerCase().includes(text)) continue;
    out.push(a);
  }
  return out.sort(compareAlarms(f.sort, label));
}

/**
 * First-out: per hazard source, the alarm raised first among those raised within `windowMs` of each other that are
 * still shown (the initiating event of a cascade, ISA-18.2 first-out annunciation). Only groups of two or more count.
 */
export function firstOut(alarms: Iterable<Alarm>, windowMs = 60_000): Set<string> {
  const bySource = new Map<string, Alarm[]>();
  for (const a of alarms) {
    if (!a.active || HIDDEN_STATES.has(a.state)) continue;
    const list = bySource.get(a.sourceId) ?? [];
    list.push(a);
    bySource.set(a.sourceId, list);
  }
  const out = new Set<string>();
  for (const list of bySource.values()) {
    if (list.length < 2) continue;
    list.sort((a, b) => toMs(a.raisedAt) - toMs(b.raisedAt) || a.seq - b.seq);
    const first = list[0] as Alarm;
    const second = list[1] as Alarm;
    if (toMs(second.raisedAt) - toMs(first.raisedAt) <= windowMs) out.add(first.id);
  }
  return out;
}

/** The worst four-colour level among a site's hazard sources (live level when known, else the filed grade). */
export function siteLevel(site: SiteInfo, hazards: ReadonlyMap<string, Hazard>): Level {
  let best = 5;
  for (const src of site.hazardSources) {
    const hz = hazards.get(src.id);
    const grade = hz?.grade ?? src.filedGrade ?? 4;
    best = Math.min(best, grade);
  }
  return GRADE_LEVEL[best] ?? 'blue';
}

/** What changed: views subscribe to the topics they draw (a telemetry burst never re-renders the alarm list). */
export type Topic = 'alarms' | 'telemetry' | 'plant' | 'status';

/** Tiny observable store: views subscribe by topic and re-render at most once per animation frame. */
export class Store {
  readonly alarms = new Map<string, Alarm>();
  /** Newest alarm-event seq applied: the `since` of the next (re)subscribe. null until the first hello. */
  lastSeq: number | null = null;
  sites: SiteInfo[] = [];
  readonly siteById = new Map<string, SiteInfo>();
  readonly sourceById = new Map<string, HazardSourceInfo>();
  readonly deviceByKey = new Map<string, DeviceInfo>();
  readonly devices = new Map<string, DeviceLive>();
  readonly hazards = new Map<string, Hazard>();
  /** `site/device/channel` → live points of the last hour, kept only for the channels on a trend (`trendKeys`). */
  readonly live = new Map<string, Array<{ t: number; v: number }>>();
  /** `site/device/channel` of the trend pens; null keeps every channel (unit tests, small plants). */
  trendKeys: ReadonlySet<string> | null = null;
  /** Sites the server reports in alarm flood (GET /api/alarms/status). */
  floods = new Map<string, number>();
  storageDegraded = false;
  databaseReason = '';
  private readonly listeners = new Map<(topic: Topic) => void, ReadonlySet<Topic> | null>();
  private version = 0;
  /** Bumped when names or the principal's plant change (rows showing names re-render then). */
  plantRev = 0;

  /** `topics` absent: every change. */
  subscribe(fn: (topic: Topic) => void, topics?: readonly Topic[]): () => void {
    this.listeners.set(fn, topics ? new Set(topics) : null);
    return () => this.listeners.delete(fn);
  }
  changed(topic: Topic = 'alarms'): void {
    this.version++;
    for (const [fn, topics] of this.listeners) if (!topics || topics.has(topic)) fn(topic);
  }
  get rev(): number {
    return this.version;
  }

  /** Applies one alarm snapshot; older seqs for the same alarm are ignored. Returns true when it was newly raised. */
  applyAlarm(a: Alarm, fromEvent = true): boolean {
    if (typeof a?.seq !== 'number' || !a.id) return false;
    if (fromEvent && (this.lastSeq === null || a.seq > this.lastSeq)) this.lastSeq = a.seq;
    const prev = this.alarms.get(a.id);
    if (prev && prev.seq >= a.seq) return false;
    if (a.state === 'normal') this.alarms.delete(a.id);
    else this.alarms.set(a.id, a);
    this.changed();
    return (
      fromEvent &&
      a.active &&
      !a.acked &&
      (!prev || !prev.active || a.event === 'raised' || a.event === 'realarm' || prev.raisedAt !== a.raisedAt)
    );
  }

  /** `journalled {seq}`: every alarm event up to seq is in the journal table. */
  journalled(seq: number): void {
    for (const [id, a] of this.alarms)
      if (a.journalled === false && a.seq <= seq) this.alarms.set(id, { ...a, journalled: true });
    this.changed();
  }

  setPlant(
    sites: readonly SiteInfo[],
    devices: readonly (DeviceInfo & {
      deviceId?: string;
      state?: string;
      lastSeen?: string;
      values?: Record<string, unknown>;
    })[],
  ): void {
    this.sites = [...sites];
    this.siteById.clear();
    this.sourceById.clear();
    for (const s of sites) {
      this.siteById.set(s.id, s);
      for (const src of s.hazardSources ?? []) this.sourceById.set(src.id, { ...src, siteId: s.id });
    }
    this.plantRev++;
    this.applyDevices(devices);
  }

  applyDevices(
    list: readonly (DeviceInfo & {
      deviceId?: string;
      state?: string;
      lastSeen?: string;
      values?: Record<string, unknown>;
    })[],
  ): void {
    for (const d of list) {
      const id = d.deviceId ?? d.id;
      const key = `${d.siteId}/${id}`;
      this.deviceByKey.set(key, { ...d, id });
      const prev = this.devices.get(key) ?? { online: true, values: {} };
      const flat: Record<string, unknown> = {};
      for (const [ch, v] of Object.entries(d.values ?? {})) {
        const boxed = v !== null && typeof v === 'object' && 'value' in v;
        flat[ch] = boxed ? v.value : v;
      }
      const liveNewer = prev.ts !== undefined && prev.ts > (toMs(d.lastSeen) || -Infinity);
      this.devices.set(key, {
        online: d.state === undefined || d.state === 'unknown' ? prev.online : d.state === 'online',
        lastSeen: liveNewer ? prev.lastSeen : toMs(d.lastSeen) || prev.lastSeen,
        values: liveNewer ? { ...flat, ...prev.values } : { ...prev.values, ...flat },
        ...(prev.ts !== undefined ? { ts: prev.ts } : {}),
      });
    }
    this.changed('plant');
  }

  /** Applies frames that arrived since the last animation frame, then tells the views once. */
  applyTelemetryBatch(frames: readonly TelemetryDto[], keepMs = 3_600_000): void {
    if (frames.length === 0) return;
    for (const f of frames) this.applyTelemetry(f, keepMs, false);
    this.changed('telemetry');
  }

  applyTelemetry(f: TelemetryDto, keepMs = 3_600_000, announce = true): void {
    const key = `${f.siteId}/${f.deviceId}`;
    const d = this.devices.get(key) ?? { online: true, values: {} };
    d.values = { ...d.values, ...f.values };
    d.ts = f.ts;
    d.lastSeen = f.ts;
    d.online = true;
    this.devices.set(key, d);
    for (const [ch, v] of Object.entries(f.values)) {
      if (typeof v !== 'number') continue;
      const lk = `${key}/${ch}`;
      if (this.trendKeys && !this.trendKeys.has(lk)) continue;
      let pts = this.live.get(lk);
      if (!pts) this.live.set(lk, (pts = []));
      pts.push({ t: f.ts, v });
      let drop = 0;
      while (drop < pts.length && (pts[drop]?.t ?? 0) < f.ts - keepMs) drop++;
      if (drop > 0) pts.splice(0, drop);
    }
    if (announce) this.changed('telemetry');
  }

  applyHazard(h: Hazard): void {
    this.hazards.set(h.sourceId, { ...this.hazards.get(h.sourceId), ...h });
    this.changed('plant');
  }

  /**
   * Devices online now (the server's state from GET /api/devices, refreshed periodically, and live telemetry) and
   * the newest reading, for one site or all: the live 在线率 beside the daily online-rate KPI.
   */
  onlineNow(siteId?: string): { online: number; total: number; lastSeen: number | undefined } {
    let online = 0;
    let total = 0;
    let lastSeen: number | undefined;
    for (const [key, d] of this.devices) {
      if (siteId !== undefined && !key.startsWith(`${siteId}/`)) continue;
      total++;
      if (d.online) online++;
      if (d.lastSeen !== undefined && (lastSeen === undefined || d.lastSeen > lastSeen))
        lastSeen = d.lastSeen;
    }
    return { online, total, lastSeen };
  }

  /** Sites with at least one alarm nobody acknowledged yet (their map marker blinks). */
  unackedSites(): Set<string> {
    const out = new Set<string>();
    for (const a of this.alarms.values()) if (blinks(a)) out.add(a.siteId);
    return out;
  }

  reset(): void {
    this.alarms.clear();
    this.lastSeq = null;
    this.sites = [];
    this.siteById.clear();
    this.sourceById.clear();
    this.deviceByKey.clear();
    this.devices.clear();
    this.hazards.clear();
    this.live.clear();
    this.floods = new Map();
    this.changed('plant');
    this.changed('alarms');
  }
}

/** A site's jurisdiction as people read it: the official names of its levels, or the slug path. */
export function jurisdictionLabel(s: Pick<SiteInfo, 'jurisdiction' | 'jurisdictionChain'>): string {
  return s.jurisdictionChain && s.jurisdictionChain.length > 0
    ? s.jurisdictionChain.map((j) => j.name).join(' / ')
    : s.jurisdiction;
}

/** The official name of one level of a jurisdiction path (`tianjin/binhai`), from any site below it; else the slug. */
export function jurisdictionLevelName(
  sites: readonly Pick<SiteInfo, 'jurisdictionChain'>[],
  path: string,
): string | undefined {
  for (const s of sites) {
    const j = s.jurisdictionChain?.find((c) => c.path === path);
    if (j) return j.name;
  }
  return undefined;
}
