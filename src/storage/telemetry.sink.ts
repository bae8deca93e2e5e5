import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { BINARY_HEADER, BINARY_TRAILER, isBinaryChunk, partitionRetimed } from './copy-binary';
import { chunkRows } from './copy-chunk';
import { copyColumnsOf, TELEMETRY_COLUMNS } from './copy-row.encoder';

/**
 * Port for the writer's database side: one COPY of a chunk — binary tuples without header and trailer (the live
 * lane, src/storage/copy-binary.ts) or COPY-text lines (spool segments of older versions) — committed atomically
 * (COPY outside a transaction block is its own transaction). Unit tests fake it.
 *
 * Idempotent (docs/adr/0014-idempotent-telemetry.md): a reading whose key is already stored is not stored again, so
 * the writer may re-send a chunk (spool replay after a COPY whose commit it never heard, broker redelivery).
 */
export type TelemetrySink = {
  copy(chunk: string | Buffer, rows: number): Promise<void>;
  /** Releases what the sink holds (a worker thread), after the writer's last COPY. */
  close?(): Promise<void>;
};

/** Something that lends a pooled client (Database implements it). */
export type ClientSource = { acquire(): Promise<PoolClient> };

/** PostgreSQL error code of an error thrown by pg (SQLSTATE), if any. */
export function sqlState(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/**
 * True when the database rejected the *data* (SQLSTATE class 22 data exception, 23 integrity violation):
 * retrying the same rows can never succeed, so the writer isolates the bad rows instead of retrying.
 * Anything else (connection lost, timeouts, missing table, ...) is treated as transient and retried.
 */
export function isDataError(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && (code.startsWith('22') || code.startsWith('23'));
}

/** What one idempotent write did: rows new in the table, rows already stored, and of those the ones that differ. */
export type CopyOutcome = {
  readonly rows: number;
  readonly inserted: number;
  /** Rows not written because a row with the same key was already stored (identical or not). */
  readonly duplicates: number;
  /** Of the duplicates, rows whose value/text_value/quality differ from the stored row (kept in telemetry_conflict). */
  readonly conflicts: number;
};

/** Told about every committed write that met already-stored keys (the plain fast path is not reported). */
export type CopyOutcomeListener = (outcome: CopyOutcome) => void;

/** SQLSTATE unique_violation: a row of the COPY has a key already stored (or twice in the chunk). */
export const UNIQUE_VIOLATION = '23505';

export class CopyTimeoutError extends Error {
  constructor(ms: number) {
    super(`COPY did not finish within ${ms} ms; connection discarded`);
    this.name = 'CopyTimeoutError';
  }
}

/** Staging table of the de-duplicating path: per transaction, dropped at commit (the path is rare). */
const STAGE = 'telemetry_stage';
const KEY_MATCH = (a: string, b: string): string =>
  `${a}.time = ${b}.time AND ${a}.site_id = ${b}.site_id AND ${a}.device_id = ${b}.device_id AND ` +
  `${a}.channel = ${b}.channel AND COALESCE(${a}.seq, -1) = COALESCE(${b}.seq, -1)`;
const SAME_VALUE = (a: string, b: string): string =>
  `(${a}.value, ${a}.text_value, ${a}.quality) IS NOT DISTINCT FROM (${b}.value, ${b}.text_value, ${b}.quality)`;
const ALL_COLUMNS = 'time, site_id, device_id, channel, value, text_value, quality, seq';

/** The de-duplicating write, after the plain COPY met a stored key (exported for tests and docs). */
export const DEDUP_SQL = {
  // source_time: set only on re-timed readings' rows (RETIMED_SQL); NULL for the others.
  stage: `CREATE TEMP TABLE ${STAGE} (LIKE telemetry INCLUDING DEFAULTS, source_time timestamptz) ON COMMIT DROP`,
  insert:
    `WITH ins AS (INSERT INTO telemetry (${ALL_COLUMNS}) SELECT ${ALL_COLUMNS} FROM ${STAGE} ` +
    `ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*)::int AS n FROM ins`,
  // Staged rows whose stored twin differs: counted, and recorded once each in telemetry_conflict.
  conflicts:
    `WITH diff AS (SELECT s.* FROM ${STAGE} s JOIN telemetry t ON ${KEY_MATCH('t', 's')} WHERE NOT ${SAME_VALUE('t', 's')}), ` +
    `rec AS (INSERT INTO telemetry_conflict (${ALL_COLUMNS}) SELECT DISTINCT ${ALL_COLUMNS} FROM diff d ` +
    `WHERE NOT EXISTS (SELECT 1 FROM telemetry_conflict c WHERE ${KEY_MATCH('c', 'd')} AND ${SAME_VALUE('c', 'd')}) RETURNING 1) ` +
    `SELECT (SELECT count(*) FROM diff)::int AS conflicts, (SELECT count(*) FROM rec)::int AS recorded`,
} as const;

/**
 * Re-timed readings (docs/adr/0027-retimed-readings-key.md): their `time` is their arrival, which a redelivery does not
 * repeat, so their key is the device's own time in `telemetry_retimed`. Staged with source_time set, each claims its
 * key there first; the staged rows whose claim did not succeed (a redelivery: the key is stored, with the time of the
 * first copy) are removed from the stage before the stage goes into telemetry. A key claimed twice within one chunk
 * keeps one row: the claim's `time` names which.
 */
export const RETIMED_SQL = {
  claim:
    `WITH claimed AS (INSERT INTO telemetry_retimed (site_id, device_id, channel, source_time, seq_key, time) ` +
    `SELECT DISTINCT ON (site_id, device_id, channel, source_time, COALESCE(seq, -1)) ` +
    `site_id, device_id, channel, source_time, COALESCE(seq, -1), time FROM ${STAGE} WHERE source_time IS NOT NULL ` +
    `ORDER BY site_id, device_id, channel, source_time, COALESCE(seq, -1), time ` +
    `ON CONFLICT DO NOTHING RETURNING site_id, device_id, channel, source_time, seq_key, time) ` +
    `DELETE FROM ${STAGE} s WHERE s.source_time IS NOT NULL AND NOT EXISTS (SELECT 1 FROM claimed k WHERE ` +
    `k.site_id = s.site_id AND k.device_id = s.device_id AND k.channel = s.channel AND ` +
    `k.source_time = s.source_time AND k.seq_key = COALESCE(s.seq, -1) AND k.time = s.time)`,
} as const;

/** Columns of a re-timed reading's binary tuple (copy-binary.ts, RETIMED_FIELDS). */
const RETIMED_COLUMNS = `${TELEMETRY_COLUMNS}, source_time`;

/**
 * COPY FROM STDIN through pg-copy-streams on a pooled connection, with a client-side timeout.
 *
 * Exactly-once rows under re-sends (docs/adr/0014-idempotent-telemetry.md): `telemetry_reading_key` is unique, so a
 * chunk holding an already-stored reading fails the plain COPY with 23505 and nothing of it is written. The chunk is
 * then written again through a per-transaction staging table and `INSERT … ON CONFLICT DO NOTHING` (first stored
 * wins); stored twins whose value differs are recorded in `telemetry_conflict`. Chunks without duplicates — all of
 * them in normal operation — cost one plain COPY, as before.
 */
export class PgTelemetrySink implements TelemetrySink {
  constructor(
    private readonly source: ClientSource,
    private readonly timeoutMs = 30_000,
    private readonly onOutcome: CopyOutcomeListener = () => undefined,
  ) {}

  async copy(chunk: string | Buffer, rows = chunkRows(chunk)): Promise<void> {
    await this.write(chunk, rows);
  }

  /** Like copy, and says what happened (undefined: the plain COPY stored every row). */
  async write(chunk: string | Buffer, rows = chunkRows(chunk)): Promise<CopyOutcome | undefined> {
    if (isBinaryChunk(chunk)) {
      const parts = partitionRetimed(chunk as Buffer);
      if (parts.retimedRows > 0) return this.writeWithRetimed(parts);
    }
    const body = copyBody(chunk);
    try {
      await this.withClient((client) => this.copyInto(client, 'telemetry', body));
      return undefined;
    } catch (err) {
      if (sqlState(err) !== UNIQUE_VIOLATION) throw err;
    }
    const outcome = await this.withClient((client) => this.dedupWrite(client, body, rows));
    this.onOutcome(outcome);
    return outcome;
  }

  /**
   * A chunk holding re-timed readings, in one transaction: the plain tuples by a plain COPY into telemetry (as every
   * other chunk), the re-timed ones through the stage and their key in telemetry_retimed. When the plain COPY meets a
   * stored key (23505), the whole chunk goes through the stage instead, as in dedupWrite. No trigger on telemetry: its
   * COPY stays batched for the plain rows.
   */
  private async writeWithRetimed(
    parts: ReturnType<typeof partitionRetimed>,
  ): Promise<CopyOutcome | undefined> {
    const rows = parts.plainRows + parts.retimedRows;
    const plain = parts.plainRows > 0 ? copyBody(parts.plain) : undefined;
    const retimed: CopyBody = {
      columns: RETIMED_COLUMNS,
      options: ' (FORMAT binary)',
      parts: [BINARY_HEADER, parts.retimed, BINARY_TRAILER],
    };
    const run = async (client: PoolClient, stagePlain: boolean): Promise<CopyOutcome> => {
      await client.query('BEGIN');
      if (plain && !stagePlain) await this.copyInto(client, 'telemetry', plain);
      await client.query(DEDUP_SQL.stage);
      if (plain && stagePlain) await this.copyInto(client, STAGE, plain);
      await this.copyInto(client, STAGE, retimed);
      await client.query(RETIMED_SQL.claim);
      const ins = await client.query<{ n: number }>(DEDUP_SQL.insert);
      const inserted = (ins.rows[0]?.n ?? 0) + (stagePlain ? 0 : parts.plainRows);
      let conflicts = 0;
      if (inserted < rows) {
        const c = await client.query<{ conflicts: number }>(DEDUP_SQL.conflicts);
        conflicts = c.rows[0]?.conflicts ?? 0;
      }
      await client.query('COMMIT');
      return { rows, inserted, duplicates: rows - inserted, conflicts };
    };
    let outcome: CopyOutcome;
    try {
      outcome = await this.withClient((client) => run(client, false));
    } catch (err) {
      if (sqlState(err) !== UNIQUE_VIOLATION) throw err;
      outcome = await this.withClient((client) => run(client, true));
    }
    if (outcome.duplicates === 0) return undefined; // like the plain path: only a write that met stored keys reports
    this.onOutcome(outcome);
    return outcome;
  }

  private async dedupWrite(client: PoolClient, body: CopyBody, rows: number): Promise<CopyOutcome> {
    await client.query('BEGIN');
    await client.query(DEDUP_SQL.stage);
    await this.copyInto(client, STAGE, body);
    const ins = await client.query<{ n: number }>(DEDUP_SQL.insert);
    const inserted = ins.rows[0]?.n ?? 0;
    let conflicts = 0;
    if (inserted < rows) {
      const c = await client.query<{ conflicts: number }>(DEDUP_SQL.conflicts);
      conflicts = c.rows[0]?.conflicts ?? 0;
    }
    await client.query('COMMIT');
    return { rows, inserted, duplicates: rows - inserted, conflicts };
  }

  private async copyInto(client: PoolClient, table: string, body: CopyBody): Promise<void> {
    const stream = client.query(copyFrom(`COPY ${table} (${body.columns}) FROM STDIN${body.options}`));
    await pipeline(Readable.from(body.parts), stream);
  }

  /**
   * Runs `work` on a pooled client within the timeout. A failed or hung statement leaves the connection in an unknown
   * state (mid-COPY, mid-transaction): it is discarded, never reused.
   */
  private async withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.source.acquire();
    // A checked-out client has no pool error listener: a lost connection must reject this write, not crash.
    const onError = (): void => undefined;
    client.on('error', onError);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CopyTimeoutError(this.timeoutMs)), this.timeoutMs);
    });
    const run = work(client);
    try {
      const result = await Promise.race([run, timeout]);
      client.removeListener('error', onError);
      client.release();
      return result;
    } catch (err) {
      run.catch(() => undefined); // settled later when the connection is torn down
      client.removeListener('error', onError);
      client.release(err instanceof Error ? err : new Error(String(err)));
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** What goes on the wire for one chunk: the column list, the format option and the bytes (binary gets its framing). */
type CopyBody = { readonly columns: string; readonly options: string; readonly parts: readonly Buffer[] };

export function copyBody(chunk: string | Buffer): CopyBody {
  if (isBinaryChunk(chunk))
    return {
      columns: TELEMETRY_COLUMNS,
      options: ' (FORMAT binary)',
      parts: [BINARY_HEADER, chunk as Buffer, BINARY_TRAILER],
    };
  const text = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
  return { columns: copyColumnsOf(text), options: '', parts: [text] };
}
