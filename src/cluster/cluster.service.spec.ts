import type { AppConfig } from '../config/app-config';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import type { Database } from '../storage/database.service';
import { ClusterService } from './cluster.service';
import { JobGates } from '../common/job-gate';
import { pollUntil } from '../../test/setup/poll-until';

const T = (s: number): Date => new Date(Date.UTC(2026, 11, 3, 8, 0, s));

function config(nodeId?: string): AppConfig {
  return {
    env: { HAZWATCH_NODE_ID: nodeId, HAZWATCH_LEASE_TTL_MS: 10_000 },
    plant: { sites: [{ id: 'bohai-chem' }, { id: 'wuqing-fine' }, { id: 'nangang-petro' }] },
  } as unknown as AppConfig;
}

/** Answers the two status queries by their FROM clause; any other statement fails the test. */
function fakeDb(): { db: Database; sql: string[] } {
  const sql: string[] = [];
  const db = {
    query: async (text: string) => {
      sql.push(text);
      if (text.includes('FROM cluster_node'))
        return {
          rows: [
            {
              node_id: 'n1',
              started_at: T(0),
              heartbeat_at: T(20),
              expires_at: T(30),
              draining: false,
              version: '0.1.0',
              alive: true,
            },
            {
              node_id: 'n2',
              started_at: T(1),
              heartbeat_at: T(2),
              expires_at: T(12),
              draining: true,
              version: '0.1.0',
              alive: false,
            },
          ],
        };
      if (text.includes('FROM site_lease'))
        return {
          rows: [
            {
              site_id: 'bohai-chem',
              owner: 'n1',
              epoch: '3',
              acquired_at: T(5),
              renewed_at: T(20),
              expires_at: T(30),
              valid: true,
            },
            {
              site_id: 'job:retention',
              owner: 'n1',
              epoch: '7',
              acquired_at: T(6),
              renewed_at: T(20),
              expires_at: T(30),
              valid: true,
            },
            // released by the draining node, not yet taken: unowned
            {
              site_id: 'wuqing-fine',
              owner: null,
              epoch: '2',
              acquired_at: T(1),
              renewed_at: T(2),
              expires_at: T(12),
              valid: false,
            },
          ],
        };
      throw new Error(`unexpected SQL: ${text}`);
    },
  };
  return { db: db as unknown as Database, sql };
}

describe('ClusterService', () => {
  it('single node: no lease manager, gates open, status without touching the cluster tables', async () => {
    const { db, sql } = fakeDb();
    const gates = new JobGates(false);
    const s = new ClusterService(config(), db, gates, new HazwatchMetrics(false));
    s.onApplicationBootstrap();
    expect(s.clustered).toBe(false);
    expect(gates.isOpen('webhooks')).toBe(true);
    expect(await s.status()).toEqual({
      mode: 'single',
      nodeId: null,
      leaseTtlMs: null,
      nodes: [],
      unowned: [],
    });
    await s.beforeApplicationShutdown();
    expect(sql).toEqual([]);
  });

  it('cluster node: lists each node with the sites and jobs it holds, their epochs and since when, and what nobody holds', async () => {
    const { db } = fakeDb();
    const s = new ClusterService(config('n1'), db, new JobGates(true), new HazwatchMetrics(false));
    expect(s.clustered).toBe(true);
    const st = await s.status();
    expect(st.mode).toBe('cluster');
    expect(st.nodeId).toBe('n1');
    expect(st.leaseTtlMs).toBe(10_000);
    const n1 = st.nodes.find((n) => n.nodeId === 'n1')!;
    expect(n1.alive).toBe(true);
    expect(n1.sites).toEqual([
      { siteId: 'bohai-chem', epoch: 3, since: T(5).toISOString(), expiresAt: T(30).toISOString() },
    ]);
    expect(n1.jobs).toEqual([
      { job: 'retention', epoch: 7, since: T(6).toISOString(), expiresAt: T(30).toISOString() },
    ]);
    const n2 = st.nodes.find((n) => n.nodeId === 'n2')!;
    expect(n2).toMatchObject({ alive: false, draining: true, sites: [], jobs: [] });
    expect(st.unowned).toEqual([
      'job:anchors',
      'job:duty-checks',
      'job:feeds',
      'job:partitions',
      'job:webhooks',
      'nangang-petro',
      'wuqing-fine',
    ]);
  });

  it('cluster node: gates open as the job leases are taken, the maintenance jobs run at once, and a stop releases everything', async () => {
    const sql: string[] = [];
    const db = {
      query: async (text: string, params: unknown[] = []) => {
        sql.push(text);
        if (text.includes('INSERT INTO cluster_node')) return { rows: [{ node_id: 'n1' }] };
        if (text.includes('INSERT INTO site_lease'))
          return {
            rows: (params[1] as string[]).map((k) => ({ site_id: k, epoch: '1', acquired_at: T(0) })),
          };
        if (text.includes('UPDATE site_lease AS l SET renewed_at'))
          return { rows: (params[1] as string[]).map((k) => ({ site_id: k })) };
        return { rows: [], rowCount: 0 };
      },
    } as unknown as Database;
    const gates = new JobGates(true);
    const runs: string[] = [];
    const partitions = { runOnce: async () => void runs.push('partitions') } as never;
    const retention = { runOnce: async () => void runs.push('retention') } as never;
    const metrics = new HazwatchMetrics(false);
    const s = new ClusterService(config('n1'), db, gates, metrics, partitions, retention);
    expect(gates.isOpen('partitions')).toBe(false);
    s.onApplicationBootstrap();
    await pollUntil(() => gates.isOpen('partitions') && runs.length === 2, { what: 'job leases taken' });
    expect(runs.sort()).toEqual(['partitions', 'retention']);
    expect(gates.isOpen('duty-checks')).toBe(true);
    const scrape = await metrics.registry.metrics();
    expect(scrape).toMatch(/^hazwatch_cluster_sites_owned 3$/m);
    expect(scrape).toMatch(/^hazwatch_cluster_jobs_owned 6$/m);
    expect(scrape).toMatch(/^hazwatch_cluster_nodes_alive 1$/m);
    await s.beforeApplicationShutdown();
    expect(gates.isOpen('partitions')).toBe(false);
    expect(sql.some((q) => q.includes('SET draining = true'))).toBe(true);
    expect(sql.some((q) => q.includes('SET owner = NULL'))).toBe(true);
  });
});
