/** The singleton jobs of a cluster, each gated by the lease `job:<name>` (docs/adr/0016-cluster.md). */
export const SINGLETON_JOBS = [
  'partitions',
  'retention',
  'webhooks',
  'duty-checks',
  'anchors',
  'feeds',
] as const;
export type SingletonJob = (typeof SINGLETON_JOBS)[number];

export function jobKey(job: SingletonJob): string {
  return `job:${job}`;
}
