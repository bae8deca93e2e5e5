import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { AlarmWrite } from './alarm.store';
import { journalFromRow, recordFromJson } from './alarm.repository';
import type { JournalEntry } from './domain/journal-chain';

/**
 * Where alarm events that could not be written before a graceful shutdown (database down) are kept until the next
 * start writes them. One JSON line per event, in seq order; replaced atomically (write, fsync, rename).
 */
export type PendingSpool = {
  readonly location: string;
  save(writes: readonly AlarmWrite[]): void;
  load(): AlarmWrite[];
  clear(): void;
  /** Moves an unusable file aside (kept for manual recovery); returns the new name. */
  quarantine(reason: string): string;
};

export const ALARM_PENDING_SPOOL = Symbol('ALARM_PENDING_SPOOL');

/** A journal entry read back from a local file (the spool, the write-ahead log), checked like a database row. */
export function entryFromJson(j: unknown): JournalEntry {
  const e = j as Record<string, unknown>;
  // reuse the database boundary check: same fields, same rules
  return journalFromRow({
    seq: String(e.seq),
    at: new Date(Number(e.at)),
    alarm_id: String(e.alarmId),
    site_id: String(e.siteId),
    event: String(e.event),
    from_state: String(e.fromState),
    to_state: String(e.toState),
    actor: String(e.actor),
    actor_role: String(e.actorRole),
    comment: typeof e.comment === 'string' ? e.comment : null,
    snapshot: e.snapshot as JournalEntry['snapshot'],
    prev_hash: String(e.prevHash),
    hash: String(e.hash),
  });
}

export class FilePendingSpool implements PendingSpool {
  constructor(readonly location: string) {}

  save(writes: readonly AlarmWrite[]): void {
    mkdirSync(dirname(this.location), { recursive: true });
    const tmp = `${this.location}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      for (const w of writes) writeSync(fd, JSON.stringify({ entry: w.entry, alarm: w.alarm }) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.location);
  }

  load(): AlarmWrite[] {
    if (!existsSync(this.location)) return [];
    const lines = readFileSync(this.location, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    return lines.map((line, i) => {
      try {
        const o = JSON.parse(line) as { entry: unknown; alarm: unknown };
        return { entry: entryFromJson(o.entry), alarm: recordFromJson(o.alarm) };
      } catch (err) {
        throw new Error(
          `${this.location} line ${i + 1}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    });
  }

  clear(): void {
    if (existsSync(this.location)) unlinkSync(this.location);
  }

  quarantine(reason: string): string {
    const to = `${this.location}.rejected-${Date.now()}`;
    renameSync(this.location, to);
    writeSyncFile(`${to}.why`, reason + '\n');
    return to;
  }
}

function writeSyncFile(file: string, text: string): void {
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}
