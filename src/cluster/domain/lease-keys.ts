/**
 * Lease keys: a site id owns the site's alarm work; `job:<name>` gates a singleton job (docs/adr/0016-cluster.md).
 * Site ids match [A-Za-z0-9_-]{1,64} (docs/contract.md §2), so they can never contain the ':' of a job key.
 */
export const SINGLETON_JOBS = ['partitions', 'retention', 'webhooks', 'duty-checks'] as const;
export type SingletonJob = (typeof SINGLETON_JOBS)[number];

export function jobKey(job: SingletonJob): string {
  return `job:${job}`;
}

export function isJobKey(key: string): boolean {
  return key.startsWith('job:');
}
