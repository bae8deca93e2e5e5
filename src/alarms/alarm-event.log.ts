import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { entryFromJson } from './alarm-pending.spool';
import { recordFromJson } from './alarm.repository';
import type { AlarmWrite } from './alarm.store';

/**
 * The alarm write-ahead log (docs/adr/0011-journal-before-announce.md): every alarm event is appended here and made
 * durable (fdatasync) BEFORE it is announced on `events$` (WS, call-outs, feeds). It holds the events not yet
 * committed to the journal table; once the journal has caught up the file is emptied. At start it is replayed right
 * after the journal's tail is loaded, so an event an operator saw is never lost and its seq is never reused.
 */
export type AlarmEventLog = {
  readonly location: string;
  /** Appends one event; durable on disk when this returns. Throws when it cannot be made durable. */
  append(w: AlarmWrite): void;
  /**
   * Group commit: writes the event now and calls `done` once it is durable — after one fdatasync shared by every event
   * appended in the same synchronous run (an alarm flood of 1,000 events costs one fsync, not 1,000, and never blocks
   * the event loop for seconds). `done` callbacks run in append order, each with the error when its event could not be
   * made durable. Never throws.
   */
  appendGrouped(w: AlarmWrite, done: (err?: Error) => void): void;
  /** Every event in the log, in seq order. A torn last line (crash mid-write: never announced) is cut off. */
  load(): AlarmWrite[];
  /**
   * Everything up to `committedSeq` is in the journal: drop it. `pending` are the events still uncommitted (in order);
   * the file is rewritten with only them when it has grown past the compaction threshold.
   */
  compact(committedSeq: number, pending: readonly AlarmWrite[]): void;
  /** Moves an unusable file aside (kept for manual recovery); returns the new name. */
  quarantine(reason: string): string;
  close(): void;
};

export const ALARM_EVENT_LOG = Symbol('ALARM_EVENT_LOG');

const line = (w: AlarmWrite): string => JSON.stringify({ entry: w.entry, alarm: w.alarm }) + '\n';

/** Append-only file, one JSON line per event, opened O_APPEND; fdatasync after every append or group of appends. */
export class FileAlarmEventLog implements AlarmEventLog {
  private fd: number | undefined;
  private bytes = 0;
  private maxSeq = 0;
  /** Events of the open group, waiting for its fdatasync (with their write error, if any). */
  private group: Array<{ done: (err?: Error) => void; err?: Error }> = [];
  /** fdatasyncs done (metrics, tests). */
  syncs = 0;

  constructor(
    readonly location: string,
    /** Rewrite the file with only the uncommitted events once it is larger than this (bytes). */
    private readonly compactAboveBytes = 8 * 1024 * 1024,
  ) {}

  private open(): number {
    if (this.fd !== undefined) return this.fd;
    mkdirSync(dirname(this.location), { recursive: true });
    const created = !existsSync(this.location);
    this.fd = openSync(this.location, 'a');
    this.bytes = fstatSync(this.fd).size;
    if (created) fsyncDir(this.location);
    return this.fd;
  }

  append(w: AlarmWrite): void {
    this.flushGroup();
    this.write(w);
    fdatasyncSync(this.open());
    this.syncs++;
  }

  appendGrouped(w: AlarmWrite, done: (err?: Error) => void): void {
    let err: Error | undefined;
    try {
      this.write(w);
    } catch (e) {
      err = e instanceof Error ? e : new Error(String(e));
    }
    this.group.push(err ? { done, err } : { done });
    if (this.group.length === 1) queueMicrotask(() => this.flushGroup());
  }

  /** Ends the open group: one fdatasync, then every waiting `done` in append order. */
  private flushGroup(): void {
    if (this.group.length === 0) return;
    const group = this.group;
    this.group = [];
    let syncErr: Error | undefined;
    try {
      if (group.some((g) => !g.err)) {
        fdatasyncSync(this.open());
        this.syncs++;
      }
    } catch (e) {
      syncErr = e instanceof Error ? e : new Error(String(e));
    }
    for (const g of group) g.done(g.err ?? syncErr);
  }

  private write(w: AlarmWrite): void {
    const fd = this.open();
    const buf = Buffer.from(line(w), 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    this.bytes += buf.length;
    if (w.entry.seq > this.maxSeq) this.maxSeq = w.entry.seq;
  }

  load(): AlarmWrite[] {
    if (!existsSync(this.location)) return [];
    const raw = readFileSync(this.location);
    const lastNl = raw.lastIndexOf(0x0a);
    const complete = lastNl + 1;
    if (complete < raw.length) {
      // torn tail from a crash mid-append: that event was never fsynced, hence never announced
      const fd = openSync(this.location, 'r+');
      try {
        ftruncateSync(fd, complete);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    const lines = raw.subarray(0, complete).toString('utf8').split('\n');
    const out: AlarmWrite[] = [];
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i] ?? '';
      if (l.trim() === '') continue;
      try {
        const o = JSON.parse(l) as { entry: unknown; alarm: unknown };
        out.push({ entry: entryFromJson(o.entry), alarm: recordFromJson(o.alarm) });
      } catch (err) {
        throw new Error(
          `${this.location} line ${i + 1}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
    for (const w of out) if (w.entry.seq > this.maxSeq) this.maxSeq = w.entry.seq;
    return out;
  }

  compact(committedSeq: number, pending: readonly AlarmWrite[]): void {
    this.flushGroup();
    if (this.fd === undefined || this.bytes === 0) return;
    if (committedSeq >= this.maxSeq) {
      // everything in the file is in the journal
      ftruncateSync(this.fd, 0);
      fsyncSync(this.fd);
      this.bytes = 0;
      return;
    }
    if (this.bytes <= this.compactAboveBytes) return;
    const uncommitted = pending.filter((w) => w.entry.seq > committedSeq);
    const tmp = `${this.location}.tmp`;
    const fd = openSync(tmp, 'w');
    let bytes = 0;
    try {
      for (const w of uncommitted) bytes += writeSync(fd, line(w));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.location);
    fsyncDir(this.location);
    closeSync(this.fd);
    this.fd = undefined;
    this.open();
    this.bytes = bytes;
  }

  quarantine(reason: string): string {
    this.close();
    const to = `${this.location}.rejected-${Date.now()}`;
    renameSync(this.location, to);
    const fd = openSync(`${to}.why`, 'w');
    try {
      writeSync(fd, reason + '\n');
    } finally {
      closeSync(fd);
    }
    return to;
  }

  close(): void {
    this.flushGroup();
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

function fsyncDir(file: string): void {
  try {
    const fd = openSync(dirname(file), 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not supported on every platform; the file's own fsync still holds its data
  }
}
