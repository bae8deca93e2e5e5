/**
 * Jurisdiction scoping of /ws pushes. The principal's scope is resolved once, at authentication, to the set of
 * site ids it may see (a regulator for tianjin/binhai never sees a wuqing site); everything here works on that set.
 */
import type { RejectedEntry } from './client-events';

export type DeviceRef = { readonly siteId: string; readonly deviceId: string };

export type TelemetryPlan = {
  readonly accepted: readonly DeviceRef[];
  readonly rejected: readonly RejectedEntry[];
};

const ENTRY_RE = /^([A-Za-z0-9_-]{1,64})\/([A-Za-z0-9_-]{1,64})$/;

/**
 * Splits requested `siteId/deviceId` entries into accepted and rejected ones.
 * An unknown device and an out-of-scope device are both rejected; duplicates collapse.
 * `deviceExists` answers for the configured plant.
 */
export function planTelemetrySubscription(
  entries: readonly string[],
  visibleSites: ReadonlySet<string>,
  deviceExists: (siteId: string, deviceId: string) => boolean,
): TelemetryPlan {
  const accepted: DeviceRef[] = [];
  const rejected: RejectedEntry[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    if (seen.has(entry)) continue;
    seen.add(entry);
    const m = ENTRY_RE.exec(entry);
    if (m === null) {
      rejected.push({ entry, reason: 'malformed' });
      continue;
    }
    const siteId = m[1] as string;
    const deviceId = m[2] as string;
    // Out of scope first: do not reveal whether a device exists in a site the client may not see.
    if (!visibleSites.has(siteId)) rejected.push({ entry, reason: 'out_of_scope' });
    else if (!deviceExists(siteId, deviceId)) rejected.push({ entry, reason: 'unknown_device' });
    else accepted.push({ siteId, deviceId });
  }
  return { accepted, rejected };
}

/** The sites a principal may see, given a site-level predicate (ScopeService.canSeeSite or equivalent). */
export function visibleSiteIds(
  allSiteIds: Iterable<string>,
  canSeeSite: (siteId: string) => boolean,
): ReadonlySet<string> {
  const out = new Set<string>();
  for (const id of allSiteIds) if (canSeeSite(id)) out.add(id);
  return out;
}
