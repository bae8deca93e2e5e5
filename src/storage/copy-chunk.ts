/**
 * Operations on a chunk of telemetry rows in either wire form the writer handles: binary tuples (what this version
 * writes, src/storage/copy-binary.ts) or COPY text lines (spool segments left by older versions). A chunk is one form
 * throughout; `isBinaryChunk` tells which from its first byte.
 */
import { countTuples, isBinaryChunk, splitTuples, tuplesToText } from './copy-binary';

export type Chunk = string | Buffer;

/** Rows in a chunk: whole tuples, or newline-terminated lines. */
export function chunkRows(chunk: Chunk): number {
  if (isBinaryChunk(chunk)) return countTuples(chunk as Buffer);
  let n = 0;
  if (typeof chunk === 'string') {
    for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', i + 1)) n++;
  } else {
    for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) n++;
  }
  return n;
}

/** True when two chunks can travel in one COPY (the same form). */
export function sameForm(a: Chunk, b: Chunk): boolean {
  return isBinaryChunk(a) === isBinaryChunk(b);
}

/** One chunk from several of the same form (bytes, or a string when every part is one). */
export function joinChunks(parts: readonly Chunk[]): Chunk {
  if (parts.every((p) => typeof p === 'string')) return parts.join('');
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
}

/** Splits a chunk of `rows` (>= 2) rows into two halves at a row boundary. */
export function halves(chunk: Chunk, rows: number): Array<{ text: Chunk; rows: number }> {
  if (isBinaryChunk(chunk)) return splitTuples(chunk as Buffer, rows);
  const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
  const half = Math.floor(rows / 2);
  let idx = -1;
  for (let k = half; k > 0; k--) idx = text.indexOf('\n', idx + 1);
  return [
    { text: text.slice(0, idx + 1), rows: half },
    { text: text.slice(idx + 1), rows: rows - half },
  ];
}

/** The chunk as COPY text lines (binary tuples rendered as the text encoder writes them): for dead letters. */
export function chunkText(chunk: Chunk): string {
  if (isBinaryChunk(chunk)) return tuplesToText(chunk as Buffer);
  return typeof chunk === 'string' ? chunk : chunk.toString('utf8');
}

/** The chunk as bytes (for the spool). */
export function chunkBytes(chunk: Chunk): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
}
