import { ManualClock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import type { AppConfig } from '../config/app-config';
import type { Database } from '../storage/database.service';
import { AuthStartupService, DEMO_TOKENS } from './auth-startup.service';
import { FakeTokenRepository } from './testing/fake-token.repository';
import { TokenService } from './token.service';

const config = (env: Record<string, unknown>) =>
  ({
    env: { HOST: '127.0.0.1', PORT: 3000, HAZWATCH_DEMO: false, ...env },
    configDir: '/nowhere',
    dataDir: '/nowhere/data',
    plant: { sites: [] },
  }) as unknown as AppConfig;

describe('AuthStartupService', () => {
  let repo: FakeTokenRepository;
  let tokens: TokenService;
  let printed: string[];
  const database = {
    connectionString: 'postgres://postgres:***@127.0.0.1:54329/hazwatch',
  } as unknown as Database;

  beforeAll(() => JsonLogger.setLevel('error'));

  beforeEach(() => {
    repo = new FakeTokenRepository();
    tokens = new TokenService(repo.asRepository(), new ManualClock(Date.UTC(2026, 10, 24)));
    printed = [];
  });

  const start = async (env: Record<string, unknown>) => {
    const svc = new AuthStartupService(config(env), tokens, database, { write: (t) => printed.push(t) });
    await svc.onApplicationBootstrap();
    await svc.demoDone();
    return svc;
  };

  it('should create operator, supervisor, Binhai regulator and admin tokens and print each once when demo mode starts with no token', async () => {
    await start({ HAZWATCH_DEMO: true });
    const listed = await tokens.list();
    expect(listed.map((t) => [t.role, t.scope, t.name])).toEqual(
      DEMO_TOKENS.map((d) => [d.role, d.scope, d.name]),
    );
    expect(listed.find((t) => t.role === 'regulator')?.scope).toBe('tianjin/binhai');
    expect(printed).toHaveLength(1);
    const block = printed[0]!;
    const shown = block.match(/hzw_[0-9a-f]{12}_[A-Za-z0-9_-]{43}/g) ?? [];
    expect(shown).toHaveLength(4);
    for (const token of shown) await expect(tokens.verify(token)).resolves.toMatchObject({ ok: true });
    expect(block).toContain('ONLY THIS ONCE');
    expect(block).toContain('http://127.0.0.1:3000/');
  });

  it('should create and print nothing when tokens already exist', async () => {
    await tokens.create({ role: 'admin', scope: '', name: 'existing' });
    await start({ HAZWATCH_DEMO: true });
    expect(await tokens.count()).toBe(1);
    expect(printed).toEqual([]);
  });

  it('should create nothing when demo mode is off', async () => {
    await start({ HAZWATCH_DEMO: false });
    expect(await tokens.count()).toBe(0);
    expect(printed).toEqual([]);
  });

  it('should not fail start-up when the database refuses the demo tokens', async () => {
    repo.failing = true;
    await expect(start({ HAZWATCH_DEMO: true })).resolves.toBeDefined();
    expect(printed).toEqual([]);
  });

  it('should not offer a CLI database URL when DATABASE_URL is set', async () => {
    const svc = await start({ DATABASE_URL: 'postgres://u:secret@db/hazwatch' });
    expect(svc.cliDatabaseUrl()).toBeUndefined();
  });

  it('should offer the masked embedded URL, never a password, when no password file is readable', async () => {
    const svc = await start({});
    expect(svc.cliDatabaseUrl()).toBe('postgres://postgres:***@127.0.0.1:54329/hazwatch');
  });

  describe('start-up banner held until the end of start-up (npm start)', () => {
    const held = async (env: Record<string, unknown>) => {
      const svc = new AuthStartupService(config(env), tokens, database, { write: (t) => printed.push(t) });
      svc.holdBanner();
      await svc.onApplicationBootstrap();
      await svc.demoDone();
      return svc;
    };

    it('should print the demo tokens only when released, with the port the server really listens on', async () => {
      const svc = await held({ HAZWATCH_DEMO: true, PORT: 0 });
      expect(printed).toEqual([]);
      svc.releaseBanner(3391);
      expect(printed).toHaveLength(1);
      expect(printed[0]!.match(/hzw_[0-9a-f]{12}_[A-Za-z0-9_-]{43}/g)).toHaveLength(4);
      expect(printed[0]).toContain('Console:  http://127.0.0.1:3391/');
    });

    it('should print where the console is, and no token, when tokens already existed', async () => {
      await tokens.create({ role: 'admin', scope: '', name: 'existing' });
      const svc = await held({ HAZWATCH_DEMO: true });
      svc.releaseBanner(3000);
      expect(printed).toHaveLength(1);
      expect(printed[0]).toContain('Console: http://127.0.0.1:3000/');
      expect(printed[0]).not.toMatch(/hzw_/);
    });

    it('should log where the console is, and print no banner, outside demo mode', async () => {
      const svc = await held({ HAZWATCH_DEMO: false });
      svc.releaseBanner(3000);
      expect(printed).toEqual([]);
    });

    it('should print the demo tokens after the banner when they are created after start-up ended', async () => {
      let unblock!: () => void;
      const slow = new Promise<void>((r) => (unblock = r));
      const count = tokens.count.bind(tokens);
      jest.spyOn(tokens, 'count').mockImplementationOnce(async () => {
        await slow;
        return count();
      });
      const svc = new AuthStartupService(config({ HAZWATCH_DEMO: true }), tokens, database, {
        write: (t) => printed.push(t),
      });
      svc.holdBanner();
      const boot = svc.onApplicationBootstrap(); // waits for the demo tokens (up to 15 s): released before they exist
      svc.releaseBanner(3000);
      expect(printed).toHaveLength(1);
      expect(printed[0]).toContain('still being created');
      unblock();
      await boot;
      await svc.demoDone();
      expect(printed).toHaveLength(2);
      expect(printed[1]!.match(/hzw_[0-9a-f]{12}_[A-Za-z0-9_-]{43}/g)).toHaveLength(4);
    });
  });
});
