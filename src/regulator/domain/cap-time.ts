/**
 * CAP 1.2 date-times: `YYYY-MM-DDThh:mm:ss±hh:mm`, whole seconds, an explicit offset, never "Z" (UTC is written
 * `-00:00`). hazwatch publishes China Standard Time (+08:00, no daylight saving). Pure.
 */
export const CST_OFFSET_MINUTES = 8 * 60;

const CAP_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[-+]\d{2}:\d{2}$/;

export function capTime(epochMs: number, offsetMinutes: number = CST_OFFSET_MINUTES): string {
  if (!Number.isFinite(epochMs)) throw new RangeError(`capTime: not a time: ${epochMs}`);
  const wholeSeconds = Math.floor(epochMs / 1000) * 1000;
  const local = new Date(wholeSeconds + offsetMinutes * 60_000).toISOString().slice(0, 19);
  const abs = Math.abs(offsetMinutes);
  const sign = offsetMinutes > 0 ? '+' : '-';
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

export const isCapTime = (s: string): boolean => CAP_TIME.test(s);
