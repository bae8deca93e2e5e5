/**
 * Revocation takes effect on every server at once (docs/threat-model.md, "Tokens"): two token services with their own
 * pools stand for two server processes on one database. A revocation made by one of them, by the token CLI or by
 * plain SQL is refused by the other within 2 s, and its revocation feed (which closes /ws sessions) fires.
 */
import { Pool } from 'pg';
import { systemClock } from '../../src/common/clock';
import { JsonLogger } from '../../src/common/logger';
import { runTokenCli } from '../../src/auth/token.cli';
import { TokenRepository } from '../../src/auth/token.repository';
import { TokenRevocationListener } from '../../src/auth/token-revocation.listener';
import { TokenService, type TokenRevocation } from '../../src/auth/token.service';
import { pollUntil } from '../setup/poll-until';
import { TEST_DATABASE_URL as url, describeWithDb, prepareTestDatabase } from '../setup/test-db';

const suite = describeWithDb('token-revocation.int-spec');
const run = `revoke-it-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

suite('token revocation across server processes (LISTEN/NOTIFY, real database)', () => {
  let poolA: Pool;
  let poolB: Pool;
  let serverA: TokenService;
  let serverB: TokenService;
  let listenerB: TokenRevocationListener;
  const heardByB: TokenRevocation[] = [];

  beforeAll(async () => {
    JsonLogger.setLevel('error');
    await prepareTestDatabase(url!);
    poolA = new Pool({ connectionString: url, max: 2 });
    poolB = new Pool({ connectionString: url, max: 3, application_name: `hzw-${run}`.slice(0, 63) });
    // Real clock: the 30 s cache window is what a missing notification would leave open.
    serverA = new TokenService(new TokenRepository(poolA), systemClock);
    serverB = new TokenService(new TokenRepository(poolB), systemClock);
    serverB.revocations$.subscribe((r) => heardByB.push(r));
    listenerB = new TokenRevocationListener(serverB, () => poolB.connect());
    await listenerB.start();
    expect(listenerB.isListening).toBe(true);
  });

  afterAll(async () => {
    await listenerB?.stop();
    await poolA?.end();
    await poolB?.end();
  });

  const createVerified = async (label: string): Promise<{ id: string; token: string }> => {
    const { info, token } = await serverA.create({ role: 'operator', scope: '', name: `${run} ${label}` });
    // B verifies it first, so it sits in B's cache
    await expect(serverB.verify(token)).resolves.toMatchObject({ ok: true });
    await expect(serverB.verify(token)).resolves.toMatchObject({ ok: true });
    return { id: info.id, token };
  };

  const refusedByB = (token: string, id: string): Promise<unknown> => {
    const t0 = Date.now();
    return pollUntil(
      async () => {
        const r = await serverB.verify(token);
        return !r.ok && r.reason === 'revoked' && heardByB.some((h) => h.kind === 'token' && h.id === id)
          ? Date.now() - t0
          : 0;
      },
      { timeoutMs: 2_000, intervalMs: 20, what: `server B refusing revoked token ${id}` },
    );
  };

  it('should refuse on server B within 2 s a token revoked through server A', async () => {
    const { id, token } = await createVerified('via server A');
    await serverA.revoke(id);
    await refusedByB(token, id);
  });

  it('should refuse on server B within 2 s a token revoked with the CLI', async () => {
    const { id, token } = await createVerified('via CLI');
    const out: string[] = [];
    const code = await runTokenCli(
      ['revoke', id],
      { DATABASE_URL: url },
      { out: (s) => out.push(s), err: (s) => out.push(s) },
    );
    expect(code).toBe(0);
    await refusedByB(token, id);
  });

  it('should refuse on server B within 2 s a token revoked by plain SQL', async () => {
    const { id, token } = await createVerified('via SQL');
    await poolA.query('UPDATE api_token SET revoked_at = now() WHERE id = $1', [id]);
    await refusedByB(token, id);
  });

  it('should re-listen after losing its connection and tell holders to re-check (resync)', async () => {
    const before = heardByB.filter((h) => h.kind === 'resync').length;
    // the database ends B's LISTEN connection (as a restart or a network cut would)
    await poolA.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND query = 'LISTEN hazwatch_token_revoked'`,
      [`hzw-${run}`.slice(0, 63)],
    );
    await pollUntil(
      () => heardByB.filter((h) => h.kind === 'resync').length > before && listenerB.isListening,
      {
        timeoutMs: 10_000,
        what: 'listener back with a resync',
      },
    );
    const { id, token } = await createVerified('after reconnect');
    await serverA.revoke(id);
    await refusedByB(token, id);
  });
});
