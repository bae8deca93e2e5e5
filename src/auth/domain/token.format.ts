import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ROLES, type Role } from '../principal';

/**
 * API token wire format: `hzw_<id>_<secret>`.
 * - `id`: 12 lower-case hex characters, the public selector (primary key, shown by `token list`, safe to log a prefix of).
 * - `secret`: 32 random bytes, base64url (43 characters).
 * The database stores only SHA-256 of the whole token string (see docs/adr/0004-auth.md).
 */
export const TOKEN_PREFIX = 'hzw';
export const TOKEN_ID_PATTERN = /^[0-9a-f]{12}$/;
const TOKEN_PATTERN = /^hzw_([0-9a-f]{12})_([A-Za-z0-9_-]{43,128})$/;
export const SECRET_BYTES = 32;

export type ParsedToken = { readonly id: string; readonly secret: string };

export function newTokenId(): string {
  return randomBytes(6).toString('hex');
}

export function generateToken(id: string = newTokenId()): { id: string; token: string } {
  if (!TOKEN_ID_PATTERN.test(id)) throw new Error(`invalid token id '${id}'`);
  return { id, token: `${TOKEN_PREFIX}_${id}_${randomBytes(SECRET_BYTES).toString('base64url')}` };
}

/** Splits a presented token; undefined when it does not have the hazwatch format (no database lookup is needed). */
export function parseToken(raw: string): ParsedToken | undefined {
  const m = TOKEN_PATTERN.exec(raw);
  if (!m?.[1] || !m[2]) return undefined;
  return { id: m[1], secret: m[2] };
}

export function hashToken(raw: string): Buffer {
  return createHash('sha256').update(raw, 'utf8').digest();
}

/** Constant-time equality of two digests (false, not an exception, when lengths differ). */
export function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A log-safe hint of which token was presented: a prefix of its public id, never any of the secret. */
export function tokenIdHint(raw: string): string | undefined {
  const m = /^hzw_([0-9a-f]{1,12})/.exec(raw);
  return m?.[1]?.slice(0, 6);
}

// ---- validation of what a token may be created with -------------------------------------------------------------

/** Scope: jurisdiction path segments (`tianjin/binhai`), optionally ending in a site id; '' means everything. */
export const SCOPE_PATTERN = /^[A-Za-z0-9_-]{1,64}(\/[A-Za-z0-9_-]{1,64}){0,15}$/;
export const MAX_NAME_LENGTH = 200;

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export type TokenSpec = { readonly role: Role; readonly scope: string; readonly name: string };

/** Checks a requested token; returns the problems in plain words (empty when valid). */
export function validateTokenSpec(spec: { role: string; scope: string; name: string }): string[] {
  const problems: string[] = [];
  if (!isRole(spec.role)) problems.push(`role must be one of ${ROLES.join(', ')} (got '${spec.role}')`);
  if (spec.scope !== '' && !SCOPE_PATTERN.test(spec.scope))
    problems.push(
      `scope must be a jurisdiction path like 'tianjin/binhai' (segments of letters, digits, '-' or '_', separated by '/', no leading or trailing '/'), or empty for everything (got '${spec.scope}')`,
    );
  if (spec.role === 'admin' && spec.scope !== '')
    problems.push('admin tokens are not scoped: leave --scope empty');
  if (spec.role === 'regulator' && spec.scope === '')
    problems.push('a regulator token needs a jurisdiction scope, e.g. --scope tianjin/binhai');
  const name = spec.name.trim();
  if (name === '')
    problems.push(
      'name must not be empty (a label such as "Binhai ESB"; it is written to the journal as who acted)',
    );
  if (name.length > MAX_NAME_LENGTH) problems.push(`name must be at most ${MAX_NAME_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
  if (/[\u0000-\u001f\u007f]/.test(spec.name)) problems.push('name must not contain control characters');
  return problems;
}
