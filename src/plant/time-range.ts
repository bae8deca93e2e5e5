import { BadRequestException } from '@nestjs/common';

const BUCKET_RE = /^(\d+)(s|m|h|d)?$/;
const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Parses an ISO-8601 time with zone or epoch milliseconds; `name` is the query parameter for the 400 message. */
export function parseTime(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const t = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(t))
    throw new BadRequestException(`${name} must be an ISO-8601 time or epoch milliseconds`);
  return t;
}

/** `30s`, `1m`, `15m`, `1h`, `1d` or plain seconds → seconds. */
export function parseBucket(value: string | undefined): number | undefined {
  if (value === undefined || value === '' || value === 'raw') return undefined;
  const m = BUCKET_RE.exec(value);
  const seconds = m ? Number(m[1]) * (UNIT_S[m[2] ?? 's'] ?? 1) : NaN;
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > 86400 * 31)
    throw new BadRequestException('bucket must be like 30s, 1m, 1h, 1d (1 s … 31 d) or raw');
  return seconds;
}

export function checkRange(from: number, to: number, maxDays = 400): void {
  if (to <= from) throw new BadRequestException('from must be before to');
  if (to - from > maxDays * 86400_000)
    throw new BadRequestException(`the range may not exceed ${maxDays} days`);
}
