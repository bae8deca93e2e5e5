import { ManualClock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { hashToken, parseToken } from './domain/token.format';
import { FakeTokenRepository } from './testing/fake-token.repository';
import { TokenService, TokenSpecError } from './token.service';

describe('TokenService', () => {
  beforeAll(() => JsonLogger.setLevel('error'));

  let clock: ManualClock;
  let repo: FakeTokenRepository;
  let service: TokenService;

  beforeEach(() => {
    clock = new ManualClock(Date.UTC(2026, 10, 24, 10, 0, 0));
    repo = new FakeTokenRepository();
    service = new TokenService(repo.asRepository(), clock, {
      recheckMs: 30_000,
      touchMs: 60_000,
      maxStaleMs: 600_000,
      maxEntries: 3,
      lookupTimeoutMs: 5_000,
    });
  });

  // The whole secret: base64url may itself contain '_', so splitting on it could leave a few characters that occur
  // in the stored JSON by chance.
  const secretOf = (token: string): string => parseToken(token)!.secret;

  const create = (role = 'regulator', scope = 'tianjin/binhai', name = 'Binhai ESB') =>
    service.create({ role, scope, name });

  describe('create', () => {
    it('should store only the SHA-256 of the token when creating', async () => {
      const { info, token } = await create();
      const row = repo.rows.get(info.id);
      expect(row?.tokenHash).toEqual(hashToken(token));
      expect(JSON.stringify([...repo.rows.values()])).not.toContain(secretOf(token));
    });

    it('should trim the name and keep role and scope when creating', async () => {
      const { info } = await service.create({
        role: 'operator',
        scope: 'tianjin/binhai/nangang/bohai-chem',
        name: '  control room  ',
      });
      expect(info).toMatchObject({
        role: 'operator',
        scope: 'tianjin/binhai/nangang/bohai-chem',
        name: 'control room',
        revokedAt: null,
      });
      expect(info.createdAt.getTime()).toBe(clock.now());
    });

    it('should refuse an invalid request without touching the database when the role is unknown', async () => {
      await expect(service.create({ role: 'root', scope: '', name: 'x' })).rejects.toBeInstanceOf(
        TokenSpecError,
      );
      expect(repo.rows.size).toBe(0);
    });
  });

  describe('list', () => {
    it('should never include a secret or hash when listing', async () => {
      const { token } = await create();
      const listed = await service.list();
      expect(listed).toHaveLength(1);
      expect(Object.keys(listed[0]!).sort()).toEqual([
        'createdAt',
        'id',
        'lastUsedAt',
        'name',
        'revokedAt',
        'role',
        'scope',
      ]);
      expect(JSON.stringify(listed)).not.toContain(secretOf(token));
    });
  });

  describe('verify', () => {
    it('should resolve the principal when the token is valid', async () => {
      const { info, token } = await create();
      await expect(service.verify(token)).resolves.toEqual({
        ok: true,
        degraded: false,
        principal: { tokenId: info.id, name: 'Binhai ESB', role: 'regulator', scope: 'tianjin/binhai' },
      });
    });

    it('should answer malformed without a database lookup when the token has the wrong shape', async () => {
      await expect(service.verify('not-a-token')).resolves.toEqual({ ok: false, reason: 'malformed' });
      expect(repo.calls.findById).toBe(0);
    });

    it('should answer unknown when the id exists but the secret differs', async () => {
      const { info } = await create();
      const forged = `hzw_${info.id}_${'A'.repeat(43)}`;
      await expect(service.verify(forged)).resolves.toEqual({ ok: false, reason: 'unknown' });
    });

    it('should answer unknown when no token has that id', async () => {
      await expect(service.verify(`hzw_0123456789ab_${'A'.repeat(43)}`)).resolves.toEqual({
        ok: false,
        reason: 'unknown',
      });
    });

    it('should serve repeated verifications from the cache when within the recheck interval', async () => {
      const { token } = await create();
      await service.verify(token);
      clock.advance(29_999);
      await service.verify(token);
      expect(repo.calls.findById).toBe(1);
    });

    it('should share one database lookup when the same token is verified concurrently', async () => {
      const { token } = await create();
      const results = await Promise.all([
        service.verify(token),
        service.verify(token),
        service.verify(token),
      ]);
      expect(results.every((r) => r.ok)).toBe(true);
      expect(repo.calls.findById).toBe(1);
    });

    it('should fail at once when the token is revoked through the service', async () => {
      const { info, token } = await create();
      await service.verify(token);
      await expect(service.revoke(info.id)).resolves.toMatchObject({ status: 'revoked' });
      await expect(service.verify(token)).resolves.toEqual({ ok: false, reason: 'revoked' });
    });

    it('should notice a revocation made elsewhere (the CLI) when the recheck interval has passed', async () => {
      const { info, token } = await create();
      await service.verify(token);
      await repo.revoke(info.id, new Date(clock.now())); // another process
      await expect(service.verify(token)).resolves.toMatchObject({ ok: true }); // still cached
      clock.advance(30_000);
      await expect(service.verify(token)).resolves.toEqual({ ok: false, reason: 'revoked' });
    });

    it('should write last_used_at at most once a minute when the token is used often', async () => {
      const { info, token } = await create();
      for (let i = 0; i < 12; i++) {
        await service.verify(token);
        clock.advance(10_000); // 12 uses over 120 s
      }
      expect(repo.calls.touch).toBe(2);
      expect(repo.rows.get(info.id)?.lastUsedAt?.getTime()).toBe(clock.now() - 10_000 - 50_000);
    });

    it('should still verify when writing last_used_at fails', async () => {
      const { token } = await create();
      const touch = jest.spyOn(repo, 'touch').mockRejectedValue(new Error('disk full'));
      await expect(service.verify(token)).resolves.toMatchObject({ ok: true });
      expect(touch).toHaveBeenCalledTimes(1);
    });

    it('should accept a recently verified token, marked degraded, when the database is unreachable', async () => {
      const { token } = await create();
      await service.verify(token);
      clock.advance(60_000);
      repo.failing = true;
      await expect(service.verify(token)).resolves.toMatchObject({ ok: true, degraded: true });
    });

    it('should throw when the database is unreachable and the token was verified too long ago', async () => {
      const { token } = await create();
      await service.verify(token);
      clock.advance(600_000);
      repo.failing = true;
      await expect(service.verify(token)).rejects.toThrow(/ECONNREFUSED/);
    });

    it('should throw when the database is unreachable and the token was never verified', async () => {
      const { token } = await create();
      repo.failing = true;
      await expect(service.verify(token)).rejects.toThrow(/ECONNREFUSED/);
    });

    it('should fail with a timeout instead of hanging when the database does not answer', async () => {
      const { token } = await create();
      jest.useFakeTimers();
      try {
        jest.spyOn(repo, 'findById').mockReturnValue(new Promise(() => undefined));
        const pending = service.verify(token);
        const settled = expect(pending).rejects.toThrow(/did not answer within 5000 ms/);
        await jest.advanceTimersByTimeAsync(5_000);
        await settled;
      } finally {
        jest.useRealTimers();
      }
    });

    it('should answer from the cache only when asked to', async () => {
      const a = await create();
      const b = await create();
      await service.verify(a.token);
      await expect(service.verify(a.token, { cachedOnly: true })).resolves.toMatchObject({ ok: true });
      await expect(service.verify(b.token, { cachedOnly: true })).resolves.toEqual({
        ok: false,
        reason: 'not_cached',
      });
      expect(repo.calls.findById).toBe(1);
    });

    it('should bound the cache by evicting the least recently verified token when full', async () => {
      const tokens = await Promise.all([create(), create(), create(), create()]);
      for (const t of tokens) await service.verify(t.token); // maxEntries 3: the first is evicted
      await expect(service.verify(tokens[0].token, { cachedOnly: true })).resolves.toEqual({
        ok: false,
        reason: 'not_cached',
      });
      await expect(service.verify(tokens[3].token, { cachedOnly: true })).resolves.toMatchObject({
        ok: true,
      });
    });
  });

  describe('revoke', () => {
    it('should report not-found and already-revoked when revoking twice or a wrong id', async () => {
      const { info } = await create();
      await expect(service.revoke('ffffffffffff')).resolves.toEqual({ status: 'not-found' });
      await expect(service.revoke(info.id)).resolves.toMatchObject({ status: 'revoked' });
      await expect(service.revoke(info.id)).resolves.toMatchObject({ status: 'already-revoked' });
    });
  });
});
