/**
 * A streaming pre-scan of raw JSON bytes, run chunk by chunk as a request body arrives and before any parsing: it
 * counts `[`/`{` nesting outside strings and finds NUL characters (raw 0x00 bytes and `\u0000` escapes). Work is
 * one pass over the bytes with O(1) state, so a hostile body costs no more than reading it (docs/threat-model.md).
 * Pure: no I/O.
 */

export type PrescanProblem =
  | { readonly kind: 'too_deep'; readonly depth: number; readonly offset: number }
  | { readonly kind: 'nul'; readonly offset: number };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const ZERO = 0x30;

/** Scanner state machine: outside a string, inside one, after a backslash, or inside a `\uXXXX` escape. */
type Mode = 'value' | 'string' | 'escape' | 'unicode';

export class JsonPrescan {
  private depth = 0;
  private mode: Mode = 'value';
  /** Digits of the current \uXXXX escape seen so far, and whether all were '0'. */
  private hexSeen = 0;
  private hexAllZero = true;
  private offset = 0;

  constructor(private readonly maxDepth: number) {}

  /** Scans the next chunk; returns the first problem found, or null. State carries across chunk boundaries. */
  push(chunk: Uint8Array): PrescanProblem | null {
    const max = this.maxDepth;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number;
      if (b === 0) return { kind: 'nul', offset: this.offset + i };
      switch (this.mode) {
        case 'value':
          if (b === QUOTE) this.mode = 'string';
          else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
            this.depth += 1;
            if (this.depth > max) return { kind: 'too_deep', depth: this.depth, offset: this.offset + i };
          } else if ((b === CLOSE_ARRAY || b === CLOSE_OBJECT) && this.depth > 0) this.depth -= 1;
          break;
        case 'string':
          if (b === QUOTE) this.mode = 'value';
          else if (b === BACKSLASH) this.mode = 'escape';
          break;
        case 'escape':
          if (b === 0x75 /* u */) {
            this.mode = 'unicode';
            this.hexSeen = 0;
            this.hexAllZero = true;
          } else this.mode = 'string';
          break;
        case 'unicode':
          if (b !== ZERO) this.hexAllZero = false;
          this.hexSeen += 1;
          if (this.hexSeen === 4) {
            if (this.hexAllZero) return { kind: 'nul', offset: this.offset + i - 5 };
            this.mode = 'string';
          }
          break;
      }
    }
    this.offset += chunk.length;
    return null;
  }
}

/**
 * JSON.parse reviver that refuses numbers JavaScript cannot hold exactly as integers (beyond ±2^53−1) and
 * non-finite ones (1e400): they would be silently rounded, or fail later in the database as a 500.
 */
export function strictNumberReviver(_key: string, value: unknown): unknown {
  if (
    typeof value === 'number' &&
    (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value)))
  )
    throw new UnsafeNumberError(value);
  return value;
}

export class UnsafeNumberError extends Error {
  constructor(readonly value: number) {
    super(`number ${String(value)} is beyond the safe integer range (±${Number.MAX_SAFE_INTEGER})`);
    this.name = 'UnsafeNumberError';
  }
}
