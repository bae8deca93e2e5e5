/**
 * Which telemetry back end a database gets: TimescaleDB (hypertable, continuous aggregate, policies) or the plain
 * PostgreSQL path (daily BRIN partitions, docs/adr/0007-telemetry-partitions.md). Decided before the migrations run,
 * from what the catalogue says, so that start-up never dies where the plain path works
 * (docs/adr/0017-timescale-path.md).
 *
 * The migrations read the decision from the session setting `hazwatch.timescale` ('on' | 'off'), which the migration
 * runner sets on its connection; a migration run without it takes the plain path.
 */

/** TIMESCALE: auto (use it where it works, else plain with one warning), require (stop unless usable), off. */
export type TimescaleMode = 'auto' | 'require' | 'off';
export const TIMESCALE_MODES: readonly TimescaleMode[] = ['auto', 'require', 'off'];

/** The session setting the migrations branch on. */
export const TIMESCALE_SETTING = 'hazwatch.timescale';

/** What the catalogue answers (one query, `FACTS_SQL`). */
export type TimescaleFacts = {
  /** The package is installed on the server (pg_available_extensions). */
  available: boolean;
  /** The extension exists in this database (pg_extension); its version. */
  createdVersion: string | null;
  /** The loader library is in shared_preload_libraries (without it CREATE EXTENSION ends the connection, FATAL). */
  preloaded: boolean;
  /** This role may create the (trusted) extension: CREATE on the database. */
  canCreate: boolean;
  /** `telemetry` exists already (an established database keeps its path). */
  telemetryExists: boolean;
  /** `telemetry` is a hypertable. */
  hypertable: boolean;
};

/** Minimal SQL client: a pg Client, a pool, or a test double answering the catalogue queries. */
export type SqlClient = {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
};

/**
 * Preloaded: `shared_preload_libraries` is readable only by superusers and pg_read_all_settings members, so the loader's
 * own postmaster-level setting `timescaledb.bgw_launcher_poll_time` (defined only when the library was preloaded; a
 * placeholder from the config file would be of type string) is checked as well.
 */
export const FACTS_SQL = `
  SELECT
    EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS available,
    (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS created_version,
    (EXISTS (SELECT 1 FROM pg_settings WHERE name = 'timescaledb.bgw_launcher_poll_time' AND vartype = 'integer')
      OR CASE WHEN pg_has_role('pg_read_all_settings', 'USAGE')
              THEN 'timescaledb' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))
              ELSE false END) AS preloaded,
    has_database_privilege(current_database(), 'CREATE') AS can_create,
    to_regclass('telemetry') IS NOT NULL AS telemetry_exists`;

/** Only asked when the extension exists (its catalogue schema exists then). */
export const HYPERTABLE_SQL = `
  SELECT EXISTS (SELECT 1 FROM _timescaledb_catalog.hypertable
                 WHERE table_name = 'telemetry' AND schema_name = current_schema()) AS hypertable`;

type FactsRow = {
  available: boolean;
  created_version: string | null;
  preloaded: boolean;
  can_create: boolean;
  telemetry_exists: boolean;
};

export async function readTimescaleFacts(client: SqlClient): Promise<TimescaleFacts> {
  const r = await client.query<FactsRow>(FACTS_SQL);
  const row = r.rows[0];
  if (!row) throw new Error('TimescaleDB detection: the catalogue query returned no row');
  let hypertable = false;
  if (row.created_version !== null && row.telemetry_exists) {
    const h = await client.query<{ hypertable: boolean }>(HYPERTABLE_SQL);
    hypertable = h.rows[0]?.hypertable === true;
  }
  return {
    available: row.available,
    createdVersion: row.created_version,
    preloaded: row.preloaded,
    canCreate: row.can_create,
    telemetryExists: row.telemetry_exists,
    hypertable,
  };
}

export type TimescaleDecision = {
  /** Migrations take (or took) the TimescaleDB branch: `telemetry` is, or is about to become, a hypertable. */
  use: boolean;
  /** Why, in one sentence (logged at start). */
  reason: string;
  /** Set when TimescaleDB is there but cannot be used: what to change (logged once as a warning). */
  warning?: string;
};

/** TIMESCALE=require and TimescaleDB cannot be used: start-up stops with this. */
export class TimescaleRequiredError extends Error {
  constructor(reason: string) {
    super(`TIMESCALE=require: ${reason}`);
    this.name = 'TimescaleRequiredError';
  }
}

/** The TimescaleDB path cannot run at all (a hypertable exists but the library is not loaded, or TIMESCALE=off). */
export class TimescaleStateError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'TimescaleStateError';
  }
}

/** What blocks using TimescaleDB in a database without `telemetry` yet; empty when nothing does. */
function blockers(f: TimescaleFacts): string[] {
  const out: string[] = [];
  if (!f.available)
    out.push(
      'the timescaledb package is not installed on the PostgreSQL server (install timescaledb-2-postgresql-NN and restart)',
    );
  else if (!f.preloaded)
    out.push(
      "the timescaledb library is installed but not preloaded: add it to shared_preload_libraries in postgresql.conf (shared_preload_libraries = 'timescaledb') and restart PostgreSQL",
    );
  if (f.available && f.createdVersion === null && !f.canCreate)
    out.push(
      'this database role may not create the extension: GRANT CREATE ON DATABASE <db> TO <role>, or have an administrator run CREATE EXTENSION timescaledb in this database',
    );
  return out;
}

/**
 * The decision, pure (tested without TimescaleDB). An established database keeps its path whatever TIMESCALE says
 * (converting stored telemetry is a manual operation): a hypertable stays on TimescaleDB, a plain `telemetry` stays
 * plain even if the extension is created later — so partition maintenance and retention keep running.
 */
export function decideTimescale(mode: TimescaleMode, f: TimescaleFacts): TimescaleDecision {
  if (f.hypertable) {
    if (mode === 'off')
      throw new TimescaleStateError(
        'TIMESCALE=off but telemetry is already a TimescaleDB hypertable in this database; set TIMESCALE=auto (the plain path cannot manage a hypertable)',
      );
    if (!f.preloaded)
      throw new TimescaleStateError(
        "telemetry is a TimescaleDB hypertable but the timescaledb library is not preloaded: add it to shared_preload_libraries (shared_preload_libraries = 'timescaledb') and restart PostgreSQL",
      );
    return { use: true, reason: 'telemetry is a TimescaleDB hypertable' };
  }
  if (f.telemetryExists) {
    const reason =
      f.createdVersion !== null
        ? 'telemetry was created on the plain PostgreSQL path; the timescaledb extension created later does not change that (daily partitions and row retention keep running)'
        : 'telemetry was created on the plain PostgreSQL path';
    if (mode === 'require')
      throw new TimescaleRequiredError(
        `${reason}; converting it to a hypertable is a manual migration (docs/adr/0017-timescale-path.md), or set TIMESCALE=auto`,
      );
    return { use: false, reason };
  }
  if (mode === 'off') return { use: false, reason: 'TIMESCALE=off' };
  const why = blockers(f);
  if (why.length === 0)
    return { use: true, reason: 'TimescaleDB is installed, preloaded and may be created' };
  if (mode === 'require') throw new TimescaleRequiredError(why.join('; '));
  if (!f.available) return { use: false, reason: 'TimescaleDB is not installed: plain PostgreSQL path' };
  return {
    use: false,
    reason: 'TimescaleDB is installed but cannot be used: plain PostgreSQL path',
    warning: `TimescaleDB is installed but not used, telemetry takes the plain PostgreSQL path (daily partitions): ${why.join('; ')}. Set TIMESCALE=require to stop instead, TIMESCALE=off to silence this. Decide before the first start: the path is fixed once telemetry exists.`,
  };
}

export function parseTimescaleMode(v: string | undefined): TimescaleMode {
  const m = (v ?? 'auto').trim().toLowerCase();
  if ((TIMESCALE_MODES as readonly string[]).includes(m)) return m as TimescaleMode;
  throw new Error(`TIMESCALE must be one of auto, require, off (got "${v}")`);
}
