/**
 * Pure helpers for daily telemetry partitions on plain PostgreSQL (migrations/1764000500000_telemetry-partitions.sql,
 * docs/adr/0007-telemetry-partitions.md): UTC day arithmetic, partition and index names, and the plan of one
 * maintenance round (which partitions to create, index and drop) for a clock time and the partitions that exist.
 *
 * Every identifier and bound in the SQL built here comes from a UTC day number (validated epoch ms), never from
 * input or the catalog: a name read from the catalog is only used after it parsed back to the same day.
 */

export const DAY_MS = 86_400_000;

/** The partitioned parent and the two partitions the migration creates. */
export const TELEMETRY_PARENT = 'telemetry';
export const LEGACY_PARTITION = 'telemetry_p_legacy';
export const DEFAULT_PARTITION = 'telemetry_p_default';

/** Daily partition name: telemetry_pYYYYMMDD (UTC day). */
const DAILY_NAME = /^telemetry_p(\d{4})(\d{2})(\d{2})$/;
/** Years we name partitions for (4-digit, as the name pattern). */
const MIN_DAY_MS = Date.UTC(1000, 0, 1);
const MAX_DAY_MS = Date.UTC(9999, 11, 31);

/** A daily partition: [from, to) is one whole UTC day, epoch ms. */
export type DailyPartition = { name: string; from: number; to: number };

/** What the catalog says about one existing partition of `telemetry` (see TelemetryPartitions). */
export type ExistingPartition = {
  name: string;
  /** Range bounds in epoch ms; null for MINVALUE/MAXVALUE and for the DEFAULT partition. */
  from: number | null;
  to: number | null;
  isDefault: boolean;
  /** State of `<name>_series_idx`: none, built (valid) or left invalid by an interrupted CREATE INDEX CONCURRENTLY. */
  seriesIndex: 'none' | 'valid' | 'invalid';
};

export type PartitionPlan = {
  /** Daily partitions to create (today .. today+aheadDays that no partition covers yet), oldest first. */
  create: DailyPartition[];
  /** Closed daily partitions (their day ended) without a valid series index, newest first. */
  index: Array<DailyPartition & { dropInvalidFirst: boolean }>;
  /** Daily partitions whose whole day is older than the retention cutoff, oldest first. */
  drop: DailyPartition[];
  /** Start of today (UTC) and the retention cutoff, epoch ms. */
  today: number;
  cutoff: number;
  /** True when a partition other than DEFAULT already covers today. */
  todayCovered: boolean;
};

/** Start (00:00 UTC) of the UTC day holding t. */
export function utcDayStart(t: number): number {
  return Math.floor(t / DAY_MS) * DAY_MS;
}

/** Oldest instant kept by TELEMETRY_RETENTION_DAYS at clock time now: rows before it may go. */
export function retentionCutoff(now: number, retentionDays: number): number {
  return now - retentionDays * DAY_MS;
}

function assertDayStart(dayStart: number): void {
  if (
    !Number.isInteger(dayStart) ||
    dayStart % DAY_MS !== 0 ||
    dayStart < MIN_DAY_MS ||
    dayStart > MAX_DAY_MS
  )
    throw new RangeError(`not the start of a UTC day in years 1000..9999: ${dayStart}`);
}

/** The daily partition for the UTC day starting at dayStart (throws unless it is a day start). */
export function dailyPartition(dayStart: number): DailyPartition {
  assertDayStart(dayStart);
  const ymd = new Date(dayStart).toISOString().slice(0, 10).replaceAll('-', '');
  return { name: `${TELEMETRY_PARENT}_p${ymd}`, from: dayStart, to: dayStart + DAY_MS };
}

/** The daily partition a name stands for, or undefined (legacy, default, anything else, impossible dates). */
export function parseDailyPartition(name: string): DailyPartition | undefined {
  const m = DAILY_NAME.exec(name);
  if (!m) return undefined;
  const day = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (day < MIN_DAY_MS || day > MAX_DAY_MS) return undefined;
  const p = dailyPartition(day);
  return p.name === name ? p : undefined; // 20261332 would normalise to another day: refuse it
}

/** Name of the series btree of a daily partition. */
export function seriesIndexName(p: DailyPartition): string {
  return `${p.name}_series_idx`;
}

/** True when the range [from, to) of an existing (non-default) partition intersects the day [a, b). */
function overlaps(e: ExistingPartition, a: number, b: number): boolean {
  if (e.isDefault) return false;
  return (e.from === null || e.from < b) && (e.to === null || e.to > a);
}

/**
 * One round's plan at clock time `now`:
 * - create the daily partitions of today .. today+aheadDays that do not exist and whose day no other partition
 *   (the legacy one, on migration day) covers;
 * - index the closed daily partitions (day ended before today) still inside retention that lack a valid series
 *   index, newest first (yesterday serves most history reads);
 * - drop the daily partitions whose whole day ended at or before the retention cutoff.
 * Only partitions whose name parses as a daily partition are ever indexed or dropped: never legacy or default.
 */
export function planPartitions(
  now: number,
  retentionDays: number,
  existing: readonly ExistingPartition[],
  aheadDays = 2,
): PartitionPlan {
  const today = utcDayStart(now);
  const cutoff = retentionCutoff(now, retentionDays);
  const names = new Set(existing.map((e) => e.name));

  const create: DailyPartition[] = [];
  for (let d = 0; d <= aheadDays; d++) {
    const p = dailyPartition(today + d * DAY_MS);
    if (names.has(p.name) || existing.some((e) => overlaps(e, p.from, p.to))) continue;
    create.push(p);
  }

  const daily = existing
    .map((e) => ({ e, p: parseDailyPartition(e.name) }))
    .filter((x): x is { e: ExistingPartition; p: DailyPartition } => x.p !== undefined);
  const drop = daily
    .filter(({ p }) => p.to <= cutoff)
    .map(({ p }) => p)
    .sort((a, b) => a.from - b.from);
  const index = daily
    .filter(({ e, p }) => p.to <= today && p.to > cutoff && e.seriesIndex !== 'valid')
    .map(({ e, p }) => ({ ...p, dropInvalidFirst: e.seriesIndex === 'invalid' }))
    .sort((a, b) => b.from - a.from);

  return {
    create,
    index,
    drop,
    today,
    cutoff,
    todayCovered: existing.some((e) => overlaps(e, today, today + DAY_MS)),
  };
}

/** `'2026-11-25T00:00:00.000Z'`: a timestamptz literal from validated epoch ms (never from input). */
function tsLiteral(t: number): string {
  return `'${new Date(t).toISOString()}'::timestamptz`;
}

/**
 * SQL of one partition creation, run in one transaction (see TelemetryPartitions): the new table is made standalone
 * (same columns, defaults and CHECK constraints), rows of its day that waited in DEFAULT are moved into it, then it is
 * attached. ATTACH takes only SHARE UPDATE EXCLUSIVE on the parent, so COPYs into other partitions go on meanwhile
 * (CREATE TABLE ... PARTITION OF would take ACCESS EXCLUSIVE on the parent). The move statement's $1/$2 are the
 * day's bounds.
 */
export function createPartitionSql(p: DailyPartition): {
  create: string;
  moveFromDefault: string;
  attach: string;
} {
  const q = dailyPartition(p.from); // re-derive: the name and bounds always come from a validated day
  return {
    create: `CREATE TABLE ${q.name} (LIKE ${TELEMETRY_PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`,
    moveFromDefault: `
      WITH moved AS (
        DELETE FROM ${DEFAULT_PARTITION} WHERE time >= $1 AND time < $2
        RETURNING time, site_id, device_id, channel, value, text_value, quality, seq
      )
      INSERT INTO ${q.name} (time, site_id, device_id, channel, value, text_value, quality, seq)
        SELECT time, site_id, device_id, channel, value, text_value, quality, seq FROM moved`,
    attach:
      `ALTER TABLE ${TELEMETRY_PARENT} ATTACH PARTITION ${q.name} ` +
      `FOR VALUES FROM (${tsLiteral(q.from)}) TO (${tsLiteral(q.to)})`,
  };
}

/** Series btree of a closed day; CONCURRENTLY, so it must run outside a transaction. */
export function createSeriesIndexSql(p: DailyPartition): string {
  const q = dailyPartition(p.from);
  return `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${seriesIndexName(q)} ON ${q.name} (site_id, device_id, channel, time DESC)`;
}

/** Removes an invalid series index left by an interrupted build, so it can be built again. */
export function dropSeriesIndexSql(p: DailyPartition): string {
  return `DROP INDEX CONCURRENTLY IF EXISTS ${seriesIndexName(dailyPartition(p.from))}`;
}

/** Drops an expired daily partition (its rows are all older than the retention cutoff). */
export function dropPartitionSql(p: DailyPartition): string {
  return `DROP TABLE IF EXISTS ${dailyPartition(p.from).name}`;
}
