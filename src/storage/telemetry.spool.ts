import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  ftruncateSync,
  readSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isBinaryChunk, tupleEnd, tupleOffsets } from './copy-binary';

/**
 * On-disk format of a segment, told by the file name's extension (docs/adr/0023-binary-copy-and-series-key.md):
 * `.copy` COPY text lines (every version before binary COPY; 7 or 8 fields per line), `.bcopy` binary COPY tuples
 * without header and trailer. A version that knows only `.copy` leaves `.bcopy` files alone (never deletes them).
 */
export type SpoolFormat = 'text' | 'binary';
const EXTENSION: Record<SpoolFormat, string> = { text: 'copy', binary: 'bcopy' };

/** One spool file: the rows of one or more batches, appended in arrival order, all in one format. */
export type SpoolSegment = {
  readonly seq: number;
  readonly format: SpoolFormat;
  readonly path: string;
  /** Earliest arrival time (epoch ms) of any reading in the segment; part of the file name, survives restarts. */
  readonly oldestReceivedAt: number;
  bytes: number;
};

const SEGMENT_RE = /^seg-(\d{12})-(\d{1,16})\.(copy|bcopy)$/;

function segmentName(seq: number, oldest: number, format: SpoolFormat): string {
  return `seg-${String(seq).padStart(12, '0')}-${Math.max(0, Math.floor(oldest))}.${EXTENSION[format]}`;
}

/**
 * Append-only, size-bounded disk spool of telemetry rows (binary COPY tuples; COPY text in segments of older versions).
 *
 * - `append` writes synchronously to the open segment (one write per batch, so a crash can only leave a
 *   partial *last* row, which start-up repair cuts off); segments rotate at `segmentMaxBytes`, and whenever the
 *   format of what is appended changes, and are fsync'd on rotate and on close.
 * - Closed segments are handed out oldest-first for replay and deleted only after their COPY committed.
 */
export class TelemetrySpool {
  private readonly closed: SpoolSegment[] = [];
  private open: (SpoolSegment & { fd: number }) | undefined;
  private nextSeq = 1;
  private total = 0;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
    readonly segmentMaxBytes = 8 * 1024 * 1024,
  ) {
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir).sort()) {
      const m = SEGMENT_RE.exec(name);
      if (!m) continue;
      const seq = Number(m[1]);
      const format: SpoolFormat = m[3] === 'bcopy' ? 'binary' : 'text';
      const path = join(dir, name);
      const bytes = format === 'binary' ? repairBinaryTail(path) : repairTail(path);
      if (bytes === 0) {
        unlinkSync(path);
        continue;
      }
      this.closed.push({ seq, format, path, oldestReceivedAt: Number(m[2]), bytes });
      this.total += bytes;
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
    }
  }

  /** Bytes on disk (open + closed segments). */
  bytes(): number {
    return this.total;
  }

  /** Number of segments holding data (open one included). */
  segmentCount(): number {
    return this.closed.length + (this.open && this.open.bytes > 0 ? 1 : 0);
  }

  isEmpty(): boolean {
    return this.total === 0;
  }

  hasRoom(bytes: number): boolean {
    return this.total + bytes <= this.maxBytes;
  }

  /** Earliest arrival time of any spooled reading, or undefined when empty. */
  oldestReceivedAt(): number | undefined {
    let oldest: number | undefined;
    for (const s of this.closed)
      if (oldest === undefined || s.oldestReceivedAt < oldest) oldest = s.oldestReceivedAt;
    if (this.open && this.open.bytes > 0 && (oldest === undefined || this.open.oldestReceivedAt < oldest)) {
      oldest = this.open.oldestReceivedAt;
    }
    return oldest;
  }

  /**
   * Appends whole rows (binary tuples or COPY text lines). Returns false, writing nothing, when it would exceed `maxBytes`
   * (unless `force`, used at shutdown where exceeding the bound beats losing data). Throws on I/O errors.
   */
  append(chunk: string | Buffer, oldestReceivedAt: number, force = false): boolean {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (buf.length === 0) return true;
    if (!force && !this.hasRoom(buf.length)) return false;
    const format: SpoolFormat = isBinaryChunk(buf) ? 'binary' : 'text';
    if (
      this.open &&
      (this.open.format !== format ||
        (this.open.bytes > 0 && this.open.bytes + buf.length > this.segmentMaxBytes))
    )
      this.rotate();
    if (!this.open) {
      const seq = this.nextSeq++;
      const path = join(this.dir, segmentName(seq, oldestReceivedAt, format));
      const fd = openSync(path, 'a', 0o600);
      this.open = { seq, format, path, oldestReceivedAt, bytes: 0, fd };
    }
    let off = 0;
    while (off < buf.length) off += writeSync(this.open.fd, buf, off, buf.length - off);
    this.open.bytes += buf.length;
    this.total += buf.length;
    return true;
  }

  /**
   * fsync the open segment: after it returns, everything appended survives a crash of the process or the machine (the
   * writer calls it before it lets ingest acknowledge spooled readings). Throws on I/O errors.
   */
  sync(): void {
    if (this.open && this.open.bytes > 0) fsyncSync(this.open.fd);
  }

  /** Closes (fsync) the open segment so it can be replayed. No-op when nothing is open. */
  rotate(): void {
    const o = this.open;
    if (!o) return;
    this.open = undefined;
    try {
      fsyncSync(o.fd);
    } finally {
      closeSync(o.fd);
    }
    if (o.bytes === 0) {
      unlinkSync(o.path);
      return;
    }
    this.closed.push({
      seq: o.seq,
      format: o.format,
      path: o.path,
      oldestReceivedAt: o.oldestReceivedAt,
      bytes: o.bytes,
    });
  }

  /** Oldest closed segment; rotates the open one first when there is no closed segment. */
  oldest(): SpoolSegment | undefined {
    if (this.closed.length === 0) this.rotate();
    return this.closed[0];
  }

  read(seg: SpoolSegment): Promise<Buffer> {
    return readFile(seg.path);
  }

  /** Deletes a segment whose rows are committed. */
  remove(seg: SpoolSegment): void {
    const i = this.closed.indexOf(seg);
    if (i < 0) return;
    unlinkSync(seg.path);
    this.closed.splice(i, 1);
    this.total -= seg.bytes;
  }

  /** Replaces a segment's content with the rows that are still uncommitted (atomic rename). */
  replace(seg: SpoolSegment, remaining: Buffer): void {
    if (remaining.length === 0) {
      this.remove(seg);
      return;
    }
    const tmp = `${seg.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      let off = 0;
      while (off < remaining.length) off += writeSync(fd, remaining, off, remaining.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, seg.path);
    this.total += remaining.length - seg.bytes;
    seg.bytes = remaining.length;
  }

  /** fsync and close the open segment (graceful shutdown). */
  close(): void {
    this.rotate();
  }
}

/** Cuts a partial last line (crash during append) and returns the resulting size. */
function repairTail(path: string): number {
  const size = statSync(path).size;
  if (size === 0) return 0;
  const fd = openSync(path, 'r+');
  try {
    const probe = Buffer.alloc(Math.min(size, 64 * 1024));
    let end = size;
    // Walk backwards in 64 KiB windows to the last newline.
    while (end > 0) {
      const start = Math.max(0, end - probe.length);
      const n = readSync(fd, probe, 0, end - start, start);
      const idx = probe.subarray(0, n).lastIndexOf(0x0a);
      if (idx >= 0) {
        const keep = start + idx + 1;
        if (keep !== size) {
          ftruncateSync(fd, keep);
          fsyncSync(fd);
        }
        return keep;
      }
      end = start;
    }
    ftruncateSync(fd, 0);
    return 0;
  } finally {
    closeSync(fd);
  }
}

/**
 * Binary segment: cuts a partial last tuple (crash during append) and returns the resulting size. Bytes that are not a
 * tuple of this table (damage, not a crash) cannot be replayed: they are moved to `<segment>.damaged`, kept for a
 * person to look at, and the tuples before them replay.
 */
function repairBinaryTail(path: string): number {
  const buf = readFileSync(path);
  const { end } = tupleOffsets(buf);
  if (end === buf.length) return end;
  const partial = tupleEnd(buf, end) === -1;
  if (!partial) writeFileSync(`${path}.damaged`, buf.subarray(end), { mode: 0o600 });
  const fd = openSync(path, 'r+');
  try {
    ftruncateSync(fd, end);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return end;
}
