/** Step results, the verdict per step, and the table printed at the end (pure). */

export type StepResult = {
  targetRate: number;
  seconds: number;
  /** Messages published and acknowledged by the broker (one message = one reading = two rows). */
  sent: number;
  achievedRate: number;
  publisherCpuPct: number;
  /** Share of publishing time the publisher waited on the broker (QoS 1 window full): back-pressure from broker/server. */
  publisherBlockedPct: number;
  expectedRows: number;
  /** Messages the server counted as received during the step (accepted + rejected): fewer than `sent` means the broker
   *  acknowledged messages to the publisher that it had not delivered to the server by the end of the drain. */
  receivedMessages?: number;
  /** QoS of the step's publishes (absent = 1). */
  qos?: 0 | 1;
  /** Private Mosquitto only: $SYS/broker/publish/messages/dropped over the step (null: not reported), and its log lines. */
  brokerDropped?: number | null;
  brokerDropWarnings?: number;
  storedRows: number;
  lostRows: number;
  duplicateRows: number;
  countMethod: 'sql' | 'metric';
  /** Time from the end of publishing until every row was stored (or the drain timeout). */
  drainS: number;
  drainTimedOut: boolean;
  /** Messages stored per second over publishing + drain: the rate the server actually sustained. */
  storedRate: number;
  rowsPerS: number;
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  /** True when p99 fell in the histogram's +Inf bucket (the value is then a lower bound). */
  latencyP99Overflow: boolean;
  serverCpuPct: number;
  /** Server plus its child processes (the embedded PostgreSQL when used). */
  serverTreeCpuPct: number;
  serverRssMaxMb: number;
  serverTreeRssMaxMb: number;
  machineCpuPct: number;
  /** The private Mosquitto's CPU (null when the broker is not a child of the bench). */
  brokerCpuPct?: number | null;
  /** The external PostgreSQL's process tree (null when it is not on this machine; embedded: see serverTreeCpuPct). */
  dbCpuPct?: number | null;
  maxQueueDepth: number | null;
  /** COPY batches committed during the step, and their mean size in rows (hazwatch_storage_batch_size_rows). */
  copies?: number;
  meanRowsPerCopy?: number | null;
  rejectedMessages: number;
  sustained: boolean;
  verdict: string;
};

/** Publisher rate needed for a step to count, as a fraction of its target. */
export const SUSTAIN_FRACTION = 0.95;

/** Longest drain (time to store the backlog after publishing stopped) for a step to count as kept pace with. */
export function maxDrainS(seconds: number): number {
  return Math.max(2, 0.05 * seconds);
}

/**
 * A step is sustained when no row was lost or rejected, the publisher reached 95 % of the target, and the server
 * kept pace: after publishing stopped, its backlog drained within max(2 s, 5 % of the step).
 */
export function verdict(
  s: Pick<
    StepResult,
    | 'lostRows'
    | 'duplicateRows'
    | 'drainTimedOut'
    | 'drainS'
    | 'seconds'
    | 'achievedRate'
    | 'targetRate'
    | 'rejectedMessages'
    | 'publisherBlockedPct'
  >,
): { sustained: boolean; verdict: string } {
  if (s.drainTimedOut)
    return {
      sustained: false,
      verdict: `drain timed out: ${s.lostRows} rows not stored (lost or still queued)`,
    };
  if (s.lostRows > 0) return { sustained: false, verdict: `LOSS: ${s.lostRows} rows missing` };
  if (s.rejectedMessages > 0) return { sustained: false, verdict: `${s.rejectedMessages} messages rejected` };
  if (s.achievedRate < SUSTAIN_FRACTION * s.targetRate)
    return {
      sustained: false,
      verdict:
        s.publisherBlockedPct >= 10
          ? `back-pressure: broker/server took only ${Math.round(s.achievedRate)} msg/s (publisher blocked ${Math.round(s.publisherBlockedPct)} % of the time)`
          : `publisher reached only ${Math.round(s.achievedRate)} msg/s`,
    };
  if (s.drainS > maxDrainS(s.seconds))
    return {
      sustained: false,
      verdict: `server fell behind (backlog took ${s.drainS.toFixed(1)} s to drain)`,
    };
  return {
    sustained: true,
    verdict: s.duplicateRows > 0 ? `ok (${s.duplicateRows} duplicate rows, QoS 1 redelivery)` : 'ok',
  };
}

/** The step with the highest target that was sustained with zero loss. */
export function highestSustained(steps: readonly StepResult[]): StepResult | null {
  return steps
    .filter((s) => s.sustained)
    .reduce<StepResult | null>((best, s) => (!best || s.targetRate > best.targetRate ? s : best), null);
}

/** The highest stored rate of any step with zero loss (sustained or not: a back-pressured step still shows capacity). */
export function bestZeroLossRate(steps: readonly StepResult[]): StepResult | null {
  return steps
    .filter((s) => s.lostRows === 0 && !s.drainTimedOut)
    .reduce<StepResult | null>((best, s) => (!best || s.storedRate > best.storedRate ? s : best), null);
}

const fmt = (v: number | null, digits = 0): string =>
  v === null
    ? '–'
    : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function formatTable(steps: readonly StepResult[]): string {
  const header = [
    'target msg/s',
    'sent msg/s',
    'pub CPU%',
    'pub blocked%',
    'stored msg/s',
    'rows/s',
    'sent msgs',
    'stored rows',
    'lost',
    'drain s',
    'p50 ms',
    'p99 ms',
    'srv CPU%',
    'srv RSS MB',
    'srv+db CPU%',
    'broker CPU%',
    'ext db CPU%',
    'machine CPU%',
    'verdict',
  ];
  const rows = steps.map((s) => [
    fmt(s.targetRate),
    fmt(s.achievedRate),
    fmt(s.publisherCpuPct),
    fmt(s.publisherBlockedPct),
    fmt(s.storedRate),
    fmt(s.rowsPerS),
    fmt(s.sent),
    fmt(s.storedRows),
    fmt(s.lostRows),
    fmt(s.drainS, 1),
    fmt(s.latencyP50Ms, 1),
    s.latencyP99Ms === null ? '–' : `${s.latencyP99Overflow ? '>' : ''}${fmt(s.latencyP99Ms, 1)}`,
    fmt(s.serverCpuPct),
    fmt(s.serverRssMaxMb),
    fmt(s.serverTreeCpuPct),
    fmt(s.brokerCpuPct ?? null),
    fmt(s.dbCpuPct ?? null),
    fmt(s.machineCpuPct),
    s.verdict,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
