import { planChunkIndexes, type TelemetryChunkRow } from './timescale-chunk-indexes';

const H = 3_600_000;
const NOW = Date.UTC(2040, 2, 10, 12);

const chunk = (n: number, endOffsetH: number, extra: Partial<TelemetryChunkRow> = {}): TelemetryChunkRow => ({
  chunk: `_timescaledb_internal._hyper_1_${n}_chunk`,
  series_index: `_timescaledb_internal._hyper_1_${n}_chunk_series_idx`,
  series_index_name: `_hyper_1_${n}_chunk_series_idx`,
  range_end: new Date(NOW + endOffsetH * H),
  is_compressed: false,
  series_valid: null,
  ...extra,
});

describe('planChunkIndexes (TimescaleDB closed chunks)', () => {
  it('should index closed, uncompressed chunks without a valid series index, newest first; never the open chunk', () => {
    const plan = planChunkIndexes(
      [
        chunk(1, -48),
        chunk(2, -24),
        chunk(3, 12), // open: its range ends in the future
        chunk(4, -72, { is_compressed: true }),
        chunk(5, -96, { series_valid: true }),
        chunk(6, 0), // ended exactly now: closed
      ],
      NOW,
    );
    expect(plan.map((t) => t.chunk)).toEqual([
      '_timescaledb_internal._hyper_1_6_chunk',
      '_timescaledb_internal._hyper_1_2_chunk',
      '_timescaledb_internal._hyper_1_1_chunk',
    ]);
    expect(plan[1]).toEqual({
      chunk: '_timescaledb_internal._hyper_1_2_chunk',
      index: '_timescaledb_internal._hyper_1_2_chunk_series_idx',
      create:
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS _hyper_1_2_chunk_series_idx ON _timescaledb_internal._hyper_1_2_chunk (site_id, device_id, channel, time DESC)',
    });
  });

  it('should drop an invalid index left by an interrupted build before building it again', () => {
    const [t] = planChunkIndexes([chunk(7, -1, { series_valid: false })], NOW);
    expect(t!.dropInvalid).toBe(
      'DROP INDEX CONCURRENTLY IF EXISTS _timescaledb_internal._hyper_1_7_chunk_series_idx',
    );
  });

  it('should skip a chunk without an end (open-ended range)', () => {
    expect(planChunkIndexes([chunk(8, -1, { range_end: null })], NOW)).toEqual([]);
  });
});
