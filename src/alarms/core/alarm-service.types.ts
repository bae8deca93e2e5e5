import type { Priority } from '../../common/types';
import { DEFAULT_WRITE_QUEUE_OPTIONS, type WriteQueueOptions } from '../alarm-write.queue';
import type { AlarmEventDto, AlarmSnapshot, AlarmState } from '../domain/alarm.types';
import type { ConditionChange } from '../domain/condition-change';
import type { FloodStatus } from '../domain/flood.tracker';
import type { ChainBreak } from '../domain/journal-chain';

export const ALARM_CONDITIONS = Symbol('ALARM_CONDITIONS');
export const ALARM_SCHEDULER = Symbol('ALARM_SCHEDULER');
export const ALARM_SERVICE_OPTIONS = Symbol('ALARM_SERVICE_OPTIONS');
/**
 * Hands the alarms active at start-up back to the rule engine (`RulesService.seedActive`), so a condition that ends
 * after a restart is cleared instead of staying active forever.
 */
export const ALARM_CONDITION_SEED = Symbol('ALARM_CONDITION_SEED');
export type ConditionSeed = (active: ConditionChange[]) => void;

export type AlarmServiceOptions = {
  /** Period of the timer that expires shelves, re-announces alarms and re-evaluates floods. */
  readonly tickMs: number;
  /** How long an operator action waits for its journal row to commit before answering anyway (it stays queued). */
  readonly actionCommitWaitMs: number;
  /** Committed events kept in memory for fast resume (uncommitted ones are always kept). */
  readonly recentEvents: number;
  /** Most events one resume (`eventsSince`) may return. */
  readonly maxReplay: number;
  /** Longest a graceful shutdown waits for pending alarm writes. */
  readonly shutdownDrainMs: number;
  /** Cluster node: longest a site handed over waits for its committed events to reach the journal before it is dropped. */
  readonly siteReleaseWaitMs: number;
  readonly writeQueue: WriteQueueOptions;
};

export const DEFAULT_ALARM_SERVICE_OPTIONS: AlarmServiceOptions = Object.freeze({
  tickMs: 1_000,
  actionCommitWaitMs: 2_000,
  recentEvents: 10_000,
  maxReplay: 100_000,
  shutdownDrainMs: 5_000,
  siteReleaseWaitMs: 2_000,
  writeQueue: DEFAULT_WRITE_QUEUE_OPTIONS,
});

export type AlarmListFilter = {
  state?: AlarmState;
  siteId?: string;
  priority?: Priority;
  from?: number;
  to?: number;
};
export type JournalFilter = {
  from?: number;
  to?: number;
  alarmId?: string;
  afterSeq?: number;
  limit: number;
};

/** What the console banner and the flood indicator need. */
export type AlarmSystemStatus = {
  readonly ready: boolean;
  readonly storageDegraded: boolean;
  readonly pendingWrites: number;
  readonly seq: number;
  /** Every event up to this seq is committed to the journal table (later ones are durable in the write-ahead log). */
  readonly journalledSeq: number;
  readonly lastError?: string;
  /** Set while alarm events cannot be made durable in the write-ahead log (they are still announced). */
  readonly walError?: string;
  readonly floods: readonly FloodStatus[];
};

/** An alarm event as announced: `journalled` is false until its journal row is committed (docs/adr/0011-journal-before-announce.md). */
export type AnnouncedAlarmEvent = AlarmEventDto & { readonly journalled: boolean };
/** An alarm as the REST API shows it: `journalled` is false while its newest event is not yet in the journal table. */
export type AlarmView = AlarmSnapshot & { readonly journalled: boolean };

export type JournalVerification =
  | { ok: true; rowsChecked: number; lastSeq: number | null }
  | { ok: false; rowsChecked: number; firstBroken: ChainBreak };
