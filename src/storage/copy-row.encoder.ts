/**
 * Pure encoding of readings into PostgreSQL COPY text format lines for the `telemetry` table:
 * `time \t site_id \t device_id \t channel \t value \t text_value \t quality \t seq \n`.
 * `seq` (the message's sequence number, `\N` when the device sent none) is part of the reading's idempotency key
 * (docs/adr/0014-idempotent-telemetry.md). Spool segments written before it existed have seven fields per line; the
 * sink copies those with TELEMETRY_COPY_SQL_V1 (copyColumnsOf tells them apart).
 *
 * Hot path (100k+ rows/s): no per-row objects, cached timestamp formatting, escaping only when needed.
 */
import { QUALITY_CODE, type Reading } from '../common/types';

/** Column list matching the encoder's field order. */
export const TELEMETRY_COLUMNS = 'time, site_id, device_id, channel, value, text_value, quality, seq';
/** The seven columns of lines encoded before `seq` was stored (spool segments left by an older version). */
export const TELEMETRY_COLUMNS_V1 = 'time, site_id, device_id, channel, value, text_value, quality';
export const TELEMETRY_COPY_SQL = `COPY telemetry (${TELEMETRY_COLUMNS}) FROM STDIN`;
export const TELEMETRY_COPY_SQL_V1 = `COPY telemetry (${TELEMETRY_COLUMNS_V1}) FROM STDIN`;

/**
 * The column list of a chunk of COPY text, from the field count of its first line: 8 fields (current encoder) or 7
 * (written before `seq`). Every line of one chunk comes from one encoder version (a spool segment is never appended to
 * by another run; in-memory batches are this run's).
 */
export function copyColumnsOf(chunk: string | Buffer): string {
  const TAB = 9;
  const NL = 10;
  let tabs = 0;
  if (typeof chunk === 'string') {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c === NL) break;
      if (c === TAB) tabs++;
    }
  } else {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (c === NL) break;
      if (c === TAB) tabs++;
    }
  }
  return tabs === 6 ? TELEMETRY_COLUMNS_V1 : TELEMETRY_COLUMNS;
}

const NULL = '\\N';
const DAY_MS = 86_400_000;
/** Range we format: 0001-01-01 .. 9999-12-31 (JS and PostgreSQL both handle it; 5+ digit years do not round-trip). */
export const MIN_TS = -62_135_596_800_000;
export const MAX_TS = 253_402_300_799_999;

const PAD2: readonly string[] = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const PAD3: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/** Characters that need escaping in COPY text format, plus NUL which PostgreSQL text cannot hold. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const NEEDS_ESCAPE = /[\\\t\n\r\u0000]/;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ESCAPE_ALL = /[\\\t\n\r\u0000]/g;
const ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
  // PostgreSQL text cannot contain NUL; store the replacement character rather than fail the batch.
  '\u0000': '\uFFFD',
};

/** Escapes one value for COPY text format (backslash, tab, newline, carriage return; NUL → U+FFFD). */
export function escapeCopyText(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPE_ALL, (c) => ESCAPES[c] ?? c) : s;
}

/** Formats epoch ms as `YYYY-MM-DD HH:MM:SS.mmm+00`, caching the date part of the current day. */
export class TimestampFormatter {
  private dayStart = Number.NaN;
  private dayPrefix = '';

  format(ms: number): string {
    let offset = ms - this.dayStart;
    if (!(offset >= 0 && offset < DAY_MS)) {
      this.dayStart = Math.floor(ms / DAY_MS) * DAY_MS;
      this.dayPrefix = new Date(this.dayStart).toISOString().slice(0, 10) + ' ';
      offset = ms - this.dayStart;
    }
    const msPart = offset % 1000;
    const secs = (offset - msPart) / 1000;
    const s = secs % 60;
    const mins = (secs - s) / 60;
    const m = mins % 60;
    const h = (mins - m) / 60;
    return `${this.dayPrefix}${PAD2[h]}:${PAD2[m]}:${PAD2[s]}.${PAD3[msPart]}+00`;
  }
}

/** `\t<quality>\t<seq>\n` for each quality code, for one seq text. */
function tails(seqText: string): string[] {
  return [0, 1, 2].map((q) => `\t${q}\t${seqText}\n`);
}

/**
 * Encodes readings into COPY lines. Keeps small caches (last timestamp, last site/device prefix) because
 * consecutive readings usually come from the same message.
 */
export class CopyRowEncoder {
  private readonly ts = new TimestampFormatter();
  private lastTs = Number.NaN;
  private lastTsText = '';
  private lastSite: string | undefined;
  private lastDevice: string | undefined;
  private lastPrefix = '';
  private lastSeq: number | undefined;
  private lastTail: string[] = tails(NULL);

  /** One line (with trailing newline), or an error message when the reading cannot be stored. */
  encode(r: Reading): string | { error: string } {
    const t = r.ts;
    if (t !== this.lastTs) {
      if (!Number.isInteger(t) || t < MIN_TS || t > MAX_TS)
        return { error: `timestamp out of range: ${String(t)}` };
      this.lastTs = t;
      this.lastTsText = this.ts.format(t);
    }
    if (r.siteId !== this.lastSite || r.deviceId !== this.lastDevice) {
      this.lastSite = r.siteId;
      this.lastDevice = r.deviceId;
      this.lastPrefix = `\t${escapeCopyText(r.siteId)}\t${escapeCopyText(r.deviceId)}\t`;
    }
    const q = QUALITY_CODE[r.quality] as number | undefined;
    if (q === undefined) return { error: `unknown quality: ${String(r.quality)}` };
    const seq = r.seq;
    if (seq !== this.lastSeq) {
      if (seq !== undefined && !(Number.isSafeInteger(seq) && seq >= 0))
        return { error: `invalid seq: ${String(seq)}` };
      this.lastSeq = seq;
      this.lastTail = tails(seq === undefined ? NULL : String(seq));
    }
    const tail = this.lastTail[q]!;
    // One template per value type: the line is built in one step (no intermediate field strings).
    const head = this.lastTsText + this.lastPrefix + this.channelText(r.channel);
    const v = r.value;
    if (typeof v === 'number') return `${head}\t${v}\t${NULL}${tail}`;
    if (typeof v === 'boolean') return v ? `${head}\t1\t${NULL}${tail}` : `${head}\t0\t${NULL}${tail}`;
    if (typeof v === 'string') return `${head}\t${NULL}\t${escapeCopyText(v)}${tail}`;
    return { error: `unsupported value type: ${typeof v}` };
  }

  /** Escaped channel names, cached (a device has a handful of channels; bounded in case of many). */
  private readonly channels = new Map<string, string>();

  private channelText(channel: string): string {
    let text = this.channels.get(channel);
    if (text === undefined) {
      if (this.channels.size >= 4096) this.channels.clear();
      text = escapeCopyText(channel);
      this.channels.set(channel, text);
    }
    return text;
  }
}

/** A growable byte buffer that is written in place; `take` hands the bytes out and starts again. */
export class ByteBatchBuffer {
  buf: Buffer;
  len = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(1024, initialBytes));
  }

  get byteLength(): number {
    return this.len;
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /**
   * The bytes written since the last take, as a Buffer of their own (a copy); the buffer starts empty again. The copy
   * lives in a SharedArrayBuffer: it reaches the COPY worker thread without being serialised (copy-worker.sink.ts).
   */
  take(): Buffer {
    const out = Buffer.from(new SharedArrayBuffer(this.len));
    this.buf.copy(out, 0, 0, this.len);
    this.len = 0;
    return out;
  }
}

/**
 * A batch's COPY text as UTF-8 bytes in a reused buffer (lines appended in one `write` each). Building a batch as a
 * string (`text += line`) makes a rope of 10k+ pieces that must be flattened before it can leave the thread
 * (postMessage to the COPY worker): measured at ~5 % of the ingest thread at 45k msg/s.
 */
export class CopyTextBuffer extends ByteBatchBuffer {
  append(line: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 code unit.
    this.ensure(3 * line.length);
    this.len += this.buf.write(line, this.len, 'utf8');
  }
}
