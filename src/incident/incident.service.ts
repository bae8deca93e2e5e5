import { jurisdictionView } from '../config/admin-divisions';
/**
 * Assembles the incident dossier of one site and window from the alarm journal, the call-out and duty-check records,
 * the disposal records, the hidden dangers (items and findings), the call-out roster and the stored telemetry of the devices involved
 * (docs/incident-dossier.md). Read-only.
 */
import { Inject, Injectable, Optional } from '@nestjs/common';
import { CLOCK, type Clock } from '../common/clock';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { DeviceInfo } from '../config/config.loader';
import type { CalloutsConfig } from '../notifications/callouts.loader';
import { CALLOUT_STORE, type CalloutStore } from '../notifications/callout.store';
import { resolveCallee, localTime } from '../notifications/domain/roster';
import { CALLOUTS_CONFIG } from '../notifications/notifications.tokens';
import type { TelemetryQueryRepository } from '../storage/telemetry-query.repository';
import type { Dossier, DossierOnDuty, DossierSeries, DossierJournalEntry } from './domain/dossier.types';
import { EVENT_ZH } from './domain/dossier-layout';
import { DOSSIER_SOURCE, type DossierSource } from './incident.repository';

export const DOSSIER_TELEMETRY = Symbol('DOSSIER_TELEMETRY');
export type DossierTelemetry = Pick<TelemetryQueryRepository, 'bucketed'>;

/** Journal rows a dossier carries at most (the window is then reported as truncated). */
export const MAX_JOURNAL = 2_000;
/** Devices charted at most (the first ones the journal names) and numeric channels per device. */
export const MAX_DEVICES = 8;
export const MAX_CHANNELS = 4;
/** Buckets per chart at most. */
export const CHART_BUCKETS = 240;
const MIN = 60_000;
const MARKED_EVENTS = new Set(['raised', 'cleared', 'acknowledged', 'realarm']);

/** The telemetry window around the incident: the report window widened by a tenth of it, at least 10 minutes. */
export function telemetryWindow(from: number, to: number): { from: number; to: number } {
  const pad = Math.max(10 * MIN, Math.round((to - from) / 10));
  return { from: from - pad, to: to + pad };
}

@Injectable()
export class IncidentService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DOSSIER_SOURCE) private readonly source: DossierSource,
    @Inject(DOSSIER_TELEMETRY) private readonly telemetry: DossierTelemetry,
    @Optional() @Inject(CALLOUT_STORE) private readonly callouts?: CalloutStore,
    @Optional() @Inject(CALLOUTS_CONFIG) private readonly roster?: CalloutsConfig | null,
  ) {}

  async build(siteId: string, from: number, to: number, generatedBy: string): Promise<Dossier> {
    const site = this.config.plant.siteById.get(siteId);
    if (!site) throw new Error(`site '${siteId}' is not in the plant model`);
    const rows = await this.source.journal(siteId, from, to, MAX_JOURNAL + 1);
    const journal = rows.slice(0, MAX_JOURNAL);
    const alarmIds = [...new Set(journal.map((e) => e.alarmId))];
    const [callouts, dutyChecks, findings, disposals, telemetry] = await Promise.all([
      this.callouts ? this.callouts.listCallouts({ siteId, from, to, overlapping: true, limit: 500 }) : [],
      this.callouts ? this.callouts.listDutyChecks({ siteId, from, to, limit: 500 }) : [],
      this.source.findings(siteId, from, to, alarmIds),
      this.source.disposals(siteId, from, to, alarmIds),
      this.series(siteId, from, to, journal),
    ]);
    const firstRaise = journal.find((e) => e.event === 'raised' || e.event === 'realarm');
    const incidentStart = firstRaise ? Date.parse(firstRaise.at) : from;
    const byTime =
      <T>(key: (x: T) => string) =>
      (a: T, b: T) =>
        Date.parse(key(a)) - Date.parse(key(b));
    return {
      site: {
        id: site.id,
        name: site.name,
        ...(site.nameEn !== undefined ? { nameEn: site.nameEn } : {}),
        jurisdiction: site.jurisdiction,
        ...jurisdictionView(this.config.plant.jurisdictionByPath, site.jurisdiction),
        location: site.location,
        hazardSources: site.hazardSources.map((h) => ({
          id: h.id,
          name: h.name,
          filedGrade: String(h.filedGrade),
        })),
      },
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      generatedAt: new Date(this.clock.now()).toISOString(),
      generatedBy,
      incidentStart: new Date(incidentStart).toISOString(),
      journal,
      journalTruncated: rows.length > MAX_JOURNAL,
      callouts: [...callouts].sort(byTime((c) => c.startedAt)),
      dutyChecks: [...dutyChecks].sort(byTime((c) => c.scheduledAt)),
      disposals,
      findings,
      onDuty: this.onDuty(siteId, incidentStart, journal),
      telemetry,
    };
  }

  /** The control room, the three responsible persons (site-wide and per involved hazard source) and the duty desk. */
  private onDuty(siteId: string, at: number, journal: readonly DossierJournalEntry[]): DossierOnDuty[] {
    const contacts = this.roster?.sites.get(siteId);
    if (!contacts || !this.roster) return [];
    const t = localTime(at, this.roster.timeZone);
    const out: DossierOnDuty[] = [];
    const add = (role: DossierOnDuty['role'], sourceId?: string): void => {
      const c = resolveCallee(contacts, role, sourceId, t);
      if (!c) return;
      const dup = out.some((o) => o.role === role && o.name === c.name && o.number === c.number);
      if (dup) return;
      out.push({
        role,
        ...(sourceId !== undefined ? { sourceId } : {}),
        name: c.name,
        number: c.number,
        rosterGap: c.rosterGap === true,
      });
    };
    add('control_room');
    for (const role of ['main', 'technical', 'operations'] as const) add(role);
    for (const sourceId of new Set(journal.map((e) => e.sourceId)))
      if (contacts.sources.has(sourceId))
        for (const role of ['main', 'technical', 'operations'] as const) add(role, sourceId);
    add('duty_desk');
    return out;
  }

  private async series(
    siteId: string,
    from: number,
    to: number,
    journal: readonly DossierJournalEntry[],
  ): Promise<DossierSeries[]> {
    const win = telemetryWindow(from, to);
    const bucketSeconds = Math.max(1, Math.ceil((win.to - win.from) / 1000 / CHART_BUCKETS));
    const deviceIds = [...new Set(journal.flatMap((e) => (e.deviceId !== undefined ? [e.deviceId] : [])))];
    const devices = deviceIds
      .map((id) => this.config.plant.deviceByKey.get(`${siteId}/${id}`))
      .filter((d): d is DeviceInfo => d !== undefined)
      .slice(0, MAX_DEVICES);
    const out: DossierSeries[] = [];
    for (const d of devices) {
      const channels = [...d.channels]
        .filter(([, spec]) => spec.type === 'number')
        .map(([ch]) => ch)
        .slice(0, MAX_CHANNELS);
      if (channels.length === 0) continue;
      const buckets = await this.telemetry.bucketed({
        siteId,
        deviceId: d.id,
        from: win.from,
        to: win.to,
        bucketSeconds,
        limit: 100_000,
      });
      const marks = journal
        .filter((e) => e.deviceId === d.id && MARKED_EVENTS.has(e.event))
        .map((e) => ({ at: e.at, label: EVENT_ZH[e.event] ?? e.event }));
      for (const channel of channels) {
        out.push({
          deviceId: d.id,
          deviceName: d.name,
          channel,
          ...(unitOf(d, channel) !== undefined ? { unit: unitOf(d, channel) } : {}),
          from: new Date(win.from).toISOString(),
          to: new Date(win.to).toISOString(),
          bucketSeconds,
          points: buckets
            .filter((b) => b.channel === channel)
            .map((b) => ({
              t: b.bucket.toISOString(),
              min: Number(b.min),
              avg: Number(b.avg),
              max: Number(b.max),
            }))
            .reverse(),
          limits: limitsOf(d, channel),
          marks,
        });
      }
    }
    return out;
  }
}

function unitOf(d: DeviceInfo, channel: string): string | undefined {
  if (d.kind === 'gas_detector' && channel === 'conc') return d.unit;
  if (d.kind === 'analog' && channel === 'value') return d.unit;
  if (channel.endsWith('_pct')) return '%';
  if (channel.endsWith('_c')) return '°C';
  if (channel.endsWith('_kpa')) return 'kPa';
  if (channel.endsWith('_ms')) return 'm/s';
  if (channel.endsWith('_deg')) return '°';
  return undefined;
}

function limitsOf(d: DeviceInfo, channel: string): Array<{ label: string; value: number }> {
  const out: Array<{ label: string; value: number }> = [];
  if (d.kind === 'gas_detector' && channel === 'conc') {
    if (d.level1 !== undefined) out.push({ label: '一级报警', value: d.level1 });
    if (d.level2 !== undefined) out.push({ label: '二级报警', value: d.level2 });
  }
  if (d.kind === 'analog' && channel === 'value' && d.limits)
    for (const k of ['HH', 'H', 'L', 'LL'] as const) {
      const v = d.limits[k];
      if (v !== undefined) out.push({ label: k, value: v });
    }
  return out;
}
