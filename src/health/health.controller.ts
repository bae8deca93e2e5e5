import { Controller, Get, HttpStatus, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CLOCK, type Clock } from '../common/clock';
import { Public } from '../auth/auth.decorators';
import { IngestService } from '../ingest/ingest.service';
import { MqttSecurity } from '../ingest/mqtt-auth/mqtt-security.service';
import { Database } from '../storage/database.service';
import type { TakeoverState } from '../ingest/mqtt-auth/domain/session-takeover';
import { TelemetryWriter } from '../storage/telemetry-writer.service';
import { TimescalePolicies } from '../storage/timescale-policies.service';

/** Writer lag above this makes the server not ready (readings are safe, but not yet stored). */
export const MAX_WRITER_LAG_MS = 30_000;

type Check = { ok: boolean; detail?: string };

/** Critical: another client uses the server's MQTT client id (docs/adr/0009-mqtt-authentication.md). */
function mqttSessionCheck(s: TakeoverState): Check {
  if (!s.suspected) return { ok: true };
  const since = s.since !== null ? new Date(s.since).toISOString() : '?';
  return {
    ok: false,
    detail: `CRITICAL: MQTT session takeover suspected since ${since} (${s.reason}, ${s.closes} broker-side disconnects): another client uses the server client id and receives its messages`,
  };
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly db: Database,
    private readonly ingest: IngestService,
    private readonly writer: TelemetryWriter,
    private readonly mqttSecurity: MqttSecurity,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly timescale: TimescalePolicies,
  ) {}

  @Public()
  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process is running and its event loop answers' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Public()
  @Get('ready')
  @ApiOperation({ summary: 'Readiness: database, MQTT broker and telemetry writer lag' })
  @ApiOkResponse({ description: 'All checks pass' })
  @ApiServiceUnavailableResponse({ description: 'At least one check fails; body says which' })
  ready(@Res({ passthrough: true }) res: Response): {
    status: 'ok' | 'degraded';
    checks: Record<string, Check>;
    warnings?: Record<string, Check>;
  } {
    const lagMs = this.writer.lagMs(this.clock.now());
    const live = this.db.liveness();
    const checks: Record<string, Check> = {
      // from the liveness probe (SELECT 1 every DB_PROBE_INTERVAL_MS, DB_PROBE_TIMEOUT_MS to answer): a hung database shows within seconds
      database: live.up
        ? { ok: true }
        : {
            ok: false,
            detail: `${live.reason ?? 'database not answering'} (since ${new Date(live.sinceMs).toISOString()}); readings are held in memory/spool, alarm events in the write-ahead log`,
          },
      mqtt: this.ingest.isConnected()
        ? {
            ok: true,
            detail: `unacked ${this.ingest.unackedMessages()}${this.writer.pressure$.value ? ', not reading: writer full' : ''}`,
          }
        : { ok: false, detail: 'not connected to the MQTT broker' },
      mqttSession: mqttSessionCheck(this.mqttSecurity.takeoverState()),
      writer:
        lagMs <= MAX_WRITER_LAG_MS
          ? {
              ok: true,
              detail: `lag ${lagMs} ms, queue ${this.writer.queueDepth()}, spool ${this.writer.spoolBytes()} B`,
            }
          : {
              ok: false,
              detail: `lag ${lagMs} ms > ${MAX_WRITER_LAG_MS} ms, queue ${this.writer.queueDepth()}, spool ${this.writer.spoolBytes()} B`,
            },
    };
    const ok = Object.values(checks).every((c) => c.ok);
    res.status(ok ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    // TimescaleDB jobs (retention, compression, rollup refresh): shown, but a failed job does not make the server
    // unready — it still stores and serves telemetry (docs/adr/0017-timescale-path.md)
    const jobs = this.timescale.status();
    return { status: ok ? 'ok' : 'degraded', checks, ...(jobs ? { warnings: { timescaleJobs: jobs } } : {}) };
  }
}
