import { EMPTY, type Observable } from 'rxjs';

/**
 * The site ownership port lives in common, not in cluster (as the job gates do): ingest, rules, alarms and call-outs
 * consult it, and cluster sits above storage, which ingest's modules are imported by. The cluster implementation is
 * LeaseSiteOwnership (src/cluster/site-ownership.ts).
 */

/** Why ownership changed (the LeaseManager's reasons, docs/adr/0016-cluster.md). */
export type SiteOwnershipReason = 'acquired' | 'handover' | 'lost' | 'fenced' | 'stopped';

/** The fencing token of a site's write (the FenceToken of src/cluster/fence.ts). */
export type SiteFenceToken = { readonly siteId: string; readonly nodeId: string; readonly epoch: number };

/** One change of this node's ownership of a plant site. */
export type SiteOwnershipChange = {
  readonly siteId: string;
  readonly owned: boolean;
  /** The lease epoch (fencing token) taken or given up. */
  readonly epoch: number;
  /** `current`: replayed to a new subscriber for a site owned when it subscribed. */
  readonly reason: SiteOwnershipReason | 'current';
};

/**
 * Which plant sites this node processes now (docs/adr/0016-cluster.md): the port ingest, rules, alarms and call-outs
 * consult. A single node (no HAZWATCH_NODE_ID) owns every site, has no epochs and no changes. A cluster node owns a
 * site while its LeaseManager holds the site's lease and the self-fence deadline has not passed; `owns` and `epochOf`
 * answer synchronously from that, `ownership$` tells every change.
 */
export abstract class SiteOwnership {
  abstract readonly clustered: boolean;
  /** This node's HAZWATCH_NODE_ID (undefined on a single node). */
  abstract readonly nodeId: string | undefined;
  /** True while this node may process the site (always on a single node). */
  abstract owns(siteId: string): boolean;
  /** The epoch of the lease held now; undefined when not owned, and on a single node. */
  abstract epochOf(siteId: string): number | undefined;
  /**
   * Changes of site ownership (job leases left out). A subscriber first gets a `current` event for every site owned
   * at the moment it subscribes, then the live changes, with nothing missed in between. Empty on a single node.
   */
  abstract readonly ownership$: Observable<SiteOwnershipChange>;

  /** The fencing token for a write of this site's work now; undefined unless clustered and owned. */
  tokenFor(siteId: string): SiteFenceToken | undefined {
    const epoch = this.epochOf(siteId);
    const nodeId = this.nodeId;
    return this.clustered && nodeId !== undefined && epoch !== undefined && this.owns(siteId)
      ? { siteId, nodeId, epoch }
      : undefined;
  }
}

/** A single node: every site is its own, nothing ever changes. */
export class SingleNodeOwnership extends SiteOwnership {
  readonly clustered = false;
  readonly nodeId = undefined;
  readonly ownership$: Observable<SiteOwnershipChange> = EMPTY;
  owns(_siteId: string): boolean {
    return true;
  }
  epochOf(_siteId: string): number | undefined {
    return undefined;
  }
}
