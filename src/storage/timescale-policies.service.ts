import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { JsonLogger } from '../common/logger';
import type { HazwatchMetrics } from '../metrics/metrics.registry';
import type { Database } from './database.service';

const MINUTE_MS = 60_000;

/** The hypertable a policy job runs on: `telemetry` itself, or the continuous aggregate's materialization table. */
const TARGET = `
  SELECT $1::text AS schema, $2::text AS name WHERE $2::text = 'telemetry'
  UNION ALL
  SELECT materialization_hypertable_schema::text, materialization_hypertable_name::text
  FROM timescaledb_information.continuous_aggregates
  WHERE $2::text <> 'telemetry' AND view_name = $2::text AND view_schema = $1::text`;

/** The existing job of one kind on one hypertable, and whether its interval already is the wanted one. */
const FIND_JOB = `
  SELECT job_id, (config->>$4)::interval = $5::interval AS same
  FROM timescaledb_information.jobs
  WHERE proc_name = $1 AND hypertable_schema = $2 AND hypertable_name = $3
  ORDER BY job_id`;

/** Changes the interval in place: the job (its id, its stats and history) stays. */
const ALTER_JOB = `
  SELECT alter_job(job_id, config => jsonb_set(config, ARRAY[$2::text], to_jsonb($3::interval::text)))
  FROM timescaledb_information.jobs WHERE job_id = $1`;

const ADD_RETENTION = `SELECT add_retention_policy($1::regclass, drop_after => $2::interval) AS job_id`;
const ADD_COMPRESSION = `SELECT add_compression_policy($1::regclass, compress_after => $2::interval) AS job_id`;

const CHUNK_INTERVAL = `
  SELECT time_interval = $1::interval AS same FROM timescaledb_information.dimensions
  WHERE hypertable_schema = current_schema() AND hypertable_name = 'telemetry' AND column_name = 'time'`;
const SET_CHUNK_INTERVAL = `SELECT set_chunk_time_interval('telemetry', $1::interval)`;

/**
 * Every job with its last run, named `<proc_name>:<table>` (the continuous aggregate by its view name, not its
 * materialization table). `overdue`: a scheduled job whose next start lies well in the past — it is not being run at
 * all (no free background worker, scheduler gone), which job_stats alone never shows as a failure.
 */
const JOB_STATS = `
  SELECT j.job_id, j.proc_name::text AS proc_name,
         coalesce(c.view_name::text, j.hypertable_name::text, '') AS target,
         s.last_run_status::text AS last_run_status, coalesce(s.total_failures, 0)::bigint AS total_failures,
         (j.scheduled AND j.next_start < now() - greatest(j.schedule_interval, INTERVAL '5 minutes')) AS overdue
  FROM timescaledb_information.jobs j
  LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
  LEFT JOIN timescaledb_information.continuous_aggregates c
    ON c.materialization_hypertable_schema = j.hypertable_schema
   AND c.materialization_hypertable_name = j.hypertable_name
  ORDER BY j.job_id`;

/** The newest recorded error per job (job_errors: TimescaleDB 2.15+; readable by the job owner). */
const JOB_ERRORS = `
  SELECT DISTINCT ON (job_id) job_id, sqlerrcode::text AS sqlerrcode, err_message::text AS err_message, finish_time
  FROM timescaledb_information.job_errors
  ORDER BY job_id, finish_time DESC NULLS LAST`;

export type PolicyKind = 'policy_retention' | 'policy_compression';

export type PolicyOutcome = {
  table: string;
  kind: PolicyKind;
  jobId: number;
  action: 'kept' | 'altered' | 'added';
};

export type JobStatus = {
  jobId: number;
  name: string;
  lastRunStatus: string | null;
  totalFailures: number;
  /** Scheduled but not started long after its next start (no background worker for it). */
  overdue: boolean;
  lastError?: string;
};

export type TimescalePoliciesOptions = {
  db: Pick<Database, 'query' | 'timescale' | 'whenReady'>;
  metrics?: HazwatchMetrics;
  /** TELEMETRY_RETENTION_DAYS */
  retentionDays: number;
  /** TELEMETRY_1M_RETENTION_DAYS */
  rollupRetentionDays: number;
  /** TIMESCALE_CHUNK_HOURS */
  chunkHours: number;
  /** TIMESCALE_COMPRESS_AFTER_HOURS */
  compressAfterHours: number;
  /** How often job stats are read (default 60 s). */
  pollMs?: number;
  log?: JsonLogger;
};

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code} ${err.message}` : err.message;
  }
  return String(err);
}

/**
 * TimescaleDB only (docs/adr/0017-timescale-path.md): keeps the policies in line with the environment — chunk interval,
 * compression and retention of `telemetry`, compression and retention of `telemetry_1m` — by altering an existing job
 * in place (its id stays) or adding a missing one; and reads job stats/errors for /metrics and /health.
 * Does nothing on the plain path (`db.timescale` false), where TelemetryPartitions and RetentionService do this.
 */
export class TimescalePolicies implements OnModuleInit, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private readonly log: JsonLogger;
  private jobs: JobStatus[] = [];
  private pollError: string | undefined;

  constructor(private readonly opts: TimescalePoliciesOptions) {
    this.log = opts.log ?? new JsonLogger('storage.timescale');
  }

  onModuleInit(): void {
    void this.opts.db.whenReady().then(async () => {
      if (!this.opts.db.timescale) return;
      await this.align();
      await this.pollJobs();
      this.timer = setInterval(() => void this.pollJobs(), this.opts.pollMs ?? MINUTE_MS);
      this.timer.unref();
    });
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Aligns every policy; a failing step is logged and the others still run. Returns what was done. */
  async align(): Promise<PolicyOutcome[]> {
    const out: PolicyOutcome[] = [];
    const o = this.opts;
    try {
      const r = await o.db.query<{ same: boolean }>(CHUNK_INTERVAL, [`${o.chunkHours} hours`]);
      if (r.rows[0] && !r.rows[0].same) {
        await o.db.query(SET_CHUNK_INTERVAL, [`${o.chunkHours} hours`]);
        this.log.info('TimescaleDB chunk interval of telemetry changed (applies to new chunks)', {
          hours: o.chunkHours,
        });
      }
    } catch (err) {
      this.log.warn('could not set the TimescaleDB chunk interval', { error: errorText(err) });
    }
    // the rollup is compressed no earlier than a day (its refresh policy rewrites the last 2 h)
    const rollupCompressHours = Math.max(o.compressAfterHours, 24);
    const wanted: Array<[string, PolicyKind, string, string]> = [
      ['telemetry', 'policy_compression', 'compress_after', `${o.compressAfterHours} hours`],
      ['telemetry', 'policy_retention', 'drop_after', `${o.retentionDays} days`],
      ['telemetry_1m', 'policy_compression', 'compress_after', `${rollupCompressHours} hours`],
      ['telemetry_1m', 'policy_retention', 'drop_after', `${o.rollupRetentionDays} days`],
    ];
    for (const [table, kind, key, interval] of wanted) {
      try {
        out.push(await this.ensurePolicy(table, kind, key, interval));
      } catch (err) {
        this.log.warn('could not align a TimescaleDB policy', {
          table,
          policy: kind,
          interval,
          error: errorText(err),
        });
      }
    }
    const changed = out.filter((p) => p.action !== 'kept');
    if (changed.length > 0) this.log.info('TimescaleDB policies aligned with the environment', { changed });
    return out;
  }

  private async ensurePolicy(
    table: string,
    kind: PolicyKind,
    key: string,
    interval: string,
  ): Promise<PolicyOutcome> {
    const db = this.opts.db;
    const schema = (await db.query<{ s: string }>(`SELECT current_schema() AS s`)).rows[0]!.s;
    const target = (await db.query<{ schema: string; name: string }>(TARGET, [schema, table])).rows[0];
    if (!target) throw new Error(`${table} is not a hypertable or continuous aggregate`);
    const jobs = await db.query<{ job_id: number; same: boolean }>(FIND_JOB, [
      kind,
      target.schema,
      target.name,
      key,
      interval,
    ]);
    const job = jobs.rows[0];
    if (job) {
      if (job.same) return { table, kind, jobId: job.job_id, action: 'kept' };
      await db.query(ALTER_JOB, [job.job_id, key, interval]);
      return { table, kind, jobId: job.job_id, action: 'altered' };
    }
    const added = await db.query<{ job_id: number }>(
      kind === 'policy_retention' ? ADD_RETENTION : ADD_COMPRESSION,
      [table, interval],
    );
    return { table, kind, jobId: added.rows[0]!.job_id, action: 'added' };
  }

  /** Reads job stats (and the newest error of each job) into the metrics and the health status. */
  async pollJobs(): Promise<JobStatus[]> {
    if (!this.opts.db.timescale) return [];
    try {
      const stats = await this.opts.db.query<{
        job_id: number;
        proc_name: string;
        target: string;
        last_run_status: string | null;
        total_failures: string | number | null;
        overdue: boolean | null;
      }>(JOB_STATS);
      const errors = new Map<number, string>();
      try {
        const e = await this.opts.db.query<{
          job_id: number;
          sqlerrcode: string | null;
          err_message: string | null;
        }>(JOB_ERRORS);
        for (const row of e.rows)
          errors.set(row.job_id, `${row.sqlerrcode ?? ''} ${row.err_message ?? ''}`.trim());
      } catch (err) {
        this.log.debug('TimescaleDB job_errors not readable', { error: errorText(err) });
      }
      const jobs = stats.rows.map((r): JobStatus => {
        const lastError = errors.get(r.job_id);
        return {
          jobId: r.job_id,
          name: `${r.proc_name}:${r.target}`,
          lastRunStatus: r.last_run_status,
          totalFailures: Number(r.total_failures ?? 0),
          overdue: r.overdue === true,
          ...(lastError !== undefined && r.last_run_status === 'Failed' ? { lastError } : {}),
        };
      });
      const before = new Map(this.jobs.map((j) => [j.jobId, j]));
      for (const j of jobs) {
        const prev = before.get(j.jobId);
        if (j.lastRunStatus === 'Failed' && (prev === undefined || prev.totalFailures < j.totalFailures))
          this.log.error('TimescaleDB job failed', {
            job: j.name,
            jobId: j.jobId,
            failures: j.totalFailures,
            error: j.lastError ?? null,
          });
      }
      this.jobs = jobs;
      this.pollError = undefined;
      const m = this.opts.metrics;
      if (m) {
        m.timescaleJobFailures.reset();
        m.timescaleJobLastRunFailed.reset();
        m.timescaleJobOverdue.reset();
        for (const j of jobs) {
          m.timescaleJobFailures.set({ timescale_job: j.name }, j.totalFailures);
          m.timescaleJobLastRunFailed.set({ timescale_job: j.name }, j.lastRunStatus === 'Failed' ? 1 : 0);
          m.timescaleJobOverdue.set({ timescale_job: j.name }, j.overdue ? 1 : 0);
        }
      }
    } catch (err) {
      this.pollError = errorText(err);
      this.log.warn('could not read TimescaleDB job stats', { error: this.pollError });
    }
    return this.jobs;
  }

  /** For /health: undefined on the plain path; else ok unless a job's last run failed or stats are unreadable. */
  status(): { ok: boolean; detail: string } | undefined {
    if (!this.opts.db.timescale) return undefined;
    if (this.pollError !== undefined)
      return { ok: false, detail: `job stats not readable: ${this.pollError}` };
    const bad = this.jobs.filter((j) => j.lastRunStatus === 'Failed' || j.overdue);
    if (bad.length === 0) return { ok: true, detail: `${this.jobs.length} jobs, last runs ok` };
    return {
      ok: false,
      detail: bad
        .map((j) =>
          j.lastRunStatus === 'Failed'
            ? `${j.name} (job ${j.jobId}) last run failed${j.lastError ? `: ${j.lastError}` : ''}, ${j.totalFailures} failures${j.overdue ? ', overdue' : ''}`
            : `${j.name} (job ${j.jobId}) overdue: not started (no free TimescaleDB background worker?)`,
        )
        .join('; '),
    };
  }
}
