/** Minimal Prometheus text-format reading for the bench: samples, histograms and quantiles from bucket deltas. */

export type Samples = ReadonlyMap<string, number>;
export type Histogram = { buckets: Array<[number, number]>; sum: number; count: number };

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/;

/** Parses exposition text into `name{labels}` → value (labels kept exactly as written, sorted by the exporter). */
export function parsePrometheus(text: string): Samples {
  const out = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    out.set(`${m[1]}${m[2] ?? ''}`, value);
  }
  return out;
}

/** A sample's value; a counter that was never exported reads as undefined, not 0. */
export function sample(
  samples: Samples,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const keys = Object.keys(labels);
  if (keys.length === 0) return samples.get(name);
  for (const [k, v] of samples) {
    if (!k.startsWith(`${name}{`)) continue;
    if (keys.every((l) => k.includes(`${l}="${labels[l]}"`))) return v;
  }
  return undefined;
}

/** Reads `<name>_bucket{le=…}`, `_sum`, `_count` (an unlabelled histogram). */
export function histogram(samples: Samples, name: string): Histogram | undefined {
  const buckets: Array<[number, number]> = [];
  const re = new RegExp(`^${name}_bucket\\{(?:.*,)?le="([^"]+)"`);
  for (const [k, v] of samples) {
    const m = re.exec(k);
    if (m) buckets.push([m[1] === '+Inf' ? Infinity : Number(m[1]), v]);
  }
  const count = samples.get(`${name}_count`);
  if (buckets.length === 0 || count === undefined) return undefined;
  buckets.sort((a, b) => a[0] - b[0]);
  return { buckets, sum: samples.get(`${name}_sum`) ?? 0, count };
}

/** after − before, bucket by bucket (both cumulative). */
export function histogramDelta(before: Histogram | undefined, after: Histogram): Histogram {
  if (!before) return after;
  const prev = new Map(before.buckets);
  return {
    buckets: after.buckets.map(([le, c]) => [le, c - (prev.get(le) ?? 0)]),
    sum: after.sum - before.sum,
    count: after.count - before.count,
  };
}

/**
 * The q-quantile from cumulative buckets, interpolated linearly inside the bucket (as PromQL histogram_quantile).
 * `overflow` is true when it lies in the +Inf bucket: the value is then the largest finite bound, a lower bound.
 */
export function quantile(h: Histogram, q: number): { value: number; overflow: boolean } | null {
  const total = h.buckets.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of h.buckets) {
    if (count >= rank) {
      if (le === Infinity) return { value: prevLe, overflow: true };
      const inBucket = count - prevCount;
      const frac = inBucket > 0 ? (rank - prevCount) / inBucket : 1;
      return { value: prevLe + (le - prevLe) * frac, overflow: false };
    }
    prevLe = le;
    prevCount = count;
  }
  return { value: prevLe, overflow: true };
}
