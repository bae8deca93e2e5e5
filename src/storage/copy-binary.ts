/**
 * PostgreSQL COPY binary format for the `telemetry` table (docs/adr/0023-binary-copy-and-series-key.md).
 *
 * A batch is a run of tuples without the file header and trailer (the sink adds both), so batches concatenate, split
 * at tuple boundaries, and append to a spool segment as they are. One tuple, all integers big-endian:
 *
 *   int16 field count (8)
 *   time        int32 8, int64 µs since 2000-01-01 UTC
 *   site_id     int32 n, n bytes UTF-8          device_id, channel: the same
 *   value       int32 8, float8                 or int32 -1 (NULL)
 *   text_value  int32 n, n bytes UTF-8          or int32 -1
 *   quality     int32 2, int16
 *   seq         int32 8, int64                  or int32 -1
 *   source_time int32 8, int64 µs               only in a re-timed reading's tuple (9 fields, below)
 *
 * A reading that ingest re-timed to its arrival (`Reading.sourceTs`, docs/adr/0027-retimed-readings-key.md) is a tuple
 * of 9 fields: the 8 above plus the device's own time. The sink writes such tuples through `telemetry_retimed`, the
 * key a redelivery repeats; they travel with the others through merge, split, bisection and the spool, so a replayed
 * segment stays idempotent for them too. `telemetry` itself never sees the 9th field.
 *
 * Hot path (100k+ rows/s): the encoder writes straight into one reused buffer; per row there is no object, no string
 * concatenation and no BigInt (64-bit integers are written as two 32-bit halves). The bytes of the last site/device
 * and of each channel are cached, because consecutive rows usually come from the same message.
 */
import { QUALITY_CODE, type Reading } from '../common/types';
import {
  ByteBatchBuffer,
  escapeCopyText,
  MAX_TS,
  MIN_TS,
  TELEMETRY_COLUMNS,
  TimestampFormatter,
} from './copy-row.encoder';

/** Fields per tuple, in TELEMETRY_COLUMNS order. */
export const BINARY_FIELDS = 8;
/** Fields of a re-timed reading's tuple: TELEMETRY_COLUMNS plus source_time. */
export const RETIMED_FIELDS = 9;
/** `PGCOPY\n\377\r\n\0`, flags 0, header extension length 0. */
export const BINARY_HEADER = Buffer.from([
  0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
]);
/** int16 -1: end of data. */
export const BINARY_TRAILER = Buffer.from([0xff, 0xff]);
export const TELEMETRY_COPY_BINARY_SQL = `COPY telemetry (${TELEMETRY_COLUMNS}) FROM STDIN (FORMAT binary)`;

/** 2000-01-01T00:00:00Z, PostgreSQL's timestamp epoch, in Unix ms. */
export const PG_EPOCH_MS = 946_684_800_000;
const TWO32 = 4_294_967_296;

/**
 * True when a chunk holds binary tuples rather than COPY text. A text line starts with its timestamp (a digit); a
 * tuple starts with its int16 field count, whose first byte is 0.
 */
export function isBinaryChunk(chunk: string | Buffer): boolean {
  return typeof chunk !== 'string' && chunk.length > 0 && chunk[0] === 0;
}

/** The buffer the binary encoder writes into. */
export class CopyBinaryBuffer extends ByteBatchBuffer {}

/** PostgreSQL text cannot hold NUL; the text encoder stores U+FFFD instead, and so does this one. */
function textBytes(s: string): Buffer {
  return Buffer.from(escapeNul(s), 'utf8');
}

function escapeNul(s: string): string {
  return s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s;
}

/** Stores int32 `v` big-endian at `at`; returns the offset after it. */
function int32(b: Buffer, at: number, v: number): number {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
  return at + 4;
}

/** Copies `src` to `at` byte by byte (the fields are short); returns the offset after it. */
function bytes(b: Buffer, at: number, src: Buffer): number {
  for (let i = 0; i < src.length; i++) b[at + i] = src[i]!;
  return at + src.length;
}

/** Writes `v` (a safe integer, possibly negative) as int64 big-endian at `at`. */
function writeInt64(buf: Buffer, v: number, at: number): void {
  const hi = Math.floor(v / TWO32);
  int32(buf, at, hi);
  int32(buf, at + 4, v - hi * TWO32);
}

/** Writes epoch ms as µs since 2000-01-01, exactly, for the whole range MIN_TS..MAX_TS (beyond 2^53 µs). */
function writePgTimestamp(buf: Buffer, ms: number, at: number): void {
  const rel = ms - PG_EPOCH_MS;
  const hiMs = Math.floor(rel / TWO32);
  const loUs = (rel - hiMs * TWO32) * 1000; // < 2^42: exact
  const carry = Math.floor(loUs / TWO32);
  int32(buf, at, hiMs * 1000 + carry);
  int32(buf, at + 4, loUs - carry * TWO32);
}

/** Reads an int64 written by writeInt64 / writePgTimestamp back as a number (exact within ±2^53). */
function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO32 + buf.readUInt32BE(at + 4);
}

/** Epoch ms of a binary timestamp field (µs since 2000-01-01), rounded down to the ms. */
export function readPgTimestampMs(buf: Buffer, at: number): number {
  const hi = buf.readInt32BE(at);
  const lo = buf.readUInt32BE(at + 4);
  // µs = hi·2^32 + lo; ms = floor(µs / 1000) without leaving the exact range: split hi·2^32 into multiples of 1000.
  const hiMs = Math.floor(hi / 1000);
  const hiRest = hi - hiMs * 1000; // 0..999
  const rest = hiRest * TWO32 + lo; // < 2^42
  return PG_EPOCH_MS + hiMs * TWO32 + Math.floor(rest / 1000);
}

/** Encodes readings as binary COPY tuples into a CopyBinaryBuffer. */
export class BinaryRowEncoder {
  private lastSite: string | undefined;
  private lastDevice: string | undefined;
  /** int32 len + site bytes + int32 len + device bytes. */
  private lastPrefix: Buffer = Buffer.alloc(0);
  private readonly channels = new Map<string, Buffer>();

  /** Appends one tuple; returns undefined, or a reason (and writes nothing) when the reading cannot be stored. */
  encode(r: Reading, out: CopyBinaryBuffer): string | undefined {
    const t = r.ts;
    if (!Number.isInteger(t) || t < MIN_TS || t > MAX_TS) return `timestamp out of range: ${String(t)}`;
    const q = QUALITY_CODE[r.quality] as number | undefined;
    if (q === undefined) return `unknown quality: ${String(r.quality)}`;
    const seq = r.seq;
    if (seq !== undefined && !(Number.isSafeInteger(seq) && seq >= 0)) return `invalid seq: ${String(seq)}`;
    const v = r.value;
    const vt = typeof v;
    if (vt !== 'number' && vt !== 'boolean' && vt !== 'string') return `unsupported value type: ${vt}`;
    const src = r.sourceTs;
    if (src !== undefined && !(Number.isInteger(src) && src >= MIN_TS && src <= MAX_TS))
      return `source timestamp out of range: ${String(src)}`;
    if (r.siteId !== this.lastSite || r.deviceId !== this.lastDevice) {
      const s = textBytes(r.siteId);
      const d = textBytes(r.deviceId);
      const p = Buffer.allocUnsafe(8 + s.length + d.length);
      p.writeInt32BE(s.length, 0);
      s.copy(p, 4);
      p.writeInt32BE(d.length, 4 + s.length);
      d.copy(p, 8 + s.length);
      this.lastSite = r.siteId;
      this.lastDevice = r.deviceId;
      this.lastPrefix = p;
    }
    const ch = this.channelBytes(r.channel);
    const text = vt === 'string' ? textBytes(v as string) : undefined;
    const prefix = this.lastPrefix;
    // 2 count + 12 time + prefix + 4+channel + 12 value + 4(+n) text + 6 quality + 12 seq
    // + 12 source_time when re-timed
    out.ensure(64 + prefix.length + ch.length + (text?.length ?? 0));
    const b = out.buf;
    let at = out.len;
    // Byte stores rather than Buffer#write*/copy: those are calls with range checks, ~2× the cost of the whole row.
    b[at] = 0;
    b[at + 1] = src === undefined ? BINARY_FIELDS : RETIMED_FIELDS;
    at = int32(b, at + 2, 8);
    writePgTimestamp(b, t, at);
    at = bytes(b, at + 8, prefix);
    at = bytes(b, int32(b, at, ch.length), ch);
    if (text === undefined) {
      at = int32(b, at, 8);
      b.writeDoubleBE(vt === 'number' ? (v as number) : v ? 1 : 0, at);
      at = int32(b, at + 8, -1);
    } else {
      at = int32(b, at, -1);
      at = bytes(b, int32(b, at, text.length), text);
    }
    at = int32(b, at, 2);
    b[at] = 0;
    b[at + 1] = q;
    at += 2;
    if (seq === undefined) {
      at = int32(b, at, -1);
    } else {
      at = int32(b, at, 8);
      writeInt64(b, seq, at);
      at += 8;
    }
    if (src !== undefined) {
      at = int32(b, at, 8);
      writePgTimestamp(b, src, at);
      at += 8;
    }
    out.len = at;
    return undefined;
  }

  private channelBytes(channel: string): Buffer {
    let bytes = this.channels.get(channel);
    if (bytes === undefined) {
      if (this.channels.size >= 4096) this.channels.clear();
      bytes = textBytes(channel);
      this.channels.set(channel, bytes);
    }
    return bytes;
  }
}

/**
 * End offset of the tuple starting at `at`: a number > at, or -1 when the buffer ends inside it (a partial tuple),
 * or -2 when the bytes at `at` are not a tuple of this table (wrong field count, impossible length).
 */
export function tupleEnd(buf: Buffer, at: number): number {
  if (at + 2 > buf.length) return -1;
  const fields = buf.readInt16BE(at);
  if (fields !== BINARY_FIELDS && fields !== RETIMED_FIELDS) return -2;
  let p = at + 2;
  for (let f = 0; f < fields; f++) {
    if (p + 4 > buf.length) return -1;
    const n = buf.readInt32BE(p);
    p += 4;
    if (n < -1) return -2;
    if (n > 0) p += n;
  }
  return p > buf.length ? -1 : p;
}

/** Start offsets of the whole tuples of a chunk, plus the offset where they end (a partial or bad tail starts there). */
export function tupleOffsets(buf: Buffer): { starts: number[]; end: number } {
  const starts: number[] = [];
  let at = 0;
  while (at < buf.length) {
    const e = tupleEnd(buf, at);
    if (e < 0) break;
    starts.push(at);
    at = e;
  }
  return { starts, end: at };
}

/** Number of whole tuples in a chunk. */
export function countTuples(buf: Buffer): number {
  let n = 0;
  let at = 0;
  while (at < buf.length) {
    const e = tupleEnd(buf, at);
    if (e < 0) break;
    n++;
    at = e;
  }
  return n;
}

/** True when the tuple starting at `at` is a re-timed reading's (it carries source_time). */
export function isRetimedTuple(buf: Buffer, at: number): boolean {
  return buf[at] === 0 && buf[at + 1] === RETIMED_FIELDS;
}

/**
 * A chunk's tuples sorted by kind, order kept within each: the plain ones (a COPY straight into telemetry) and the
 * re-timed ones (through telemetry_retimed). Without a re-timed tuple — every chunk in normal operation — the chunk
 * itself comes back as `plain`, with no copy.
 */
export function partitionRetimed(buf: Buffer): {
  plain: Buffer;
  plainRows: number;
  retimed: Buffer;
  retimedRows: number;
} {
  const plainParts: Buffer[] = [];
  const retimedParts: Buffer[] = [];
  let plainRows = 0;
  let retimedRows = 0;
  let runStart = 0;
  let runRetimed = false;
  let at = 0;
  while (at < buf.length) {
    const e = tupleEnd(buf, at);
    if (e < 0) break;
    const r = isRetimedTuple(buf, at);
    if (r !== runRetimed && at > runStart) {
      (runRetimed ? retimedParts : plainParts).push(buf.subarray(runStart, at));
      runStart = at;
    }
    runRetimed = r;
    if (r) retimedRows++;
    else plainRows++;
    at = e;
  }
  if (retimedRows === 0) return { plain: buf, plainRows, retimed: Buffer.alloc(0), retimedRows };
  if (at > runStart) (runRetimed ? retimedParts : plainParts).push(buf.subarray(runStart, at));
  return { plain: Buffer.concat(plainParts), plainRows, retimed: Buffer.concat(retimedParts), retimedRows };
}

/** Splits a chunk of `rows` (>= 2) tuples into two halves at a tuple boundary. */
export function splitTuples(buf: Buffer, rows: number): Array<{ text: Buffer; rows: number }> {
  const half = Math.floor(rows / 2);
  let at = 0;
  for (let k = 0; k < half; k++) at = tupleEnd(buf, at);
  return [
    { text: buf.subarray(0, at), rows: half },
    { text: buf.subarray(at), rows: rows - half },
  ];
}

/** The time (epoch ms) of each whole tuple, in order; for the late-data check of telemetry_1m. */
export function* tupleTimes(buf: Buffer): Generator<number> {
  let at = 0;
  while (at < buf.length) {
    const e = tupleEnd(buf, at);
    if (e < 0) return;
    if (buf.readInt32BE(at + 2) === 8) yield readPgTimestampMs(buf, at + 6);
    at = e;
  }
}

/**
 * A chunk of binary tuples rendered as COPY text lines (each ending in a newline), as the text encoder would have
 * written them: for dead letters (a person reads them) and for tests. Not on the hot path.
 */
export function tuplesToText(buf: Buffer): string {
  const ts = new TimestampFormatter();
  let out = '';
  let at = 0;
  while (at < buf.length) {
    const e = tupleEnd(buf, at);
    if (e < 0) break;
    const fields: string[] = [];
    let p = at + 2;
    for (let f = 0; f < BINARY_FIELDS; f++) {
      const n = buf.readInt32BE(p);
      p += 4;
      if (n < 0) {
        fields.push('\\N');
        continue;
      }
      fields.push(renderField(f, buf, p, n, ts));
      p += n;
    }
    out += fields.join('\t') + '\n';
    at = e;
  }
  return out;
}

function renderField(f: number, buf: Buffer, p: number, n: number, ts: TimestampFormatter): string {
  switch (f) {
    case 0:
      return ts.format(readPgTimestampMs(buf, p));
    case 4:
      return String(buf.readDoubleBE(p));
    case 6:
      return String(buf.readInt16BE(p));
    case 7:
      return String(readInt64(buf, p));
    default:
      return escapeCopyText(buf.toString('utf8', p, p + n));
  }
}
