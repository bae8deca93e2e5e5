import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Requires } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { ScopeService } from '../auth/scope.service';
import { DeadLetterRepository } from '../storage/dead-letter.repository';
import { RejectsQuery } from '../plant/plant.dto';
import { REJECT_REASONS } from './domain/decode';
import { parseTopic } from './domain/telemetry-contract';

/** Dead letters: rejected MQTT input with topic, reason and the first 1 KiB of payload (supervisor, admin). */
@ApiTags('ingest')
@ApiBearerAuth()
@Controller('api/ingest')
export class RejectsController {
  constructor(
    private readonly deadLetters: DeadLetterRepository,
    private readonly scope: ScopeService,
  ) {}

  @Get('rejects')
  @Requires('ingest.rejects.read')
  @ApiOperation({ summary: `Dead-letter entries, newest first. Reasons: ${REJECT_REASONS.join(', ')}` })
  async list(@CurrentPrincipal() principal: Principal, @Query() q: RejectsQuery): Promise<unknown> {
    const rows = await this.deadLetters.list({ limit: q.limit ?? 100, ...(q.reason ? { reason: q.reason } : {}), ...(q.before ? { beforeId: Number(q.before) } : {}) });
    // A scoped principal sees only dead letters whose topic names one of its sites (payloads can be sensitive).
    const visible = this.scope.siteFilter(principal);
    const entries = visible === undefined ? rows : rows.filter((r) => {
      const site = parseTopic(r.topic)?.siteId ?? r.topic.split('/')[2];
      return site !== undefined && visible.includes(site);
    });
    return { reasons: REJECT_REASONS, entries: entries.map((r) => ({ ...r, payload: r.payload.toString('utf8') })) };
  }
}
