import { concat, defer, filter, from, map, type Observable } from 'rxjs';
import { SiteOwnership, type SiteOwnershipChange } from '../common/site-ownership';
import { isJobKey } from './domain/lease-keys';
import type { LeaseManager } from './lease-manager';

export {
  SiteOwnership,
  SingleNodeOwnership,
  type SiteOwnershipChange,
  type SiteFenceToken,
} from '../common/site-ownership';

/** A cluster node: site ownership as its LeaseManager holds it. */
export class LeaseSiteOwnership extends SiteOwnership {
  readonly clustered = true;
  readonly ownership$: Observable<SiteOwnershipChange>;

  constructor(private readonly manager: LeaseManager) {
    super();
    const live$ = manager.ownership$.pipe(
      filter((c) => !isJobKey(c.key)),
      map((c): SiteOwnershipChange => ({ siteId: c.key, owned: c.owned, epoch: c.epoch, reason: c.reason })),
    );
    // the snapshot and the subscription to live changes happen in one synchronous step: nothing falls between them
    this.ownership$ = defer(() =>
      concat(
        from(
          manager
            .owned()
            .filter((l) => !isJobKey(l.key) && manager.isOwned(l.key))
            .map((l): SiteOwnershipChange => ({
              siteId: l.key,
              owned: true,
              epoch: l.epoch,
              reason: 'current',
            })),
        ),
        live$,
      ),
    );
  }

  get nodeId(): string {
    return this.manager.nodeId;
  }

  owns(siteId: string): boolean {
    return !isJobKey(siteId) && this.manager.isOwned(siteId);
  }

  epochOf(siteId: string): number | undefined {
    return this.owns(siteId) ? this.manager.epochOf(siteId) : undefined;
  }
}
