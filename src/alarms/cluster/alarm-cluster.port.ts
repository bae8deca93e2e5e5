import type { SiteOwnership } from '../../common/site-ownership';
import type { AlarmRecord } from '../domain/alarm.types';
import type { SiteJournalWriter } from './cluster-journal.store';
import type { SiteRules } from './cluster-sites';

/**
 * What the alarm service needs to follow site ownership on a cluster node (docs/adr/0025-cluster-alarm-state.md).
 * Provided as `null` (or an ownership that is not clustered) on a single node, which then runs exactly as before.
 */
export type AlarmClusterPort = {
  readonly ownership: SiteOwnership;
  /** The fenced per-site journal writer (SiteJournalRepository). */
  readonly siteJournal: SiteJournalWriter;
  /** The site's alarms as the journal left them. */
  loadSite(siteId: string): Promise<AlarmRecord[]>;
  /** The rule engine's per-site state. */
  readonly rules?: SiteRules;
};

export const ALARM_CLUSTER = Symbol('ALARM_CLUSTER');
