/** The alarm module's persistence port: the SQL repository implements it, unit tests fake it. */
import type { AlarmRecord } from './domain/alarm.types';
import type { KpiRaise } from './domain/alarm-kpi';
import type { JournalEntry } from './domain/journal-chain';

/** One alarm event to persist: its journal row and the alarm's state after it. */
export type AlarmWrite = { readonly entry: JournalEntry; readonly alarm: AlarmRecord };

export type LoadedAlarmState = {
  readonly alarms: readonly AlarmRecord[];
  /** Last journal row (seq 0 and the genesis hash when the journal is empty). */
  readonly lastSeq: number;
  readonly lastHash: string;
};

export type JournalQuery = {
  readonly from?: number;
  readonly to?: number;
  /** Undefined: every site. */
  readonly siteIds?: readonly string[];
  readonly alarmId?: string;
  /** Only rows with seq > afterSeq (ascending order). */
  readonly afterSeq?: number;
  readonly limit: number;
};

export type AlarmStore = {
  loadState(): Promise<LoadedAlarmState>;
  /** Writes the events in order, all or nothing (one transaction). Idempotent for rows already written with the same hash. */
  persist(batch: readonly AlarmWrite[]): Promise<void>;
  /** Journal rows in ascending seq order. */
  journal(q: JournalQuery): Promise<JournalEntry[]>;
  /** `raised` events in [from, to) for KPIs. */
  raises(q: { from: number; to: number; siteIds?: readonly string[] }): Promise<KpiRaise[]>;
};

export const ALARM_STORE = Symbol('ALARM_STORE');
