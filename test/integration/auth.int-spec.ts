import { Pool } from 'pg';
import { ManualClock } from '../../src/common/clock';
import { JsonLogger } from '../../src/common/logger';
import { hashToken } from '../../src/auth/domain/token.format';
import { TokenRepository } from '../../src/auth/token.repository';
import { TokenService } from '../../src/auth/token.service';
import { runTokenCli, type CliIo } from '../../src/auth/token.cli';
import { TEST_DATABASE_URL as url, describeWithDb, prepareTestDatabase } from '../setup/test-db';

const suite = describeWithDb('auth.int-spec');

/** Fresh label per test run, so parallel runs and leftovers never collide (the table is never truncated). */
const run = `auth-it-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

suite('api_token against PostgreSQL (real migrations)', () => {
  let pool: Pool;
  let clock: ManualClock;
  let service: TokenService;
  let repo: TokenRepository;

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    await prepareTestDatabase(url!);
    pool = new Pool({ connectionString: url, max: 2 });
    clock = new ManualClock(Date.UTC(2026, 10, 24, 10, 0, 0));
    repo = new TokenRepository(pool);
    service = new TokenService(repo, clock);
  });

  afterAll(async () => {
    await pool?.end();
  });

  it('should create, verify, revoke and then refuse a token when going through the real table', async () => {
    const { info, token } = await service.create({
      role: 'regulator',
      scope: 'tianjin/binhai',
      name: `${run} Binhai ESB`,
    });

    const row = await pool.query<{ token_hash: Buffer; role: string; scope: string }>(
      'SELECT token_hash, role, scope FROM api_token WHERE id = $1',
      [info.id],
    );
    expect(row.rows[0]?.token_hash).toEqual(hashToken(token));
    expect(row.rows[0]).toMatchObject({ role: 'regulator', scope: 'tianjin/binhai' });

    await expect(service.verify(token)).resolves.toEqual({
      ok: true,
      degraded: false,
      principal: { tokenId: info.id, name: `${run} Binhai ESB`, role: 'regulator', scope: 'tianjin/binhai' },
    });
    await expect(service.revoke(info.id)).resolves.toMatchObject({ status: 'revoked' });
    await expect(service.verify(token)).resolves.toEqual({ ok: false, reason: 'revoked' });

    // A fresh service (another server process, no cache) refuses it too.
    await expect(new TokenService(repo, clock).verify(token)).resolves.toEqual({
      ok: false,
      reason: 'revoked',
    });
  });

  it('should record last_used_at when a token is verified', async () => {
    const { info, token } = await service.create({ role: 'operator', scope: '', name: `${run} touch` });
    await service.verify(token);
    const found = await repo.findById(info.id);
    expect(found?.lastUsedAt?.getTime()).toBe(clock.now());
  });

  it('should refuse a forged secret for an existing id when verifying', async () => {
    const { info } = await service.create({ role: 'operator', scope: '', name: `${run} forged` });
    await expect(service.verify(`hzw_${info.id}_${'A'.repeat(43)}`)).resolves.toEqual({
      ok: false,
      reason: 'unknown',
    });
  });

  it('should list tokens without any secret when listing', async () => {
    const { info, token } = await service.create({
      role: 'supervisor',
      scope: 'tianjin',
      name: `${run} list`,
    });
    const listed = (await service.list()).find((t) => t.id === info.id);
    expect(listed).toMatchObject({ role: 'supervisor', scope: 'tianjin', revokedAt: null });
    expect(JSON.stringify(await service.list())).not.toContain(token.split('_').at(-1));
  });

  it('should reject rows the checks forbid when inserting directly', async () => {
    await expect(
      pool.query(
        `INSERT INTO api_token (id, name, role, scope, token_hash) VALUES ('abcdefabcdef', 'x', 'root', '', $1)`,
        [hashToken(run)],
      ),
    ).rejects.toThrow(/api_token_role_check/);
    await expect(
      pool.query(
        `INSERT INTO api_token (id, name, role, scope, token_hash) VALUES ('abcdefabcdef', 'x', 'operator', 'tianjin/', $1)`,
        [hashToken(run)],
      ),
    ).rejects.toThrow(/api_token_scope_check/);
  });

  describe('token CLI', () => {
    const io = () => {
      const out: string[] = [];
      const err: string[] = [];
      const cli: CliIo = { out: (s) => out.push(s), err: (s) => err.push(s) };
      return { cli, out: () => out.join(''), err: () => err.join('') };
    };

    it('should print a new token once, list it without the secret, and revoke it when run end to end', async () => {
      const env = { DATABASE_URL: url, CONFIG_DIR: './config' };
      const created = io();
      await expect(
        runTokenCli(
          ['create', '--role', 'regulator', '--scope', 'tianjin/binhai', '--name', `${run} cli`],
          env,
          created.cli,
        ),
      ).resolves.toBe(0);
      const token = /(hzw_[0-9a-f]{12}_[A-Za-z0-9_-]{43})/.exec(created.out())?.[1];
      expect(token).toBeDefined();
      const id = token!.slice(4, 16);
      await expect(service.verify(token!)).resolves.toMatchObject({
        ok: true,
        principal: { role: 'regulator', scope: 'tianjin/binhai' },
      });

      const listed = io();
      await expect(runTokenCli(['list'], env, listed.cli)).resolves.toBe(0);
      expect(listed.out()).toContain(id);
      expect(listed.out()).toContain(`${run} cli`);
      expect(listed.out()).not.toContain(token!.slice(17));

      const revoked = io();
      await expect(runTokenCli(['revoke', id], env, revoked.cli)).resolves.toBe(0);
      expect(revoked.out()).toContain(`Revoked token ${id}`);
      await expect(new TokenService(repo, clock).verify(token!)).resolves.toEqual({
        ok: false,
        reason: 'revoked',
      });

      const again = io();
      await expect(runTokenCli(['revoke', 'ffffffffffff'], env, again.cli)).resolves.toBe(1);
      expect(again.err()).toContain("no token with id 'ffffffffffff'");
    });

    it('should warn when a scope covers no site of the plant model', async () => {
      const created = io();
      await expect(
        runTokenCli(
          ['create', '--role', 'regulator', '--scope', 'tianjin/bin', '--name', `${run} typo`],
          { DATABASE_URL: url, CONFIG_DIR: './config' },
          created.cli,
        ),
      ).resolves.toBe(0);
      expect(created.err()).toMatch(/scope 'tianjin\/bin' covers no site/);
    });
  });
});
