import {
  DAY_MS,
  DEFAULT_PARTITION,
  LEGACY_PARTITION,
  createPartitionSql,
  createSeriesIndexSql,
  dailyPartition,
  dropPartitionSql,
  dropSeriesIndexSql,
  parseDailyPartition,
  planPartitions,
  retentionCutoff,
  utcDayStart,
  type ExistingPartition,
} from './telemetry-partitions';

const D = (y: number, m: number, d: number, h = 0, min = 0, s = 0, ms = 0): number =>
  Date.UTC(y, m - 1, d, h, min, s, ms);

function daily(
  y: number,
  m: number,
  d: number,
  seriesIndex: ExistingPartition['seriesIndex'] = 'none',
): ExistingPartition {
  const p = dailyPartition(D(y, m, d));
  return { name: p.name, from: p.from, to: p.to, isDefault: false, seriesIndex };
}
const legacy = (to: number): ExistingPartition => ({
  name: LEGACY_PARTITION,
  from: null,
  to,
  isDefault: false,
  seriesIndex: 'none',
});
const dflt: ExistingPartition = {
  name: DEFAULT_PARTITION,
  from: null,
  to: null,
  isDefault: true,
  seriesIndex: 'none',
};

describe('telemetry partition helpers', () => {
  describe('UTC days and names', () => {
    it('should put the last millisecond before midnight in the old day and midnight in the new one', () => {
      expect(utcDayStart(D(2026, 11, 25, 23, 59, 59, 999))).toBe(D(2026, 11, 25));
      expect(utcDayStart(D(2026, 11, 26))).toBe(D(2026, 11, 26));
      expect(utcDayStart(D(1969, 12, 31, 12))).toBe(D(1969, 12, 31)); // negative epoch floors, not truncates
    });

    it('should name a day telemetry_pYYYYMMDD in UTC with [midnight, next midnight) bounds', () => {
      expect(dailyPartition(D(2026, 3, 1))).toEqual({
        name: 'telemetry_p20260301',
        from: D(2026, 3, 1),
        to: D(2026, 3, 2),
      });
      // 2024 leap day, and the year boundary
      expect(dailyPartition(D(2024, 2, 29)).name).toBe('telemetry_p20240229');
      expect(dailyPartition(D(2026, 12, 31)).to).toBe(D(2027, 1, 1));
    });

    it('should refuse a time that is not the start of a UTC day or is outside 4-digit years', () => {
      expect(() => dailyPartition(D(2026, 3, 1, 8))).toThrow(RangeError);
      expect(() => dailyPartition(Number.NaN)).toThrow(RangeError);
      expect(() => dailyPartition(D(10000, 1, 1))).toThrow(RangeError);
    });

    it('should parse only well-formed daily names back to the same day', () => {
      expect(parseDailyPartition('telemetry_p20261125')).toEqual(dailyPartition(D(2026, 11, 25)));
      for (const bad of [
        LEGACY_PARTITION,
        DEFAULT_PARTITION,
        'telemetry_p20261332', // month 13
        'telemetry_p20230229', // not a leap year
        'telemetry_p2026112',
        'telemetry_p20261125x',
        'telemetry_p20261125; DROP TABLE alarm',
        'xtelemetry_p20261125',
      ])
        expect(parseDailyPartition(bad)).toBeUndefined();
    });

    it('should compute the retention cutoff as now minus whole days', () => {
      expect(retentionCutoff(D(2026, 11, 25, 10), 90)).toBe(D(2026, 8, 27, 10));
    });
  });

  describe('planPartitions', () => {
    const now = D(2040, 3, 10, 12);

    it('should create today and the next two days when only legacy (older) and default exist', () => {
      const plan = planPartitions(now, 90, [legacy(D(2026, 11, 26)), dflt]);
      expect(plan.create.map((p) => p.name)).toEqual([
        'telemetry_p20400310',
        'telemetry_p20400311',
        'telemetry_p20400312',
      ]);
      expect(plan.todayCovered).toBe(false);
      expect(plan.index).toEqual([]);
      expect(plan.drop).toEqual([]);
    });

    it('should skip days the legacy partition still covers on migration day', () => {
      // migrated on 2026-11-25: legacy covers up to the start of 2026-11-26
      const plan = planPartitions(D(2026, 11, 25, 22), 90, [legacy(D(2026, 11, 26)), dflt]);
      expect(plan.create.map((p) => p.name)).toEqual(['telemetry_p20261126', 'telemetry_p20261127']);
      expect(plan.todayCovered).toBe(true);
    });

    it('should create nothing when the partitions exist, and the day after the next one at midnight', () => {
      const existing = [dflt, daily(2040, 3, 10), daily(2040, 3, 11), daily(2040, 3, 12)];
      expect(planPartitions(D(2040, 3, 10, 23, 59, 59, 999), 90, existing).create).toEqual([]);
      const atMidnight = planPartitions(D(2040, 3, 11), 90, existing);
      expect(atMidnight.create.map((p) => p.name)).toEqual(['telemetry_p20400313']);
      expect(atMidnight.todayCovered).toBe(true);
    });

    it('should index a day only once it has ended, newest first, and rebuild an invalid index', () => {
      const existing = [
        daily(2040, 3, 8),
        daily(2040, 3, 9, 'invalid'),
        daily(2040, 3, 10),
        daily(2040, 3, 11),
        daily(2040, 3, 7, 'valid'),
      ];
      const before = planPartitions(D(2040, 3, 10, 23, 59, 59, 999), 90, existing);
      expect(before.index.map((p) => [p.name, p.dropInvalidFirst])).toEqual([
        ['telemetry_p20400309', true],
        ['telemetry_p20400308', false],
      ]);
      const after = planPartitions(D(2040, 3, 11), 90, existing);
      expect(after.index.map((p) => p.name)).toEqual([
        'telemetry_p20400310',
        'telemetry_p20400309',
        'telemetry_p20400308',
      ]);
    });

    it('should drop a day only once its whole day is older than the cutoff, and not index it', () => {
      // retention 2 days: at 2040-03-10 12:00 the cutoff is 2040-03-08 12:00
      const existing = [daily(2040, 3, 7), daily(2040, 3, 8), daily(2040, 3, 9, 'valid'), daily(2040, 3, 10)];
      const plan = planPartitions(now, 2, existing);
      expect(plan.cutoff).toBe(D(2040, 3, 8, 12));
      expect(plan.drop.map((p) => p.name)).toEqual(['telemetry_p20400307']);
      // 03-08 straddles the cutoff: kept (rows up to one day past retention), and indexed meanwhile
      expect(plan.index.map((p) => p.name)).toEqual(['telemetry_p20400308']);
    });

    it('should drop a day from the moment the cutoff reaches its end, not a millisecond before', () => {
      // retention 2 days: 2040-03-08 ends at 03-09 00:00, which is the cutoff at 03-11 00:00
      const existing = [daily(2040, 3, 8)];
      expect(planPartitions(D(2040, 3, 11) - 1, 2, existing).drop).toEqual([]);
      expect(planPartitions(D(2040, 3, 11), 2, existing).drop.map((p) => p.name)).toEqual([
        'telemetry_p20400308',
      ]);
    });

    it('should never index or drop the legacy or default partitions, however old', () => {
      const plan = planPartitions(now, 1, [legacy(D(2026, 11, 26)), dflt]);
      expect(plan.drop).toEqual([]);
      expect(plan.index).toEqual([]);
    });

    it('should not count the default partition as covering today', () => {
      expect(planPartitions(now, 90, [dflt]).todayCovered).toBe(false);
    });
  });

  describe('SQL', () => {
    const p = dailyPartition(D(2040, 3, 10));

    it('should build DDL only from the validated day', () => {
      const sql = createPartitionSql(p);
      expect(sql.create).toBe(
        'CREATE TABLE telemetry_p20400310 (LIKE telemetry INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
      );
      expect(sql.attach).toBe(
        "ALTER TABLE telemetry ATTACH PARTITION telemetry_p20400310 FOR VALUES FROM ('2040-03-10T00:00:00.000Z'::timestamptz) TO ('2040-03-11T00:00:00.000Z'::timestamptz)",
      );
      expect(sql.moveFromDefault).toContain('DELETE FROM telemetry_p_default WHERE time >= $1 AND time < $2');
      expect(createSeriesIndexSql(p)).toBe(
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS telemetry_p20400310_series_idx ON telemetry_p20400310 (site_id, device_id, channel, time DESC)',
      );
      expect(dropSeriesIndexSql(p)).toBe('DROP INDEX CONCURRENTLY IF EXISTS telemetry_p20400310_series_idx');
      expect(dropPartitionSql(p)).toBe('DROP TABLE IF EXISTS telemetry_p20400310');
    });

    it('should derive the name from the bounds, not from a name passed in', () => {
      const forged = { name: 'telemetry; DROP TABLE alarm', from: p.from, to: p.to };
      expect(dropPartitionSql(forged)).toBe('DROP TABLE IF EXISTS telemetry_p20400310');
      expect(() => dropPartitionSql({ ...p, from: p.from + 1 })).toThrow(RangeError);
    });

    it('should use whole-day bounds that meet at midnight', () => {
      expect(dailyPartition(D(2040, 3, 10)).to).toBe(dailyPartition(D(2040, 3, 11)).from);
      expect(D(2040, 3, 11) - D(2040, 3, 10)).toBe(DAY_MS);
    });
  });
});
