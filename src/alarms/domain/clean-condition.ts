import type { ConditionChange, ConditionValue } from './condition-change';

/** Strips what PostgreSQL jsonb/text cannot hold (NUL). */
export function cleanText(s: string): string {
  // eslint-disable-next-line no-control-regex -- NUL is exactly what must go
  return s.replace(/\u0000/g, '');
}

/** Makes a value storable and hashable: NUL stripped, no NaN/Infinity (kept as their text). */
export function cleanValue(v: ConditionValue | undefined): ConditionValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'string') return cleanText(v);
  return v;
}

/** A condition change after cleaning (NUL stripped, numbers hashable). */
export type CleanCondition = Omit<ConditionChange, 'value' | 'limit'> & {
  readonly value: ConditionValue;
  readonly limit: ConditionValue;
};

export const cleanCondition = (raw: ConditionChange): CleanCondition => ({
  ...raw,
  value: cleanValue(raw.value),
  limit: cleanValue(raw.limit),
  message: cleanText(raw.message),
});
