import { createHash } from 'node:crypto';
import {
  digestsEqual,
  generateToken,
  hashToken,
  parseToken,
  tokenIdHint,
  validateTokenSpec,
} from './token.format';

describe('token format', () => {
  it('should produce hzw_<12 hex id>_<43 base64url chars> when generating a token', () => {
    const { id, token } = generateToken();
    expect(token).toMatch(/^hzw_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(token.startsWith(`hzw_${id}_`)).toBe(true);
  });

  it('should never generate the same secret twice when called repeatedly', () => {
    const tokens = new Set(Array.from({ length: 200 }, () => generateToken().token));
    expect(tokens.size).toBe(200);
  });

  it('should round-trip id and secret when parsing a generated token', () => {
    const { id, token } = generateToken();
    expect(parseToken(token)).toEqual({ id, secret: token.slice(17) });
  });

  it.each([
    '',
    'hzw_',
    'Bearer hzw_0123456789ab_' + 'a'.repeat(43),
    'hzw_0123456789AB_' + 'a'.repeat(43),
    'hzw_0123456789ab_short',
    'xyz_0123456789ab_' + 'a'.repeat(43),
    'hzw_0123456789ab_' + 'a'.repeat(43) + ' ',
  ])('should reject %j when parsing', (raw) => {
    expect(parseToken(raw)).toBeUndefined();
  });

  it('should hash the whole token with SHA-256 when hashing', () => {
    const { token } = generateToken();
    expect(hashToken(token)).toEqual(createHash('sha256').update(token).digest());
    expect(hashToken(token)).toHaveLength(32);
  });

  it('should compare digests by value and tolerate different lengths when comparing', () => {
    const a = hashToken('x');
    expect(digestsEqual(a, Buffer.from(a))).toBe(true);
    expect(digestsEqual(a, hashToken('y'))).toBe(false);
    expect(digestsEqual(a, a.subarray(0, 16))).toBe(false);
  });

  it('should reveal at most 6 characters of the public id when giving a log hint', () => {
    const { id, token } = generateToken();
    expect(tokenIdHint(token)).toBe(id.slice(0, 6));
    expect(tokenIdHint('garbage-secret-value')).toBeUndefined();
  });
});

describe('validateTokenSpec', () => {
  it('should accept a regulator with a jurisdiction scope when asked for one', () => {
    expect(validateTokenSpec({ role: 'regulator', scope: 'tianjin/binhai', name: 'Binhai ESB' })).toEqual([]);
  });

  it('should accept an enterprise path as scope when the last segment is a site id', () => {
    expect(
      validateTokenSpec({
        role: 'operator',
        scope: 'tianjin/binhai/nangang/bohai-chem',
        name: 'control room',
      }),
    ).toEqual([]);
  });

  it('should accept an empty scope when the role is operator or admin', () => {
    expect(validateTokenSpec({ role: 'operator', scope: '', name: 'x' })).toEqual([]);
    expect(validateTokenSpec({ role: 'admin', scope: '', name: 'x' })).toEqual([]);
  });

  it.each([
    [{ role: 'root', scope: '', name: 'x' }, /role must be one of/],
    [{ role: 'operator', scope: 'tianjin/', name: 'x' }, /scope must be a jurisdiction path/],
    [{ role: 'operator', scope: '/tianjin', name: 'x' }, /scope must be a jurisdiction path/],
    [{ role: 'operator', scope: 'tianjin//binhai', name: 'x' }, /scope must be a jurisdiction path/],
    [{ role: 'operator', scope: 'tianjin binhai', name: 'x' }, /scope must be a jurisdiction path/],
    [{ role: 'admin', scope: 'tianjin', name: 'x' }, /admin tokens are not scoped/],
    [{ role: 'regulator', scope: '', name: 'x' }, /regulator token needs a jurisdiction scope/],
    [{ role: 'operator', scope: '', name: '   ' }, /name must not be empty/],
    [{ role: 'operator', scope: '', name: 'a\nb' }, /control characters/],
    [{ role: 'operator', scope: '', name: 'n'.repeat(201) }, /at most 200/],
  ])('should refuse %j', (spec, problem) => {
    const problems = validateTokenSpec(spec);
    expect(problems.some((p) => problem.test(p))).toBe(true);
  });
});
