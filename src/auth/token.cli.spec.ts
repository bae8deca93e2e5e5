import { formatTokenList, runTokenCli, type CliIo } from './token.cli';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (s) => out.push(s), err: (s) => err.push(s) };
  return { io, out: () => out.join(''), err: () => err.join('') };
}

// No DATABASE_URL anywhere in these tests: every path below must answer before connecting.
describe('token CLI (no database)', () => {
  it('should explain how to reach the embedded database when DATABASE_URL is unset', async () => {
    const c = capture();
    await expect(runTokenCli(['list'], {}, c.io)).resolves.toBe(78);
    expect(c.err()).toContain('DATABASE_URL is not set');
    expect(c.err()).toContain('embedded PostgreSQL');
    expect(c.err()).toContain('while that server runs');
  });

  it('should refuse an unknown role before connecting when creating', async () => {
    const c = capture();
    await expect(runTokenCli(['create', '--role', 'root', '--name', 'x'], {}, c.io)).resolves.toBe(64);
    expect(c.err()).toMatch(/role must be one of operator, supervisor, regulator, admin/);
    expect(c.err()).not.toContain('DATABASE_URL is not set');
  });

  it('should refuse a malformed scope when creating', async () => {
    const c = capture();
    await expect(
      runTokenCli(['create', '--role', 'regulator', '--scope', 'tianjin/binhai/', '--name', 'x'], {}, c.io),
    ).resolves.toBe(64);
    expect(c.err()).toMatch(/scope must be a jurisdiction path/);
  });

  it('should name the missing options when create lacks --role and --name', async () => {
    const c = capture();
    await expect(runTokenCli(['create'], {}, c.io)).resolves.toBe(64);
    expect(c.err()).toContain('--role is required');
    expect(c.err()).toContain('--name is required');
  });

  it('should refuse a revoke without a well-formed id', async () => {
    const c = capture();
    await expect(runTokenCli(['revoke', 'hzw_0123456789ab_secret'], {}, c.io)).resolves.toBe(64);
    expect(c.err()).toContain('12 hex characters');
  });

  it('should print usage and fail when no command is given', async () => {
    const c = capture();
    await expect(runTokenCli([], {}, c.io)).resolves.toBe(64);
    expect(c.err()).toContain('Usage:');
  });

  it('should print usage and succeed when asked for help', async () => {
    const c = capture();
    await expect(runTokenCli(['--help'], {}, c.io)).resolves.toBe(0);
    expect(c.out()).toContain('npm run token -- create');
  });

  it('should refuse an unknown option', async () => {
    const c = capture();
    await expect(runTokenCli(['list', '--colour'], {}, c.io)).resolves.toBe(64);
    expect(c.err()).toMatch(/Unknown option '--colour'/);
  });

  it('should format a list as aligned columns with (all) for an empty scope', () => {
    const text = formatTokenList([
      {
        id: '0123456789ab',
        name: 'demo operator',
        role: 'operator',
        scope: '',
        createdAt: new Date('2026-11-24T10:00:00Z'),
        revokedAt: null,
        lastUsedAt: null,
      },
      {
        id: 'ba0ba0ba0ba0',
        name: 'Binhai ESB',
        role: 'regulator',
        scope: 'tianjin/binhai',
        createdAt: new Date('2026-11-24T10:00:00Z'),
        revokedAt: new Date('2026-11-25T08:30:00Z'),
        lastUsedAt: new Date('2026-11-25T08:00:00.123Z'),
      },
    ]);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+ROLE\s+SCOPE\s+NAME\s+CREATED\s+LAST USED\s+REVOKED$/);
    expect(lines[1]).toMatch(
      /^0123456789ab\s+operator\s+\(all\)\s+demo operator\s+2026-11-24T10:00:00Z\s+-\s+-$/,
    );
    expect(lines[2]).toContain('2026-11-25T08:30:00Z');
    expect(lines[1]!.indexOf('operator')).toBe(lines[2]!.indexOf('regulator'));
  });
});
