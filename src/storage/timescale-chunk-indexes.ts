/**
 * The series btree `(site_id, device_id, channel, time DESC)` of closed TimescaleDB chunks of `telemetry`
 * (docs/adr/0022-timescale-chunk-series-index.md): the open chunk has none (COPY cost, docs/adr/0017-timescale-path.md);
 * a chunk whose time range has ended gets one, built with CREATE INDEX CONCURRENTLY, until compression replaces it
 * with its per-series batches. The catalogue names come back quoted (`format('%I.%I')`), so no identifier is built
 * from text here.
 */

/** Every chunk of `telemetry` with its end, compression and the state of its `<chunk>_series_idx`. */
export const LIST_TELEMETRY_CHUNKS = `
  SELECT format('%I.%I', c.chunk_schema, c.chunk_name) AS chunk,
         format('%I.%I', c.chunk_schema, c.chunk_name || '_series_idx') AS series_index,
         format('%I', c.chunk_name || '_series_idx') AS series_index_name,
         c.range_end, c.is_compressed,
         (SELECT bool_and(i.indisvalid) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
           WHERE i.indrelid = format('%I.%I', c.chunk_schema, c.chunk_name)::regclass
             AND ic.relname = c.chunk_name || '_series_idx') AS series_valid
  FROM timescaledb_information.chunks c
  WHERE c.hypertable_schema = current_schema() AND c.hypertable_name = 'telemetry'
  ORDER BY c.range_end DESC`;

export type TelemetryChunkRow = {
  /** Quoted, schema-qualified chunk table. */
  chunk: string;
  /** Quoted, schema-qualified name of its series index, and the index name alone (for CREATE INDEX). */
  series_index: string;
  series_index_name: string;
  range_end: Date | null;
  is_compressed: boolean;
  /** null: no series index; false: left invalid by an interrupted build. */
  series_valid: boolean | null;
};

export type ChunkIndexTask = {
  chunk: string;
  index: string;
  create: string;
  /** Set when an invalid index of an interrupted build must go first. */
  dropInvalid?: string;
};

/**
 * The chunks to index at `now`, newest closed chunk first (the history read most): closed (range ended), not
 * compressed (compression has the series order and empties the chunk's own indexes), without a valid series index.
 */
export function planChunkIndexes(rows: readonly TelemetryChunkRow[], now: number): ChunkIndexTask[] {
  return rows
    .filter((r) => !r.is_compressed && r.range_end !== null && r.range_end.getTime() <= now)
    .filter((r) => r.series_valid !== true)
    .sort((a, b) => b.range_end!.getTime() - a.range_end!.getTime())
    .map((r) => ({
      chunk: r.chunk,
      index: r.series_index,
      create: `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${r.series_index_name} ON ${r.chunk} (site_id, device_id, channel, time DESC)`,
      ...(r.series_valid === false
        ? { dropInvalid: `DROP INDEX CONCURRENTLY IF EXISTS ${r.series_index}` }
        : {}),
    }));
}
