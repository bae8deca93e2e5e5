import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/auth.decorators';
import { DeadLetterRepository } from '../storage/dead-letter.repository';
import { RejectsQuery } from '../feeds/feeds.dto';
import { REJECT_REASONS } from './domain/decode';

/** Dead letters: rejected MQTT input with topic, reason and the first 1 KiB of payload. Plant-side roles only. */
@ApiTags('ingest')
@ApiBearerAuth()
@Controller('api/ingest')
export class RejectsController {
  constructor(private readonly deadLetters: DeadLetterRepository) {}

  @Get('rejects')
  @Roles('operator', 'supervisor', 'admin')
  @ApiOperation({ summary: `Dead-letter entries, newest first. Reasons: ${REJECT_REASONS.join(', ')}` })
  async list(@Query() q: RejectsQuery): Promise<unknown> {
    const rows = await this.deadLetters.list({ limit: q.limit ?? 100, ...(q.reason ? { reason: q.reason } : {}), ...(q.before ? { beforeId: Number(q.before) } : {}) });
    return { reasons: REJECT_REASONS, entries: rows };
  }
}
