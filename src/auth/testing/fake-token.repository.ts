import type { TokenRecord, TokenRepository } from '../token.repository';

/** In-memory TokenRepository for unit tests; `failing` simulates an unreachable database. */
export class FakeTokenRepository {
  readonly rows = new Map<string, TokenRecord>();
  readonly calls = { findById: 0, touch: 0 };
  failing = false;

  asRepository(): TokenRepository {
    return this as unknown as TokenRepository;
  }

  private check(): void {
    if (this.failing)
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  }

  async insert(t: Omit<TokenRecord, 'revokedAt' | 'lastUsedAt'>): Promise<TokenRecord> {
    this.check();
    if (this.rows.has(t.id)) throw new Error('duplicate key');
    const row: TokenRecord = { ...t, revokedAt: null, lastUsedAt: null };
    this.rows.set(t.id, row);
    return row;
  }

  async findById(id: string): Promise<TokenRecord | undefined> {
    this.calls.findById++;
    this.check();
    return this.rows.get(id);
  }

  async list(): Promise<TokenRecord[]> {
    this.check();
    return [...this.rows.values()];
  }

  async count(): Promise<number> {
    this.check();
    return this.rows.size;
  }

  async revoke(id: string, at: Date): Promise<TokenRecord | undefined> {
    this.check();
    const row = this.rows.get(id);
    if (!row || row.revokedAt) return undefined;
    const next = { ...row, revokedAt: at };
    this.rows.set(id, next);
    return next;
  }

  async touch(id: string, at: Date): Promise<void> {
    this.calls.touch++;
    this.check();
    const row = this.rows.get(id);
    if (row && (!row.lastUsedAt || row.lastUsedAt < at)) this.rows.set(id, { ...row, lastUsedAt: at });
  }
}
