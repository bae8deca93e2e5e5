import type { AlarmStore, AlarmWrite, JournalQuery, LoadedAlarmState } from '../alarm.store';
import type { AlarmRecord } from '../domain/alarm.types';
import type { KpiRaise } from '../domain/alarm-kpi';
import { GENESIS_HASH, type JournalEntry } from '../domain/journal-chain';

/**
 * The alarm store in memory, with the SQL repository's semantics (atomic batches, idempotent journal rows, seq guard
 * on alarm rows). `failNext(n)` / `down` simulate a database outage; `gate` holds `loadState` until released.
 */
export class InMemoryAlarmStore implements AlarmStore {
  readonly rows: JournalEntry[] = [];
  readonly alarms = new Map<string, AlarmRecord>();
  down = false;
  persistCalls = 0;
  private failures = 0;
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;
  private hung: Promise<void> | undefined;
  private openHang: (() => void) | undefined;

  failNext(n: number): void {
    this.failures = n;
  }

  holdLoad(): void {
    this.gate = new Promise((r) => (this.openGate = r));
  }

  releaseLoad(): void {
    this.openGate?.();
    this.gate = undefined;
  }

  private check(): void {
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('Connection terminated unexpectedly');
    }
  }

  async loadState(): Promise<LoadedAlarmState> {
    if (this.gate) await this.gate;
    this.check();
    const last = this.rows[this.rows.length - 1];
    return {
      alarms: [...this.alarms.values()].map((a) => structuredClone(a)),
      lastSeq: last?.seq ?? 0,
      lastHash: last?.hash ?? GENESIS_HASH,
    };
  }

  /** A database that stops answering: persist calls neither resolve nor reject until `unhang()`. */
  hang(): void {
    this.hung ??= new Promise((r) => (this.openHang = r));
  }

  unhang(): void {
    this.openHang?.();
    this.hung = undefined;
  }

  /** A copy of what the database holds now (the state a restarted server finds). */
  snapshot(): InMemoryAlarmStore {
    const copy = new InMemoryAlarmStore();
    copy.rows.push(...this.rows.map((r) => structuredClone(r)));
    for (const [id, a] of this.alarms) copy.alarms.set(id, structuredClone(a));
    return copy;
  }

  async persist(batch: readonly AlarmWrite[]): Promise<void> {
    this.persistCalls += 1;
    if (this.hung) await this.hung;
    this.check();
    for (const w of batch) {
      const existing = this.rows.find((r) => r.seq === w.entry.seq);
      if (existing && existing.hash !== w.entry.hash) throw new Error(`seq ${w.entry.seq} conflict`);
    }
    for (const w of batch) {
      if (!this.rows.some((r) => r.seq === w.entry.seq)) this.rows.push(structuredClone(w.entry));
      const cur = this.alarms.get(w.alarm.id);
      if (!cur || cur.seq < w.alarm.seq) this.alarms.set(w.alarm.id, structuredClone(w.alarm));
    }
    this.rows.sort((a, b) => a.seq - b.seq);
  }

  async journal(q: JournalQuery): Promise<JournalEntry[]> {
    this.check();
    return this.rows
      .filter(
        (r) =>
          (q.afterSeq === undefined || r.seq > q.afterSeq) &&
          (q.from === undefined || r.at >= q.from) &&
          (q.to === undefined || r.at < q.to) &&
          (q.siteIds === undefined || q.siteIds.includes(r.siteId)) &&
          (q.alarmId === undefined || r.alarmId === q.alarmId),
      )
      .slice(0, q.limit)
      .map((r) => structuredClone(r));
  }

  async raises(q: { from: number; to: number; siteIds?: readonly string[] }): Promise<KpiRaise[]> {
    this.check();
    return this.rows
      .filter((r) => r.event === 'raised' && !['shelved', 'suppressed', 'out_of_service'].includes(r.toState))
      .filter(
        (r) => r.at >= q.from && r.at < q.to && (q.siteIds === undefined || q.siteIds.includes(r.siteId)),
      )
      .map((r) => ({
        alarmId: r.alarmId,
        siteId: r.siteId,
        sourceId: r.snapshot.sourceId,
        ruleId: r.snapshot.ruleId,
        ...(r.snapshot.deviceId !== undefined ? { deviceId: r.snapshot.deviceId } : {}),
        condition: r.snapshot.condition,
        priority: r.snapshot.priority,
        at: r.at,
      }));
  }
}
