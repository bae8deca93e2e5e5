import type { Principal } from '../../auth/principal';
import type { ScopeService } from '../../auth/scope.service';
import type { Clock } from '../../common/clock';
import { PRIORITY_RANK } from '../../common/types';
import type { AppConfig } from '../../config/app-config';
import type { AlarmStore } from '../alarm.store';
import {
  AlarmNotFoundError,
  AlarmQueryError,
  AlarmsNotReadyError,
  ReplayTooLargeError,
} from '../alarm.errors';
import { computeAlarmKpis, type AlarmKpis } from '../domain/alarm-kpi';
import { toSnapshot } from '../domain/alarm-state.machine';
import type { AlarmEventDto, AlarmRecord } from '../domain/alarm.types';
import type { FloodStatus, FloodTracker } from '../domain/flood.tracker';
import { toEventDto } from '../domain/journal-chain';
import { JournalVerifier } from '../domain/journal-verifier';
import { onlineRates, type LinkEvent, type OnlineDay, type OpenLinkAlarm } from '../domain/online-rate';
import { isLinkCondition } from '../domain/site-link';
import type { AlarmJournalWriter } from './alarm-journal.writer';
import type { AlarmRegistry } from './alarm-registry';
import type {
  AlarmListFilter,
  AlarmSystemStatus,
  AlarmView,
  AnnouncedAlarmEvent,
  JournalFilter,
  JournalVerification,
} from './alarm-service.types';
import type { AlarmStatusTracker } from './alarm-status';

const REPLAY_PAGE = 5_000;

/** Readiness and jurisdiction checks shared by reads and operator commands. */
export class AlarmAccess {
  constructor(
    private readonly registry: AlarmRegistry,
    private readonly scope: ScopeService,
    private readonly isReady: () => boolean,
  ) {}

  requireReady(): void {
    if (!this.isReady()) throw new AlarmsNotReadyError();
  }

  visible(principal: Principal): ReadonlySet<string> {
    return this.scope.visibleSiteIds(principal);
  }

  /** The alarm, or AlarmNotFoundError — also when it lies outside the principal's jurisdiction. */
  requireVisible(id: string, principal: Principal): AlarmRecord {
    const a = this.registry.get(id);
    if (!a || !this.visible(principal).has(a.siteId)) throw new AlarmNotFoundError(id);
    return a;
  }
}

export type AlarmQueriesDeps = {
  readonly registry: AlarmRegistry;
  readonly writer: AlarmJournalWriter;
  readonly store: AlarmStore;
  readonly access: AlarmAccess;
  readonly status: AlarmStatusTracker;
  readonly flood: FloodTracker;
  readonly clock: Clock;
  readonly config: AppConfig;
  readonly maxReplay: number;
  /** The last verification's result for /metrics (hazwatch_journal_verify_ok; alert HazwatchJournalVerifyFailed). */
  readonly recordVerification?: (ok: boolean) => void;
};

/** Reads of alarm state and the journal, each scoped to the principal's jurisdiction. Changes nothing. */
export class AlarmQueries {
  private readonly devicesBySite = new Map<string, string[]>();

  constructor(private readonly deps: AlarmQueriesDeps) {
    for (const d of deps.config.plant.deviceByKey.values()) {
      const list = this.devicesBySite.get(d.siteId);
      if (list) list.push(d.id);
      else this.devicesBySite.set(d.siteId, [d.id]);
    }
  }

  /** Alarms sorted by priority (critical first), then newest raise first. */
  list(filter: AlarmListFilter, principal: Principal): AlarmView[] {
    const { access, registry, writer } = this.deps;
    access.requireReady();
    const sites = access.visible(principal);
    const out: AlarmRecord[] = [];
    for (const a of registry.values()) {
      if (!sites.has(a.siteId)) continue;
      if (filter.siteId !== undefined && a.siteId !== filter.siteId) continue;
      if (filter.state !== undefined && a.state !== filter.state) continue;
      if (filter.priority !== undefined && a.priority !== filter.priority) continue;
      if (filter.from !== undefined && a.raisedAt < filter.from) continue;
      if (filter.to !== undefined && a.raisedAt >= filter.to) continue;
      out.push(a);
    }
    out.sort(
      (x, y) =>
        PRIORITY_RANK[y.priority] - PRIORITY_RANK[x.priority] ||
        y.raisedAt - x.raisedAt ||
        x.id.localeCompare(y.id),
    );
    return out.map((a) => view(a, writer.isJournalled(a)));
  }

  get(id: string, principal: Principal): AlarmView {
    this.deps.access.requireReady();
    const a = this.deps.access.requireVisible(id, principal);
    return view(a, this.deps.writer.isJournalled(a));
  }

  status(principal?: Principal): AlarmSystemStatus {
    const s = this.deps.status.build();
    if (!principal) return s;
    const sites = this.deps.access.visible(principal);
    return { ...s, floods: s.floods.filter((f) => sites.has(f.siteId)) };
  }

  /** Flood indicator of every visible site that raised alarms in the last 10 minutes. */
  floods(principal: Principal): FloodStatus[] {
    const sites = this.deps.access.visible(principal);
    return this.deps.flood.all(this.deps.clock.now()).filter((f) => sites.has(f.siteId));
  }

  /**
   * Every alarm event with seq > since that the principal may see, in seq order: committed ones from the journal,
   * the rest (including events held while the database is down) from memory.
   */
  async eventsSince(since: number, principal: Principal): Promise<AlarmEventDto[]> {
    const { access, writer, store, maxReplay } = this.deps;
    access.requireReady();
    const sites = access.visible(principal);
    const siteIds = [...sites];
    const out: AlarmEventDto[] = [];
    let cursor = Math.max(0, since);
    for (;;) {
      // memory holds every event from `first` on (all uncommitted ones included); before it, the journal has them
      const first = writer.recent[0]?.seq ?? writer.seq + 1;
      if (cursor >= first - 1) break;
      const page = await store.journal({ afterSeq: cursor, siteIds, limit: REPLAY_PAGE });
      for (const e of page) {
        if (e.seq >= first) break;
        const ev: AnnouncedAlarmEvent = { ...toEventDto(e), journalled: true };
        out.push(ev);
      }
      if (out.length > maxReplay) throw new ReplayTooLargeError(since, maxReplay);
      const last = page[page.length - 1]?.seq;
      // a short page covers every committed row up to `first - 1`; loop again if memory was trimmed meanwhile
      cursor = page.length === REPLAY_PAGE && last !== undefined && last < first ? last : first - 1;
    }
    const committed = writer.committedSeq;
    for (const e of writer.recent) {
      if (e.seq <= cursor || !sites.has(e.siteId)) continue;
      const ev: AnnouncedAlarmEvent = { ...toEventDto(e), journalled: e.seq <= committed };
      out.push(ev);
    }
    if (out.length > maxReplay) throw new ReplayTooLargeError(since, maxReplay);
    return out;
  }

  /** Journal rows the principal may see (committed ones), ascending. */
  async journal(filter: JournalFilter, principal: Principal): Promise<AlarmEventDto[]> {
    if (filter.from !== undefined && filter.to !== undefined && filter.to <= filter.from)
      throw new AlarmQueryError('`to` must be after `from`');
    const rows = await this.deps.store.journal({
      ...filter,
      siteIds: [...this.deps.access.visible(principal)],
    });
    return rows.map(toEventDto);
  }

  async alarmJournal(id: string, principal: Principal, limit: number): Promise<AlarmEventDto[]> {
    this.deps.access.requireReady();
    this.deps.access.requireVisible(id, principal);
    return this.journal({ alarmId: id, limit }, principal);
  }

  /** Walks the whole journal in seq order (global chain and every site's chain) and reports the first broken row. */
  async verifyJournal(pageSize = 5_000): Promise<JournalVerification> {
    const v = new JournalVerifier();
    let after = 0;
    for (;;) {
      const page = await this.deps.store.journal({ afterSeq: after, limit: pageSize });
      for (const row of page) {
        const broken = v.push(row);
        if (broken) {
          this.deps.recordVerification?.(false);
          return { ok: false, rowsChecked: v.rowsChecked, firstBroken: broken };
        }
      }
      if (page.length < pageSize) break;
      after = page[page.length - 1]?.seq ?? after;
    }
    this.deps.recordVerification?.(true);
    return { ok: true, rowsChecked: v.rowsChecked, lastSeq: v.lastSeq };
  }

  async kpis(from: number, to: number, principal: Principal): Promise<AlarmKpis> {
    const { access, store, registry, clock } = this.deps;
    access.requireReady();
    if (!(to > from)) throw new AlarmQueryError('`to` must be after `from`');
    const sites = access.visible(principal);
    const raises = await store.raises({ from, to, siteIds: [...sites] });
    const current = [...registry.values()].filter((a) => sites.has(a.siteId));
    return computeAlarmKpis({ from, to, raises, current, now: clock.now() });
  }

  /**
   * Online rate (在线率) per visible site per local day, from the journal's device link alarms (offline / stale):
   * docs/alarm-lifecycle.md, "Online rate".
   */
  async onlineRate(from: number, to: number, principal: Principal): Promise<OnlineDay[]> {
    const { access, store, registry } = this.deps;
    access.requireReady();
    if (!(to > from)) throw new AlarmQueryError('`to` must be after `from`');
    const sites = access.visible(principal);
    const siteIds = [...sites];
    const events: LinkEvent[] = [];
    let afterSeq: number | undefined;
    for (;;) {
      const page = await store.journal({
        from,
        to,
        siteIds,
        limit: REPLAY_PAGE,
        ...(afterSeq !== undefined ? { afterSeq } : {}),
      });
      for (const e of page) {
        const snap = e.snapshot;
        if (snap.deviceId === undefined || !isLinkCondition(snap)) continue;
        const at =
          e.event === 'raised'
            ? Date.parse(snap.raisedAt)
            : e.event === 'cleared' && snap.clearedAt !== undefined
              ? Date.parse(snap.clearedAt)
              : e.at;
        events.push({
          alarmId: e.alarmId,
          siteId: e.siteId,
          deviceId: snap.deviceId,
          event: e.event,
          active: snap.active,
          at,
        });
      }
      if (page.length < REPLAY_PAGE) break;
      afterSeq = page[page.length - 1]?.seq;
    }
    const open: OpenLinkAlarm[] = [];
    for (const a of registry.values()) {
      if (!sites.has(a.siteId) || a.deviceId === undefined || !isLinkCondition(a) || a.raisedAt >= from)
        continue;
      const stillLostAtTo = a.active ? true : a.clearedAt !== undefined && a.clearedAt >= to;
      if (stillLostAtTo)
        open.push({ alarmId: a.id, siteId: a.siteId, deviceId: a.deviceId, since: a.raisedAt });
    }
    const devices = new Map([...this.devicesBySite].filter(([siteId]) => sites.has(siteId)));
    return onlineRates({ from, to, devices, events, open });
  }
}

function view(a: AlarmRecord, journalled: boolean): AlarmView {
  return { ...toSnapshot(a), journalled };
}
