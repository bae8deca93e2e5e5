/**
 * Fallback bindings of the realtime ports (a feed whose module is not wired: logged at start, nothing pushed) and a
 * plant-model scope for tests.
 */
import { NEVER } from 'rxjs';
import { scopeCovers, sitePath, type Principal } from '../auth/principal';
import type { AppConfig } from '../config/app-config';
import type { AlarmFeed, HazardFeed, StorageStatus, WsScope } from './realtime.ports';

export const silentAlarmFeed: AlarmFeed = {
  events$: NEVER,
  currentSeq: () => 0,
  eventsSince: async () => [],
};

export const silentHazardFeed: HazardFeed = { hazard$: NEVER };
export const healthyStorage: StorageStatus = { storageDegraded: () => false };

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
