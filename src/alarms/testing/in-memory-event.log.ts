import type { AlarmEventLog } from '../alarm-event.log';
import type { AlarmWrite } from '../alarm.store';

/**
 * The alarm write-ahead log in memory for unit tests. The same instance handed to a second AlarmService plays the file
 * that survived a kill -9. `failAppends` makes appends throw (disk full); `appended` counts appends.
 */
export class InMemoryAlarmEventLog implements AlarmEventLog {
  readonly location = 'memory:alarm-events.wal';
  lines: string[] = [];
  failAppends = false;
  appended = 0;
  quarantined: string[] = [];

  append(w: AlarmWrite): void {
    if (this.failAppends) throw new Error('ENOSPC: no space left on device');
    this.lines.push(JSON.stringify(w));
    this.appended += 1;
  }

  /** Durable at once in memory: `done` runs before this returns (the file log's grouping is tested on the file). */
  appendGrouped(w: AlarmWrite, done: (err?: Error) => void): void {
    try {
      this.append(w);
    } catch (err) {
      return done(err instanceof Error ? err : new Error(String(err)));
    }
    done();
  }

  load(): AlarmWrite[] {
    return this.lines.map((l) => JSON.parse(l) as AlarmWrite);
  }

  seqs(): number[] {
    return this.load().map((w) => w.entry.seq);
  }

  compact(committedSeq: number): void {
    this.lines = this.lines.filter((l) => (JSON.parse(l) as AlarmWrite).entry.seq > committedSeq);
  }

  quarantine(reason: string): string {
    this.quarantined.push(reason);
    this.lines = [];
    return `${this.location}.rejected`;
  }

  close(): void {}
}
