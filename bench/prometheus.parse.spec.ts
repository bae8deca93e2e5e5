import { histogram, histogramDelta, parsePrometheus, quantile, sample } from './prometheus.parse';

const TEXT = `# HELP hazwatch_storage_rows_written_total Telemetry rows committed
# TYPE hazwatch_storage_rows_written_total counter
hazwatch_storage_rows_written_total 2000
hazwatch_ingest_messages_total{result="accepted"} 1000
hazwatch_ingest_messages_total{result="rejected"} 3
hazwatch_ingest_commit_lag_seconds_bucket{le="0.01"} 100
hazwatch_ingest_commit_lag_seconds_bucket{le="0.1"} 900
hazwatch_ingest_commit_lag_seconds_bucket{le="1"} 1000
hazwatch_ingest_commit_lag_seconds_bucket{le="+Inf"} 1000
hazwatch_ingest_commit_lag_seconds_sum 50.5
hazwatch_ingest_commit_lag_seconds_count 1000
`;

describe('prometheus parsing', () => {
  const s = parsePrometheus(TEXT);

  it('should read plain and labelled samples, and undefined for a missing one', () => {
    expect(sample(s, 'hazwatch_storage_rows_written_total')).toBe(2000);
    expect(sample(s, 'hazwatch_ingest_messages_total', { result: 'rejected' })).toBe(3);
    expect(sample(s, 'hazwatch_nope_total')).toBeUndefined();
  });

  it('should read a histogram with its buckets in order', () => {
    expect(histogram(s, 'hazwatch_ingest_commit_lag_seconds')).toEqual({
      buckets: [
        [0.01, 100],
        [0.1, 900],
        [1, 1000],
        [Infinity, 1000],
      ],
      sum: 50.5,
      count: 1000,
    });
    expect(histogram(s, 'hazwatch_missing_seconds')).toBeUndefined();
  });

  it('should interpolate quantiles inside buckets like histogram_quantile', () => {
    const h = histogram(s, 'hazwatch_ingest_commit_lag_seconds')!;
    // rank 500 of 1000: bucket (0.01, 0.1] holds ranks 100..900 → 0.01 + 0.09 × 400/800
    expect(quantile(h, 0.5)!.value).toBeCloseTo(0.055, 6);
    expect(quantile(h, 0.99)).toEqual({ value: expect.closeTo(0.1 + 0.9 * 0.9, 6), overflow: false });
  });

  it('should flag a quantile that lies in the +Inf bucket', () => {
    const h = {
      buckets: [
        [0.1, 10],
        [1, 10],
        [Infinity, 100],
      ] as Array<[number, number]>,
      sum: 0,
      count: 100,
    };
    expect(quantile(h, 0.99)).toEqual({ value: 1, overflow: true });
  });

  it('should return null for an empty histogram', () => {
    expect(
      quantile(
        {
          buckets: [
            [1, 0],
            [Infinity, 0],
          ],
          sum: 0,
          count: 0,
        },
        0.5,
      ),
    ).toBeNull();
  });

  it('should subtract an earlier scrape bucket by bucket', () => {
    const after = histogram(s, 'hazwatch_ingest_commit_lag_seconds')!;
    const before = {
      buckets: [
        [0.01, 100],
        [0.1, 100],
        [1, 100],
        [Infinity, 100],
      ] as Array<[number, number]>,
      sum: 0.5,
      count: 100,
    };
    expect(histogramDelta(before, after)).toEqual({
      buckets: [
        [0.01, 0],
        [0.1, 800],
        [1, 900],
        [Infinity, 900],
      ],
      sum: 50,
      count: 900,
    });
  });
});
