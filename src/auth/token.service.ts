import { Inject, Injectable, Optional } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import type { Principal, Role } from './principal';
import { digestsEqual, generateToken, hashToken, parseToken, validateTokenSpec } from './domain/token.format';
import { TokenRepository, type TokenRecord } from './token.repository';

/** A token as listed: everything but the secret and its hash. */
export type TokenInfo = {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly scope: string;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
  readonly lastUsedAt: Date | null;
};

export type VerifyFailure = 'malformed' | 'unknown' | 'revoked' | 'not_cached';

export type VerifyResult =
  | {
      readonly ok: true;
      readonly principal: Principal;
      /** accepted from cache while the token store was unreachable */ readonly degraded: boolean;
    }
  | { readonly ok: false; readonly reason: VerifyFailure };

export type RevokeResult =
  | { readonly status: 'revoked'; readonly token: TokenInfo }
  | { readonly status: 'already-revoked'; readonly token: TokenInfo }
  | { readonly status: 'not-found' };

export class TokenSpecError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid token request:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'TokenSpecError';
  }
}

/**
 * A revocation this server learnt of: one token (revoked here, or elsewhere and heard by LISTEN), or `resync` when
 * notifications may have been missed (the LISTEN connection was lost): every holder re-checks its tokens.
 */
export type TokenRevocation = { readonly kind: 'token'; readonly id: string } | { readonly kind: 'resync' };

/** A token's standing in the database, for periodic re-checks of long-lived sessions. */
export type TokenStatus = 'active' | 'revoked' | 'unknown';

export type TokenCacheOptions = {
  /**
   * A cached token is re-read from the database after this long. Revocations normally arrive at once through
   * LISTEN/NOTIFY (TokenRevocationListener); this bounds how long a missed one could be honoured.
   */
  readonly recheckMs: number;
  /** The re-read interval while no LISTEN connection is up (revocations are then only seen by re-reading). */
  readonly recheckUnlistenedMs: number;
  /** last_used_at is written at most this often per token. */
  readonly touchMs: number;
  /** While the database is unreachable, a token verified within this long is still accepted (logged as degraded). */
  readonly maxStaleMs: number;
  readonly maxEntries: number;
  /** A token lookup that takes longer fails (→ 503) instead of holding the request while the database is away. */
  readonly lookupTimeoutMs: number;
};

export const DEFAULT_TOKEN_CACHE: TokenCacheOptions = {
  recheckMs: 30_000,
  recheckUnlistenedMs: 1_000,
  touchMs: 60_000,
  maxStaleMs: 10 * 60_000,
  maxEntries: 1_000,
  lookupTimeoutMs: 5_000,
};

/** Optional DI token to override cache timings (tests). */
export const TOKEN_CACHE_OPTIONS = Symbol('TOKEN_CACHE_OPTIONS');

type CacheEntry = { principal: Principal; checkedAt: number; touchedAt: number };

const toInfo = (r: TokenRecord): TokenInfo => ({
  id: r.id,
  name: r.name,
  role: r.role,
  scope: r.scope,
  createdAt: r.createdAt,
  revokedAt: r.revokedAt,
  lastUsedAt: r.lastUsedAt,
});

/**
 * Creates, lists, revokes and verifies API tokens. Secrets exist only in the return value of create(); the database
 * and the cache hold SHA-256 digests (docs/adr/0004-auth.md).
 */
@Injectable()
export class TokenService {
  private readonly log = new JsonLogger('auth');
  /** hex(sha256(token)) → verified principal. Map order = least recently verified first. */
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<VerifyResult>>();
  private readonly opts: TokenCacheOptions;
  private readonly revocationsSubject = new Subject<TokenRevocation>();
  /** Bumped on every revocation: a lookup that started before one does not cache its answer. */
  private revocationEpoch = 0;
  /** Whether a LISTEN connection for revocations is up; undefined when none is used (the CLI, tools, unit tests). */
  private listening: boolean | undefined = undefined;
  /** Every revocation this server learns of, for the /ws gateway (closes the sessions of a revoked token). */
  readonly revocations$: Observable<TokenRevocation> = this.revocationsSubject.asObservable();

  constructor(
    private readonly repo: TokenRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    @Optional() @Inject(TOKEN_CACHE_OPTIONS) opts?: Partial<TokenCacheOptions>,
  ) {
    this.opts = { ...DEFAULT_TOKEN_CACHE, ...opts };
  }

  /** Creates a token; the returned `token` string is the only copy of the secret that will ever exist. */
  async create(spec: {
    role: string;
    scope: string;
    name: string;
  }): Promise<{ info: TokenInfo; token: string }> {
    const problems = validateTokenSpec(spec);
    if (problems.length > 0) throw new TokenSpecError(problems);
    const { id, token } = generateToken();
    const record = await this.repo.insert({
      id,
      name: spec.name.trim(),
      role: spec.role as Role,
      scope: spec.scope,
      tokenHash: hashToken(token),
      createdAt: new Date(this.clock.now()),
    });
    this.log.info('api token created', { id, role: record.role, scope: record.scope, name: record.name });
    return { info: toInfo(record), token };
  }

  async list(): Promise<TokenInfo[]> {
    return (await this.repo.list()).map(toInfo);
  }

  async count(): Promise<number> {
    return this.repo.count();
  }

  async revoke(id: string): Promise<RevokeResult> {
    const revoked = await this.repo.revoke(id, new Date(this.clock.now()));
    this.evictTokenId(id);
    if (revoked) {
      this.revocationsSubject.next({ kind: 'token', id });
      this.log.info('api token revoked', {
        id,
        role: revoked.role,
        scope: revoked.scope,
        name: revoked.name,
      });
      return { status: 'revoked', token: toInfo(revoked) };
    }
    const existing = await this.repo.findById(id);
    return existing ? { status: 'already-revoked', token: toInfo(existing) } : { status: 'not-found' };
  }

  /**
   * Resolves a presented token to its principal. `cachedOnly` answers from the cache alone (used while a client is
   * rate-limited: a token this server already verified keeps working, unknown ones cost no database query).
   * Throws when the token store is unreachable and the token is not (recently enough) cached.
   */
  async verify(raw: string, opts: { cachedOnly?: boolean } = {}): Promise<VerifyResult> {
    const parsed = parseToken(raw);
    if (!parsed) return { ok: false, reason: 'malformed' };
    const hash = hashToken(raw);
    const key = hash.toString('hex');
    const now = this.clock.now();
    const hit = this.cache.get(key);
    const recheckMs =
      this.listening !== false
        ? this.opts.recheckMs
        : Math.min(this.opts.recheckMs, this.opts.recheckUnlistenedMs);
    if (hit && now - hit.checkedAt < recheckMs) {
      await this.touch(hit, now);
      return { ok: true, principal: hit.principal, degraded: false };
    }
    if (!hit && opts.cachedOnly) return { ok: false, reason: 'not_cached' };
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const lookup = this.lookup(parsed.id, hash, key, hit, now).finally(() => this.inflight.delete(key));
    this.inflight.set(key, lookup);
    return lookup;
  }

  private async lookup(
    id: string,
    hash: Buffer,
    key: string,
    hit: CacheEntry | undefined,
    now: number,
  ): Promise<VerifyResult> {
    let record: TokenRecord | undefined;
    const epoch = this.revocationEpoch;
    try {
      record = await this.findById(id);
    } catch (err) {
      if (hit && now - hit.checkedAt < this.opts.maxStaleMs) {
        this.log.warn('token store unreachable: accepting a recently verified token from cache', { id, err });
        return { ok: true, principal: hit.principal, degraded: true };
      }
      throw err;
    }
    // The id selects the row; the digest comparison that decides is constant-time.
    if (!record || !digestsEqual(record.tokenHash, hash)) {
      this.cache.delete(key);
      return { ok: false, reason: 'unknown' };
    }
    if (record.revokedAt !== null) {
      this.cache.delete(key);
      return { ok: false, reason: 'revoked' };
    }
    const entry: CacheEntry = {
      principal: Object.freeze({
        tokenId: record.id,
        name: record.name,
        role: record.role,
        scope: record.scope,
      }),
      checkedAt: now,
      touchedAt: hit?.touchedAt ?? record.lastUsedAt?.getTime() ?? Number.NEGATIVE_INFINITY,
    };
    this.cache.delete(key);
    // A revocation heard while this lookup ran may postdate what it read: answer, but do not cache.
    if (epoch !== this.revocationEpoch) return { ok: true, principal: entry.principal, degraded: false };
    this.cache.set(key, entry);
    while (this.cache.size > this.opts.maxEntries) {
      const oldest = this.cache.keys().next();
      if (oldest.done) break;
      this.cache.delete(oldest.value);
    }
    await this.touch(entry, now);
    return { ok: true, principal: entry.principal, degraded: false };
  }

  private async findById(id: string): Promise<TokenRecord | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`token store did not answer within ${this.opts.lookupTimeoutMs} ms`)),
        this.opts.lookupTimeoutMs,
      );
    });
    try {
      return await Promise.race([this.repo.findById(id), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Writes last_used_at at most once per touchMs per token; a failure is logged, never fails the request. */
  private async touch(entry: CacheEntry, now: number): Promise<void> {
    if (now - entry.touchedAt < this.opts.touchMs) return;
    entry.touchedAt = now;
    try {
      await this.repo.touch(entry.principal.tokenId, new Date(now));
    } catch (err) {
      this.log.warn('could not record last_used_at of an api token', { id: entry.principal.tokenId, err });
    }
  }

  /** A revocation made elsewhere (another server, the CLI, SQL), heard through LISTEN. */
  revokedElsewhere(id: string): void {
    this.evictTokenId(id);
    this.revocationsSubject.next({ kind: 'token', id });
  }

  /**
   * The LISTEN connection came up (again) or went down. On (re)connect notifications may have been missed: the cache
   * is emptied and holders of long-lived sessions are told to re-check.
   */
  setListening(up: boolean): void {
    this.listening = up;
    if (up) {
      this.revocationEpoch += 1;
      this.cache.clear();
      this.revocationsSubject.next({ kind: 'resync' });
    }
  }

  /** The token's standing now, read from the database (throws when it is unreachable). */
  async status(id: string): Promise<TokenStatus> {
    const record = await this.findById(id);
    if (!record) return 'unknown';
    return record.revokedAt === null ? 'active' : 'revoked';
  }

  private evictTokenId(id: string): void {
    this.revocationEpoch += 1;
    for (const [key, entry] of this.cache) if (entry.principal.tokenId === id) this.cache.delete(key);
  }
}
