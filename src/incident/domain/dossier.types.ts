/**
 * The incident dossier (事故/事件报告材料, docs/incident-dossier.md): everything hazwatch recorded about one site in a
 * time window, bundled so the enterprise and its regulator can report within the hour. Pure data; times are ISO-8601.
 */
import type { CalloutView, DutyCheckView } from '../../notifications/domain/callout-views';

export type DossierSite = {
  readonly id: string;
  readonly name: string;
  readonly nameEn?: string;
  readonly jurisdiction: string;
  /** Official name (天津市滨海新区临港经济区) and GB/T 2260 code, when plant.yaml declares jurisdictions. */
  readonly jurisdictionName?: string;
  readonly adminCode?: string;
  readonly location: { readonly lat: number; readonly lon: number };
  readonly hazardSources: ReadonlyArray<{
    readonly id: string;
    readonly name: string;
    readonly filedGrade: string;
  }>;
};

/** One alarm-journal row (append-only, hash-chained) with the alarm snapshot fields a reader needs. */
export type DossierJournalEntry = {
  readonly seq: number;
  readonly at: string;
  readonly alarmId: string;
  readonly event: string;
  readonly fromState: string;
  readonly toState: string;
  readonly actor: string;
  readonly actorRole: string;
  readonly comment?: string;
  readonly sourceId: string;
  readonly deviceId?: string;
  readonly condition: string;
  readonly priority: string;
  readonly message: string;
  readonly value: string;
  readonly limit: string;
  readonly hash: string;
};

/**
 * A hidden danger (隐患) touching the window: an item of the disposal loop (`hidden_danger`) or a finding of the
 * findings workflow (`finding`, with grade, origin and deadline).
 */
export type DossierFinding = {
  readonly id: string;
  /** Absent in older dossiers: a hidden-danger item. */
  readonly kind?: 'hidden_danger' | 'finding';
  readonly alarmId?: string;
  readonly sourceId?: string;
  readonly title: string;
  readonly status: string;
  /** Findings only: major 重大 / general 一般, where it came from, the rectification deadline. */
  readonly grade?: string;
  readonly origin?: string;
  readonly deadline?: string;
  /** A converted item names its finding; a finding the item it came from. */
  readonly findingId?: string;
  readonly hiddenDangerId?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly history: ReadonlyArray<{
    readonly at: string;
    /** Finding history rows that change no state (plan, escalated, notified) carry their kind instead of `to`. */
    readonly event?: string;
    readonly from?: string;
    readonly to?: string;
    readonly actor: string;
    readonly comment?: string;
  }>;
};

/** The disposal (处置) of one alarm: the enterprise's obligation to file a record, the records and their review. */
export type DossierDisposal = {
  readonly alarmId: string;
  readonly obligation?: {
    readonly status: string;
    readonly raisedAt: string;
    readonly dueAt: string;
    /** Set when the deadline passed without a record (escalated to the district). */
    readonly overdueAt?: string;
    readonly returned: number;
    readonly closedAt?: string;
  };
  readonly records: ReadonlyArray<{
    readonly id: string;
    readonly filedAt: string;
    readonly filedBy: string;
    readonly cause: string;
    readonly actions: string;
    readonly closedBy: string;
    readonly attachments: readonly string[];
    readonly status: string;
    readonly reviewedBy?: string;
    readonly reviewedAt?: string;
    readonly reviewComment?: string;
  }>;
};

/** A responsible person (包保责任人) or the control room on duty at the incident's start, from the call-out roster. */
export type DossierOnDuty = {
  readonly role: 'control_room' | 'main' | 'technical' | 'operations' | 'duty_desk';
  readonly sourceId?: string;
  readonly name: string;
  readonly number: string;
  /** Nobody's calendar covered the time: the role's first listed holder is shown (and would have been called). */
  readonly rosterGap: boolean;
};

/** One numeric channel of one involved device, bucketed (min/avg/max per bucket). */
export type DossierSeries = {
  readonly deviceId: string;
  readonly deviceName: string;
  readonly channel: string;
  readonly unit?: string;
  readonly from: string;
  readonly to: string;
  readonly bucketSeconds: number;
  readonly points: ReadonlyArray<{
    readonly t: string;
    readonly min: number;
    readonly avg: number;
    readonly max: number;
  }>;
  /** Set points drawn as horizontal lines (gas level 1/2, analog limits). */
  readonly limits: ReadonlyArray<{ readonly label: string; readonly value: number }>;
  /** Alarm events of this device in the window (vertical marks). */
  readonly marks: ReadonlyArray<{ readonly at: string; readonly label: string }>;
};

export type Dossier = {
  readonly site: DossierSite;
  readonly from: string;
  readonly to: string;
  readonly generatedAt: string;
  readonly generatedBy: string;
  /** When the first alarm of the window was raised (the time the on-duty roster is read at); else `from`. */
  readonly incidentStart: string;
  readonly journal: readonly DossierJournalEntry[];
  /** True when the window held more journal rows than the dossier carries (narrow the window). */
  readonly journalTruncated: boolean;
  readonly callouts: readonly CalloutView[];
  readonly dutyChecks: readonly DutyCheckView[];
  /** Disposal obligations and records of the window's alarms and of records filed in the window. */
  readonly disposals: readonly DossierDisposal[];
  readonly findings: readonly DossierFinding[];
  readonly onDuty: readonly DossierOnDuty[];
  readonly telemetry: readonly DossierSeries[];
};
