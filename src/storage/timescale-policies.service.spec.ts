import { JsonLogger } from '../common/logger';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { TimescalePolicies } from './timescale-policies.service';

type Job = { job_id: number; proc: string; table: string; config: Record<string, string> };

/** The TimescaleDB catalogue as far as the policies service asks it (no TimescaleDB needed). */
class JobCatalogue {
  readonly log: string[] = [];
  chunkHours = 24;
  nextId = 1003;
  stats: Array<{
    job_id: number;
    proc_name: string;
    target: string;
    last_run_status: string | null;
    total_failures: number;
    overdue: boolean;
  }> = [];
  errors: Array<{ job_id: number; sqlerrcode: string; err_message: string }> = [];
  constructor(public jobs: Job[]) {}

  /** Interval text as the service writes it ('N hours' / 'N days') in hours. */
  private static hours(v: string): number {
    const m = /^(\d+) (hours|days)$/.exec(v);
    if (!m) throw new Error(`unexpected interval ${v}`);
    return Number(m[1]) * (m[2] === 'days' ? 24 : 1);
  }

  query = (sql: string, p: unknown[] = []): Promise<{ rows: never[] }> => {
    const rows = (r: unknown[]) => Promise.resolve({ rows: r as never[] });
    if (sql.includes('FROM timescaledb_information.dimensions'))
      return rows([{ same: JobCatalogue.hours(p[0] as string) === this.chunkHours }]);
    if (sql.includes('set_chunk_time_interval')) {
      this.log.push(`chunk ${String(p[0])}`);
      this.chunkHours = JobCatalogue.hours(p[0] as string);
      return rows([]);
    }
    if (sql.includes('current_schema() AS s')) return rows([{ s: 'public' }]);
    if (sql.includes('materialization_hypertable_schema::text, materialization_hypertable_name'))
      return rows([
        {
          schema: p[1] === 'telemetry' ? 'public' : '_timescaledb_internal',
          name: p[1] === 'telemetry' ? 'telemetry' : '_materialized_hypertable_2',
        },
      ]);
    if (sql.includes('(config->>$4)::interval = $5::interval')) {
      const table = p[2] === 'telemetry' ? 'telemetry' : 'telemetry_1m';
      return rows(
        this.jobs
          .filter((j) => j.proc === p[0] && j.table === table)
          .map((j) => ({
            job_id: j.job_id,
            same: JobCatalogue.hours(j.config[p[3] as string]!) === JobCatalogue.hours(p[4] as string),
          })),
      );
    }
    if (sql.includes('alter_job(')) {
      const job = this.jobs.find((j) => j.job_id === p[0])!;
      job.config[p[1] as string] = p[2] as string;
      this.log.push(`alter ${job.job_id} ${String(p[1])}=${String(p[2])}`);
      return rows([]);
    }
    if (sql.includes('add_retention_policy') || sql.includes('add_compression_policy')) {
      const proc = sql.includes('add_retention_policy') ? 'policy_retention' : 'policy_compression';
      const key = proc === 'policy_retention' ? 'drop_after' : 'compress_after';
      const job_id = this.nextId++;
      this.jobs.push({ job_id, proc, table: p[0] as string, config: { [key]: p[1] as string } });
      this.log.push(`add ${job_id} ${proc} ${String(p[0])}`);
      return rows([{ job_id }]);
    }
    if (sql.includes('LEFT JOIN timescaledb_information.job_stats')) return rows(this.stats);
    if (sql.includes('FROM timescaledb_information.job_errors')) return rows(this.errors);
    return Promise.reject(new Error(`unexpected statement ${sql}`));
  };
}

const options = { retentionDays: 90, rollupRetentionDays: 730, chunkHours: 24, compressAfterHours: 168 };

describe('TimescalePolicies', () => {
  beforeAll(() => JsonLogger.setLevel('error'));

  function service(cat: JobCatalogue, over: Partial<typeof options> = {}, metrics?: HazwatchMetrics) {
    const db = { timescale: true, query: cat.query, whenReady: () => Promise.resolve() };
    return new TimescalePolicies({ db: db as never, ...options, ...over, ...(metrics ? { metrics } : {}) });
  }

  const migrated = (): JobCatalogue =>
    new JobCatalogue([
      { job_id: 1001, proc: 'policy_retention', table: 'telemetry', config: { drop_after: '90 days' } },
      { job_id: 1002, proc: 'policy_compression', table: 'telemetry', config: { compress_after: '7 days' } },
    ]);

  it('should keep matching jobs, add missing ones, and never remove a job', async () => {
    const cat = migrated();
    const out = await service(cat).align();
    expect(out.map((o) => [o.table, o.kind, o.jobId, o.action])).toEqual([
      ['telemetry', 'policy_compression', 1002, 'kept'],
      ['telemetry', 'policy_retention', 1001, 'kept'],
      ['telemetry_1m', 'policy_compression', 1003, 'added'],
      ['telemetry_1m', 'policy_retention', 1004, 'added'],
    ]);
    expect(cat.log).toEqual([
      'add 1003 policy_compression telemetry_1m',
      'add 1004 policy_retention telemetry_1m',
    ]);
    // the next start: nothing changes
    cat.log.length = 0;
    expect((await service(cat).align()).every((o) => o.action === 'kept')).toBe(true);
    expect(cat.log).toEqual([]);
  });

  it('should alter a changed interval in place (the job id stays) and change the chunk interval', async () => {
    const cat = migrated();
    const out = await service(cat, { retentionDays: 120, chunkHours: 6, compressAfterHours: 12 }).align();
    expect(out.filter((o) => o.table === 'telemetry').map((o) => [o.kind, o.jobId, o.action])).toEqual([
      ['policy_compression', 1002, 'altered'],
      ['policy_retention', 1001, 'altered'],
    ]);
    expect(cat.log).toEqual([
      'chunk 6 hours',
      'alter 1002 compress_after=12 hours',
      'alter 1001 drop_after=120 days',
      'add 1003 policy_compression telemetry_1m',
      'add 1004 policy_retention telemetry_1m',
    ]);
    // the rollup is compressed no earlier than a day
    expect(cat.jobs.find((j) => j.job_id === 1003)!.config).toEqual({ compress_after: '24 hours' });
  });

  it('should show failed jobs in the metrics and the health status, with their last error', async () => {
    const cat = migrated();
    cat.stats = [
      {
        job_id: 1001,
        proc_name: 'policy_retention',
        target: 'telemetry',
        last_run_status: 'Failed',
        total_failures: 3,
        overdue: false,
      },
      {
        job_id: 1000,
        proc_name: 'policy_refresh_continuous_aggregate',
        target: 'telemetry_1m',
        last_run_status: 'Success',
        total_failures: 0,
        overdue: false,
      },
    ];
    cat.errors = [{ job_id: 1001, sqlerrcode: '55P03', err_message: 'lock not available' }];
    const metrics = new HazwatchMetrics(false);
    const svc = service(cat, {}, metrics);
    await svc.pollJobs();
    expect(svc.status()).toEqual({
      ok: false,
      detail: 'policy_retention:telemetry (job 1001) last run failed: 55P03 lock not available, 3 failures',
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'hazwatch_timescale_job_last_run_failed{timescale_job="policy_retention:telemetry"} 1',
    );
    expect(text).toContain(
      'hazwatch_timescale_job_last_run_failed{timescale_job="policy_refresh_continuous_aggregate:telemetry_1m"} 0',
    );
    expect(text).toContain('hazwatch_timescale_job_failures{timescale_job="policy_retention:telemetry"} 3');

    cat.stats[0]!.last_run_status = 'Success';
    await svc.pollJobs();
    expect(svc.status()).toEqual({ ok: true, detail: '2 jobs, last runs ok' });

    // a job that never gets a background worker has no failed run, only a next start long past
    cat.stats[1] = { ...cat.stats[1]!, last_run_status: null, overdue: true };
    await svc.pollJobs();
    expect(svc.status()).toEqual({
      ok: false,
      detail:
        'policy_refresh_continuous_aggregate:telemetry_1m (job 1000) overdue: not started (no free TimescaleDB background worker?)',
    });
    expect(await metrics.registry.metrics()).toContain(
      'hazwatch_timescale_job_overdue{timescale_job="policy_refresh_continuous_aggregate:telemetry_1m"} 1',
    );
  });

  it('should do nothing on the plain path', async () => {
    const cat = migrated();
    const db = { timescale: false, query: cat.query, whenReady: () => Promise.resolve() };
    const svc = new TimescalePolicies({ db: db as never, ...options });
    expect(await svc.pollJobs()).toEqual([]);
    expect(svc.status()).toBeUndefined();
  });
});
