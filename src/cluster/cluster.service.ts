import {
  Inject,
  Injectable,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { EMPTY, type Observable, type Subscription } from 'rxjs';
import { JsonLogger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { serverVersion } from '../common/project-root.util';
import { Database } from '../storage/database.service';
import { RetentionService } from '../storage/retention.service';
import { TelemetryPartitions } from '../storage/telemetry-partitions.service';
import { SINGLETON_JOBS, isJobKey, jobKey } from './domain/lease-keys';
import { JobGates } from '../common/job-gate';
import { LeaseManager, type OwnershipChange } from './lease-manager';
import { openLeaseConnection, type LeaseConnection } from './lease-connection';
import { PgLeaseStore } from './lease.store';
import { SingleNodeOwnership, type SiteOwnership } from '../common/site-ownership';
import { LeaseSiteOwnership } from './site-ownership';
import { monotonicClock, systemLeaseTimer } from './system-timer';

export type ClusterLeaseView = {
  key: string;
  epoch: number;
  since: string;
  renewedAt: string;
  expiresAt: string;
};
export type ClusterNodeView = {
  nodeId: string;
  alive: boolean;
  draining: boolean;
  version: string;
  startedAt: string;
  heartbeatAt: string;
  expiresAt: string;
  sites: Array<{ siteId: string; epoch: number; since: string; expiresAt: string }>;
  jobs: Array<{ job: string; epoch: number; since: string; expiresAt: string }>;
};
export type ClusterStatus = {
  mode: 'single' | 'cluster';
  /** This node's HAZWATCH_NODE_ID (null on a single node). */
  nodeId: string | null;
  leaseTtlMs: number | null;
  nodes: ClusterNodeView[];
  /** Plant sites and singleton jobs no node holds a valid lease of right now. */
  unowned: string[];
};

/**
 * Cluster membership of this process (docs/adr/0016-cluster.md). Without HAZWATCH_NODE_ID it does nothing: no lease
 * manager, no query of the cluster tables, every job gate open. With it: a LeaseManager over the plant's sites and the
 * singleton jobs, started once the application is up and stopped (leases handed over) before the database closes.
 */
@Injectable()
export class ClusterService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new JsonLogger('cluster');
  /** The status API's reads (main pool). */
  private readonly store: PgLeaseStore | undefined;
  /** The lease rounds' own connection (absent on a single node, and with the embedded database). */
  private readonly leaseConnection: LeaseConnection | undefined;
  readonly manager: LeaseManager | undefined;
  /** Which sites this node processes (every site on a single node). */
  readonly siteOwnership: SiteOwnership = new SingleNodeOwnership();
  private kick: Subscription | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    db: Database,
    private readonly gates: JobGates,
    private readonly metrics: HazwatchMetrics,
    @Optional() private readonly partitions?: TelemetryPartitions,
    @Optional() private readonly retention?: RetentionService,
  ) {
    const nodeId = config.env.HAZWATCH_NODE_ID;
    if (!nodeId) return;
    this.store = new PgLeaseStore(db);
    const url = config.env.DATABASE_URL;
    if (url) this.leaseConnection = openLeaseConnection(url, config.env.HAZWATCH_LEASE_TTL_MS, this.log);
    else
      this.log.warn(
        'cluster mode without DATABASE_URL: lease rounds share the main pool (an embedded database cannot be shared by nodes anyway)',
      );
    const keys = [...config.plant.sites.map((s) => s.id), ...SINGLETON_JOBS.map(jobKey)];
    this.manager = new LeaseManager({
      nodeId,
      store: this.leaseConnection ? new PgLeaseStore(this.leaseConnection.sql) : this.store,
      keys: () => keys,
      ttlMs: config.env.HAZWATCH_LEASE_TTL_MS,
      clock: monotonicClock,
      timer: systemLeaseTimer,
      version: serverVersion(),
    });
    this.siteOwnership = new LeaseSiteOwnership(this.manager);
  }

  get clustered(): boolean {
    return this.manager !== undefined;
  }

  /** This node's ownership changes (empty on a single node, which owns everything). */
  get ownership$(): Observable<OwnershipChange> {
    return this.manager?.ownership$ ?? EMPTY;
  }

  onApplicationBootstrap(): void {
    const m = this.manager;
    if (!m) return;
    this.gates.attach(m);
    // A job whose round came while another node held its lease runs as soon as this node takes the lease, not at its
    // next period (10 min for partitions, an hour for retention): a fresh cluster gets today's partition at once.
    this.kick = m.ownership$.subscribe((c) => {
      if (!c.owned) return;
      if (c.key === jobKey('partitions')) void this.partitions?.runOnce();
      if (c.key === jobKey('retention')) void this.retention?.runOnce();
    });
    const owned = (jobs: boolean): number => m.owned().filter((l) => isJobKey(l.key) === jobs).length;
    Object.assign(this.metrics.clusterSources, {
      nodesAlive: () => m.stats.liveNodes,
      sitesOwned: () => owned(false),
      jobsOwned: () => owned(true),
      renewFailures: () => m.stats.renewFailures,
      selfFences: () => m.stats.selfFences,
    });
    this.log.info('cluster mode: sharing sites and singleton jobs by leases', {
      node: m.nodeId,
      leaseTtlMs: this.config.env.HAZWATCH_LEASE_TTL_MS,
    });
    m.start();
  }

  /** Before the pool closes: hand every lease over (graceful stop, docs/adr/0016-cluster.md). */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.manager) return;
    this.kick?.unsubscribe();
    this.gates.detach();
    try {
      await this.manager.stop();
    } finally {
      await this.leaseConnection
        ?.close()
        .catch((err: unknown) => this.log.warn('closing the lease connection failed', { err }));
    }
  }

  async status(): Promise<ClusterStatus> {
    const env = this.config.env;
    if (!this.store || !env.HAZWATCH_NODE_ID)
      return { mode: 'single', nodeId: null, leaseTtlMs: null, nodes: [], unowned: [] };
    const [nodes, leases] = await Promise.all([this.store.nodes(), this.store.allLeases()]);
    const iso = (d: Date): string => d.toISOString();
    const views = new Map<string, ClusterNodeView>(
      nodes.map((n) => [
        n.nodeId,
        {
          nodeId: n.nodeId,
          alive: n.alive,
          draining: n.draining,
          version: n.version,
          startedAt: iso(n.startedAt),
          heartbeatAt: iso(n.heartbeatAt),
          expiresAt: iso(n.expiresAt),
          sites: [],
          jobs: [],
        },
      ]),
    );
    const wanted = new Set([...this.config.plant.sites.map((s) => s.id), ...SINGLETON_JOBS.map(jobKey)]);
    const held = new Set<string>();
    for (const l of leases) {
      if (!l.valid || l.owner === null) continue;
      held.add(l.key);
      const v = views.get(l.owner);
      if (!v) continue;
      const at = { epoch: l.epoch, since: iso(l.acquiredAt), expiresAt: iso(l.expiresAt) };
      if (isJobKey(l.key)) v.jobs.push({ job: l.key.slice('job:'.length), ...at });
      else v.sites.push({ siteId: l.key, ...at });
    }
    return {
      mode: 'cluster',
      nodeId: env.HAZWATCH_NODE_ID,
      leaseTtlMs: env.HAZWATCH_LEASE_TTL_MS,
      nodes: [...views.values()],
      unowned: [...wanted].filter((k) => !held.has(k)).sort(),
    };
  }
}
