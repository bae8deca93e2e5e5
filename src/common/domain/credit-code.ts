/**
 * Identification codes the regulators' register carries (docs/cap-profile.md). Pure.
 *
 * 统一社会信用代码 (GB 32100-2015): 18 characters from 0-9 and A-Z without I, O, Z, S, V; position 1 the registering
 * authority, 2 the organisation type, 3–8 the GB/T 2260 administrative code, 9–17 the organisation code, 18 a check
 * character: 31 − (Σ value × weight mod 31), weights 3^(i) mod 31.
 */
const CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** The check character for the first 17 characters (which must be valid). */
export function creditCodeCheck(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += CHARS.indexOf(first17[i] ?? '') * (WEIGHTS[i] ?? 0);
  return CHARS[(31 - (sum % 31)) % 31] ?? '?';
}

/** Why a unified social credit code is invalid, or undefined when it is valid. */
export function creditCodeProblem(code: string): string | undefined {
  if (!/^[0-9A-HJ-NPQRTUWXY]{18}$/.test(code))
    return 'must be 18 characters of 0-9 and A-Z without I, O, S, V, Z (GB 32100-2015)';
  if (!/^\d{6}$/.test(code.slice(2, 8)))
    return 'characters 3–8 must be the GB/T 2260 administrative code (6 digits)';
  const want = creditCodeCheck(code.slice(0, 17));
  if (code[17] !== want) return `check character is ${code[17]}, expected ${want} (GB 32100-2015)`;
  return undefined;
}

/** 重大危险源备案编号: issued by the district authority in its own format; printable, no spaces, ≤ 40 characters. */
export function filingCodeProblem(code: string): string | undefined {
  if (code.length < 4 || code.length > 40) return 'must be 4 to 40 characters';
  if (/[\s<>&"']/.test(code) || [...code].some((c) => c.charCodeAt(0) < 32))
    return 'must not contain spaces, control characters or < > & " \'';
  return undefined;
}
