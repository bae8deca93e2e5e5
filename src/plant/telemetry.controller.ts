import { BadRequestException, Controller, Get, Inject, NotFoundException, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CLOCK, type Clock } from '../common/clock';
import { CurrentPrincipal, Requires } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { ScopeService } from '../auth/scope.service';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { DeviceInfo } from '../config/config.loader';
import { TelemetryQueryRepository } from '../storage/telemetry-query.repository';
import { TelemetryQuery } from './plant.dto';
import { checkRange, parseBucket, parseTime } from './time-range';

const HOUR = 3600_000;

@ApiTags('telemetry')
@ApiBearerAuth()
@Controller('api/telemetry')
export class TelemetryController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly scope: ScopeService,
    private readonly repo: TelemetryQueryRepository,
  ) {}

  @Get()
  @Requires('plant.read')
  @ApiOperation({ summary: 'Stored history of one device: raw rows, or min/max/avg/last per bucket' })
  async history(@CurrentPrincipal() principal: Principal, @Query() q: TelemetryQuery): Promise<unknown> {
    const device = this.resolveDevice(q.device);
    if (!this.scope.canSeeSite(principal, device.siteId))
      throw new NotFoundException(`device '${q.device}' not found`);
    if (q.channel !== undefined && !device.channels.has(q.channel))
      throw new BadRequestException(
        `channel must be one of ${[...device.channels.keys()].join(', ')} for this device`,
      );
    const to = parseTime(q.to, 'to', this.clock.now());
    const from = parseTime(q.from, 'from', to - HOUR);
    checkRange(from, to);
    const bucketSeconds = parseBucket(q.bucket);
    const base = {
      siteId: device.siteId,
      deviceId: device.id,
      ...(q.channel !== undefined ? { channel: q.channel } : {}),
      from,
      to,
    };
    const head = {
      siteId: device.siteId,
      deviceId: device.id,
      channel: q.channel ?? null,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
    };
    if (bucketSeconds === undefined) {
      const limit = q.limit ?? 10000;
      const points = await this.repo.raw({ ...base, limit });
      return { ...head, bucket: null, truncated: points.length >= limit, points };
    }
    return {
      ...head,
      bucket: bucketSeconds,
      points: await this.repo.bucketed({ ...base, bucketSeconds, limit: 100000 }),
    };
  }

  private resolveDevice(ref: string): DeviceInfo {
    const plant = this.config.plant;
    if (ref.includes('/')) {
      const d = plant.deviceByKey.get(ref);
      if (!d) throw new NotFoundException(`device '${ref}' not found`);
      return d;
    }
    const matches = [...plant.deviceByKey.values()].filter((d) => d.id === ref);
    if (matches.length === 0) throw new NotFoundException(`device '${ref}' not found`);
    if (matches.length > 1)
      throw new BadRequestException(`device '${ref}' exists in several sites; use siteId/deviceId`);
    return matches[0] as DeviceInfo;
  }
}
