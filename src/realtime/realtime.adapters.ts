/** Adapters from other modules' services to the realtime ports, and a plant-model scope for tests. */
import { scopeCovers, sitePath, type Principal } from '../auth/principal';
import type { AppConfig } from '../config/app-config';
import { ReplayTooLargeError } from '../alarms/alarm.errors';
import type { AlarmService } from '../alarms/alarm.service';
import type { Database } from '../storage/database.service';
import { ReplayGapError, type AlarmFeed, type StorageStatus, type WsScope } from './realtime.ports';

/** Scope from the plant model alone (same rule as ScopeService: admin sees all, else the jurisdiction prefix). */
export function plantScope(config: AppConfig): WsScope {
  const cache = new Map<string, ReadonlySet<string>>();
  return {
    visibleSiteIds(principal: Principal): ReadonlySet<string> {
      const key = principal.role === 'admin' ? '' : principal.scope;
      let ids = cache.get(key);
      if (ids === undefined) {
        ids = new Set(config.plant.sites.filter((s) => scopeCovers(key, sitePath(s))).map((s) => s.id));
        cache.set(key, ids);
      }
      return ids;
    },
  };
}

/**
 * The alarm service as the gateway's alarm feed: a replay the alarm service refuses as too large becomes a
 * ReplayGapError (the client is told to reload the list and continue live); any other failure passes through.
 */
export function alarmFeedFrom(alarms: AlarmService): AlarmFeed {
  return {
    events$: alarms.events$,
    currentSeq: () => alarms.currentSeq(),
    eventsSince: async (since, principal) => {
      try {
        return await alarms.eventsSince(since, principal);
      } catch (err) {
        if (err instanceof ReplayTooLargeError) throw new ReplayGapError(err.message);
        throw err;
      }
    },
  };
}

/**
 * Storage status for the console banner: degraded while alarm events cannot be journalled or the database's liveness
 * probe gets no answer (the reason is shown); the journalled seq drives the `journalled` marker frames.
 */
export function storageStatusFrom(
  alarms: Pick<AlarmService, 'storageDegraded' | 'journalledSeq'>,
  db: Pick<Database, 'liveness'>,
): StorageStatus {
  return {
    storageDegraded: () => alarms.storageDegraded() || !db.liveness().up,
    journalledSeq: () => alarms.journalledSeq(),
    databaseReason: () => {
      const l = db.liveness();
      return l.up ? undefined : l.reason;
    },
  };
}
