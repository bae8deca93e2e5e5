/**
 * Lease keys: a site id owns the site's alarm work; `job:<name>` gates a singleton job (docs/adr/0016-cluster.md).
 * Site ids match [A-Za-z0-9_-]{1,64} (docs/contract.md §2), so they can never contain the ':' of a job key.
 */
export { SINGLETON_JOBS, jobKey, type SingletonJob } from '../../common/domain/singleton-jobs';

export function isJobKey(key: string): boolean {
  return key.startsWith('job:');
}
