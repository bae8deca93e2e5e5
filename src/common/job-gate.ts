import { jobKey, type SingletonJob } from './domain/singleton-jobs';

export { SINGLETON_JOBS, jobKey, type SingletonJob } from './domain/singleton-jobs';

/**
 * Job gates live in common, not in cluster: storage, notifications and the regulator consult them, and cluster (which
 * attaches its LeaseManager) sits above storage.
 */

/** Whatever tells whether this node holds a lease now, and with which epoch (the LeaseManager). */
export type LeaseHolder = {
  isOwned(key: string): boolean;
  epochOf?(key: string): number | undefined;
  readonly nodeId?: string;
};

/** The fencing token of a job's writes: the lease key `job:<name>`, this node, the epoch held. */
export type JobFenceToken = { readonly siteId: string; readonly nodeId: string; readonly epoch: number };

/**
 * Gates of the singleton jobs (partition maintenance, retention, webhook dispatch, duty-check schedules): a job's round
 * runs only on the node holding the lease `job:<name>` (docs/adr/0016-cluster.md). A single node (no
 * HAZWATCH_NODE_ID) has every gate open. A cluster node keeps them closed until its LeaseManager is attached and holds
 * the lease, so a node that cannot reach the database never runs a job another node may be running.
 */
export class JobGates {
  private holder: LeaseHolder | undefined;

  constructor(readonly clustered: boolean) {}

  attach(holder: LeaseHolder): void {
    this.holder = holder;
  }

  detach(): void {
    this.holder = undefined;
  }

  isOpen(job: SingletonJob): boolean {
    if (!this.clustered) return true;
    return this.holder?.isOwned(jobKey(job)) ?? false;
  }

  /**
   * The fencing token of the job's writes while this node holds its lease (for `fencedWrite`, src/cluster/fence.ts:
   * the lease table keeps job leases under the key `job:<name>`); undefined on a single node and while not held.
   */
  tokenOf(job: SingletonJob): JobFenceToken | undefined {
    if (!this.clustered) return undefined;
    const h = this.holder;
    const key = jobKey(job);
    if (!h?.isOwned(key) || h.nodeId === undefined) return undefined;
    const epoch = h.epochOf?.(key);
    return epoch === undefined ? undefined : { siteId: key, nodeId: h.nodeId, epoch };
  }

  /** The gate of one job as a plain predicate (for services built with options objects). */
  gate(job: SingletonJob): () => boolean {
    return () => this.isOpen(job);
  }
}

/** Single-node gates (tests and tools that build services by hand). */
export const OPEN_GATES = new JobGates(false);
