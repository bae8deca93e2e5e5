import { VerifiedCredentials } from './credential-cache';

describe('VerifiedCredentials', () => {
  function setup(max = 100) {
    let t = 1_000_000;
    const cache = new VerifiedCredentials(() => t, 60_000, max);
    const calls: string[] = [];
    const verifier = (expected: string, pw: string) => () => {
      calls.push(pw);
      return Promise.resolve(pw === expected);
    };
    return { cache, calls, verifier, advance: (ms: number) => (t += ms) };
  }

  it('should verify a password once and trust the same (user, password, hash) until the TTL passes', async () => {
    const { cache, calls, verifier, advance } = setup();
    for (let i = 0; i < 3; i++)
      expect(await cache.check('site-a', 'pw', 'H1', verifier('pw', 'pw'))).toBe(true);
    expect(calls).toEqual(['pw']);
    advance(60_000);
    expect(await cache.check('site-a', 'pw', 'H1', verifier('pw', 'pw'))).toBe(true);
    expect(calls).toEqual(['pw', 'pw']);
  });

  it('should never remember a failure: every wrong password pays the full check', async () => {
    const { cache, calls, verifier } = setup();
    for (let i = 0; i < 3; i++)
      expect(await cache.check('site-a', 'guess', 'H1', verifier('pw', 'guess'))).toBe(false);
    expect(calls).toHaveLength(3);
    expect(cache.size).toBe(0);
  });

  it('should check afresh when the stored hash changed (password changed) or for another user', async () => {
    const { cache, calls, verifier } = setup();
    await cache.check('site-a', 'pw', 'H1', verifier('pw', 'pw'));
    expect(await cache.check('site-a', 'pw', 'H2', verifier('other', 'pw'))).toBe(false);
    expect(await cache.check('site-b', 'pw', 'H1', verifier('pw', 'pw'))).toBe(true);
    expect(calls).toHaveLength(3);
  });

  it('should share one check between concurrent connects with the same credentials', async () => {
    const { cache } = setup();
    let runs = 0;
    let release!: (ok: boolean) => void;
    const slow = () => {
      runs++;
      return new Promise<boolean>((r) => (release = r));
    };
    const all = Promise.all(Array.from({ length: 75 }, () => cache.check('site-a', 'pw', 'H1', slow)));
    release(true);
    expect(await all).toEqual(Array.from({ length: 75 }, () => true));
    expect(runs).toBe(1);
  });

  it('should forget the oldest entry beyond its size', async () => {
    const { cache } = setup(2);
    const calls: string[] = [];
    const ok = (label: string) => () => (calls.push(label), Promise.resolve(true));
    for (const u of ['a', 'b', 'c']) await cache.check(u, 'pw', 'H', ok(u));
    expect(cache.size).toBe(2);
    await cache.check('c', 'pw', 'H', ok('c-again'));
    await cache.check('a', 'pw', 'H', ok('a-again'));
    expect(calls).toEqual(['a', 'b', 'c', 'a-again']);
  });
});
