import { Inject, Injectable } from '@nestjs/common';
import type { Role } from './principal';
import { isRole } from './domain/token.format';
import { AUTH_SQL, type SqlClient } from './sql-client.port';

/** One row of api_token, checked at the boundary. Never carries a secret, only its hash. */
export type TokenRecord = {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly scope: string;
  readonly tokenHash: Buffer;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
  readonly lastUsedAt: Date | null;
};

type TokenRow = {
  id: string;
  name: string;
  role: string;
  scope: string;
  token_hash: Buffer;
  created_at: Date;
  revoked_at: Date | null;
  last_used_at: Date | null;
};

const COLUMNS = 'id, name, role, scope, token_hash, created_at, revoked_at, last_used_at';
const INSERT = `INSERT INTO api_token (id, name, role, scope, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`;
const FIND_BY_ID = `SELECT ${COLUMNS} FROM api_token WHERE id = $1`;
const LIST = `SELECT ${COLUMNS} FROM api_token ORDER BY created_at, id`;
const COUNT = `SELECT count(*)::int AS n FROM api_token`;
const REVOKE = `UPDATE api_token SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING ${COLUMNS}`;
/** Only moves forward, so concurrent servers (or a late write) never move it back. */
const TOUCH = `UPDATE api_token SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)`;

function toRecord(row: TokenRow): TokenRecord {
  if (!isRole(row.role)) throw new Error(`api_token ${row.id}: unexpected role '${row.role}' in database`);
  if (!Buffer.isBuffer(row.token_hash) || row.token_hash.length !== 32)
    throw new Error(`api_token ${row.id}: token_hash is not a 32-byte SHA-256 digest`);
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    scope: row.scope,
    tokenHash: row.token_hash,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}

/** api_token table access: parameterised constants, rows checked on the way out. */
@Injectable()
export class TokenRepository {
  constructor(@Inject(AUTH_SQL) private readonly db: SqlClient) {}

  async insert(t: {
    id: string;
    name: string;
    role: Role;
    scope: string;
    tokenHash: Buffer;
    createdAt: Date;
  }): Promise<TokenRecord> {
    const res = await this.db.query<TokenRow>(INSERT, [
      t.id,
      t.name,
      t.role,
      t.scope,
      t.tokenHash,
      t.createdAt,
    ]);
    const row = res.rows[0];
    if (!row) throw new Error('api_token insert returned no row');
    return toRecord(row);
  }

  async findById(id: string): Promise<TokenRecord | undefined> {
    const res = await this.db.query<TokenRow>(FIND_BY_ID, [id]);
    const row = res.rows[0];
    return row ? toRecord(row) : undefined;
  }

  async list(): Promise<TokenRecord[]> {
    const res = await this.db.query<TokenRow>(LIST);
    return res.rows.map(toRecord);
  }

  async count(): Promise<number> {
    const res = await this.db.query<{ n: number }>(COUNT);
    return res.rows[0]?.n ?? 0;
  }

  /** Sets revoked_at; undefined when the id does not exist or was already revoked. */
  async revoke(id: string, at: Date): Promise<TokenRecord | undefined> {
    const res = await this.db.query<TokenRow>(REVOKE, [id, at]);
    const row = res.rows[0];
    return row ? toRecord(row) : undefined;
  }

  async touch(id: string, at: Date): Promise<void> {
    await this.db.query(TOUCH, [id, at]);
  }
}
