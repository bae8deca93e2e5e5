/**
 * Alarm latency (MQTT publish → WebSocket receipt of the alarm event), pure parts: which probe publish an `alarm`
 * frame answers, the latency samples over every (event, client) pair, percentiles and the printed table.
 */

/** One probe publish the bench expects an alarm event for. `ts` is the reading's event time (epoch ms, unique). */
export type ProbePublish = { kind: 'raised' | 'cleared'; ts: number; publishedAtMs: number };

/** What the matcher needs of an `alarm` frame's data (docs/contract.md §4 snapshot + event). */
export type AlarmFrameData = {
  event?: unknown;
  siteId?: unknown;
  deviceId?: unknown;
  condition?: unknown;
  raisedAt?: unknown;
  clearedAt?: unknown;
  seq?: unknown;
};

export type ProbeTarget = { siteId: string; deviceId: string; condition: string };

/**
 * The key of the probe publish an alarm frame answers, or null for any other alarm event. With zero on/off delay
 * the alarm's `raisedAt` (`clearedAt`) is the event time of the reading that raised (cleared) it, which the bench
 * makes unique per probe publish, so `raised|<ts>` / `cleared|<ts>` identifies the publish exactly.
 */
export function probeKey(data: AlarmFrameData, target: ProbeTarget): string | null {
  if (
    data.siteId !== target.siteId ||
    data.deviceId !== target.deviceId ||
    data.condition !== target.condition
  )
    return null;
  const kind = data.event === 'raised' || data.event === 'cleared' ? data.event : null;
  const at = kind === 'raised' ? data.raisedAt : kind === 'cleared' ? data.clearedAt : undefined;
  if (kind === null || typeof at !== 'string') return null;
  const ts = Date.parse(at);
  return Number.isFinite(ts) ? publishKey({ kind, ts }) : null;
}

export const publishKey = (p: Pick<ProbePublish, 'kind' | 'ts'>): string => `${p.kind}|${p.ts}`;

/** One receipt of a probe alarm event by one client (bench clock, performance.now()). */
export type Receipt = { client: number; key: string; receivedAtMs: number };

/** Nearest-rank percentile (p in 0..1) of ascending-sorted values; null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  if (p <= 0) return sorted[0]!;
  const rank = Math.ceil(p * sorted.length);
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

export type LatencyStats = {
  count: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  minMs: number | null;
  meanMs: number | null;
};

export function stats(values: readonly number[]): LatencyStats {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.length ? sorted[sorted.length - 1]! : null,
    minMs: sorted.length ? sorted[0]! : null,
    meanMs: sorted.length ? sorted.reduce((s, v) => s + v, 0) / sorted.length : null,
  };
}

export type AlarmLatencyResult = {
  /** Probe publishes (alarm events expected) and connected clients. */
  events: number;
  clients: number;
  /** events × clients. */
  expectedPairs: number;
  /** (event, client) pairs received once. */
  receivedPairs: number;
  /** Expected pairs never received. */
  missingPairs: number;
  /** The same (event, client) received more than once. */
  duplicatePairs: number;
  /** Probe alarm frames that matched no publish of this run (e.g. a stale or replayed event). */
  unmatchedFrames: number;
  /** Over every (event, client) pair. */
  all: LatencyStats;
  raised: LatencyStats;
  cleared: LatencyStats;
  /** Per event, the earliest receipt (server processing without most of the fan-out) and the latest (the 100th client). */
  firstClient: LatencyStats;
  lastClient: LatencyStats;
};

/** Pairs every receipt with its publish: latency = receipt − publish, per (event, client), first receipt counted. */
export function matchReceipts(
  publishes: readonly ProbePublish[],
  receipts: readonly Receipt[],
  clients: number,
): AlarmLatencyResult {
  const byKey = new Map(publishes.map((p) => [publishKey(p), p]));
  const seen = new Map<string, number>(); // `${key}#${client}` → latency
  let duplicates = 0;
  let unmatched = 0;
  const perEvent = new Map<string, number[]>();
  for (const r of receipts) {
    const p = byKey.get(r.key);
    if (!p) {
      unmatched++;
      continue;
    }
    const pair = `${r.key}#${r.client}`;
    if (seen.has(pair)) {
      duplicates++;
      continue;
    }
    const ms = r.receivedAtMs - p.publishedAtMs;
    seen.set(pair, ms);
    const list = perEvent.get(r.key);
    if (list) list.push(ms);
    else perEvent.set(r.key, [ms]);
  }
  const all: number[] = [];
  const raised: number[] = [];
  const cleared: number[] = [];
  const first: number[] = [];
  const last: number[] = [];
  for (const p of publishes) {
    const list = perEvent.get(publishKey(p));
    if (!list) continue;
    all.push(...list);
    (p.kind === 'raised' ? raised : cleared).push(...list);
    first.push(Math.min(...list));
    last.push(Math.max(...list));
  }
  const expected = publishes.length * clients;
  return {
    events: publishes.length,
    clients,
    expectedPairs: expected,
    receivedPairs: seen.size,
    missingPairs: expected - seen.size,
    duplicatePairs: duplicates,
    unmatchedFrames: unmatched,
    all: stats(all),
    raised: stats(raised),
    cleared: stats(cleared),
    firstClient: stats(first),
    lastClient: stats(last),
  };
}

/** p99 target for MQTT publish → /ws alarm receipt (bench/README.md, step 7). */
export const ALARM_P99_TARGET_MS = 50;

const ms = (v: number | null): string => (v === null ? '–' : v.toFixed(1));

export function formatAlarmTable(
  r: AlarmLatencyResult,
  background: { targetRate: number; achievedRate: number },
): string {
  const header = ['sample', 'pairs', 'p50 ms', 'p99 ms', 'max ms', 'min ms', 'mean ms'];
  const row = (name: string, s: LatencyStats): string[] => [
    name,
    String(s.count),
    ms(s.p50Ms),
    ms(s.p99Ms),
    ms(s.maxMs),
    ms(s.minMs),
    ms(s.meanMs),
  ];
  const rows = [
    row('all (event, client) pairs', r.all),
    row('  raised', r.raised),
    row('  cleared', r.cleared),
    row('first client per event', r.firstClient),
    row('last client per event', r.lastClient),
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const p99 = r.all.p99Ms;
  const verdict =
    r.missingPairs > 0
      ? `MISSING: ${r.missingPairs} of ${r.expectedPairs} (event, client) pairs never arrived`
      : p99 !== null && p99 < ALARM_P99_TARGET_MS
        ? `ok: p99 ${ms(p99)} ms < ${ALARM_P99_TARGET_MS} ms target`
        : `over target: p99 ${ms(p99)} ms ≥ ${ALARM_P99_TARGET_MS} ms`;
  return [
    `alarm latency, MQTT publish → WebSocket receipt: ${r.events} events × ${r.clients} clients = ${r.expectedPairs} pairs; received ${r.receivedPairs}, missing ${r.missingPairs}, duplicates ${r.duplicatePairs}, unmatched ${r.unmatchedFrames}`,
    `background load: target ${Math.round(background.targetRate).toLocaleString('en-US')} msg/s, achieved ${Math.round(background.achievedRate).toLocaleString('en-US')} msg/s`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    verdict,
  ].join('\n');
}

export function alarmVerdictOk(r: AlarmLatencyResult): boolean {
  return r.missingPairs === 0 && r.all.p99Ms !== null && r.all.p99Ms < ALARM_P99_TARGET_MS;
}
