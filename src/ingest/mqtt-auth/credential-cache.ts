import { createHmac, randomBytes } from 'node:crypto';

/** How long a verified password is trusted without hashing it again. */
export const VERIFIED_TTL_MS = 10 * 60_000;
/** Most (user, password) pairs remembered; the oldest is forgotten first. */
export const VERIFIED_MAX = 10_000;

/**
 * Remembers successful password checks of the embedded broker, so a reconnect storm (a broker or gateway restart, 1,000
 * devices of one site sharing its credentials) costs one scrypt per distinct (user, password) instead of one per CONNECT:
 * at N=16384 one check is ~50–100 ms of CPU and 16 MiB, and 75 demo devices connecting at once took over 10 s on a
 * loaded 2-core machine. Concurrent checks of the same pair share one scrypt.
 *
 * - Keyed by username and an HMAC of the password under a random per-process key (no plain or fast-hashed password
 *   kept); bound to the stored hash it was verified against, so a changed password or removed user is checked afresh.
 * - Only successes are remembered: a wrong password always pays the full scrypt (no cheap guessing).
 */
export class VerifiedCredentials {
  private readonly key = randomBytes(32);
  private readonly verified = new Map<string, { hash: string; at: number }>();
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly ttlMs = VERIFIED_TTL_MS,
    private readonly max = VERIFIED_MAX,
  ) {}

  /** Whether `password` matches `storedHash`, using `verify` (the slow check) only when not known already. */
  async check(
    username: string,
    password: string,
    storedHash: string,
    verify: () => Promise<boolean>,
  ): Promise<boolean> {
    const id = `${username}\u0000${createHmac('sha256', this.key).update(password).digest('base64')}\u0000${storedHash}`;
    const known = this.verified.get(id);
    if (known && this.now() - known.at < this.ttlMs) return true;
    if (known) this.verified.delete(id);
    let pending = this.inFlight.get(id);
    if (!pending) {
      pending = verify().finally(() => this.inFlight.delete(id));
      this.inFlight.set(id, pending);
    }
    const ok = await pending;
    if (ok && !this.verified.has(id)) {
      if (this.verified.size >= this.max) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(id, { hash: storedHash, at: this.now() });
    }
    return ok;
  }

  get size(): number {
    return this.verified.size;
  }
}
