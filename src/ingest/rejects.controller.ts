import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Requires } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { ScopeService } from '../auth/scope.service';
import { DeadLetterRepository } from '../storage/dead-letter.repository';
import { RejectsQuery } from './rejects.dto';
import { REJECT_REASONS } from './domain/decode';
import { parseTopic } from './domain/telemetry-contract';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { sparkplugNodeSites } from '../config/sparkplug-config';
import { isSparkplugTopic, parseSparkplugTopic } from './sparkplug/domain/sparkplug-topic';

/** Dead letters: rejected MQTT input with topic, reason and the first 1 KiB of payload (supervisor, admin). */
@ApiTags('ingest')
@ApiBearerAuth()
@Controller('api/ingest')
export class RejectsController {
  /** Sparkplug edge node → site (docs/sparkplug.md): a Sparkplug topic names no site itself. */
  private readonly nodeSites: ReadonlyMap<string, string>;

  constructor(
    private readonly deadLetters: DeadLetterRepository,
    private readonly scope: ScopeService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.nodeSites = sparkplugNodeSites(config.sparkplug);
  }

  private siteOf(topic: string): string | undefined {
    if (isSparkplugTopic(topic)) {
      const t = parseSparkplugTopic(topic);
      return t && t.kind !== 'state' ? this.nodeSites.get(`${t.group}/${t.node}`) : undefined;
    }
    return parseTopic(topic)?.siteId ?? topic.split('/')[2];
  }

  @Get('rejects')
  @Requires('ingest.rejects.read')
  @ApiOperation({ summary: `Dead-letter entries, newest first. Reasons: ${REJECT_REASONS.join(', ')}` })
  async list(@CurrentPrincipal() principal: Principal, @Query() q: RejectsQuery): Promise<unknown> {
    const rows = await this.deadLetters.list({
      limit: q.limit ?? 100,
      ...(q.reason ? { reason: q.reason } : {}),
      ...(q.before ? { beforeId: Number(q.before) } : {}),
    });
    // A scoped principal sees only dead letters whose topic names one of its sites (payloads can be sensitive).
    const visible = this.scope.siteFilter(principal);
    const entries =
      visible === undefined
        ? rows
        : rows.filter((r) => {
            const site = this.siteOf(r.topic);
            return site !== undefined && visible.includes(site);
          });
    // Sparkplug payloads are protobuf: also given as base64 (`payload` stays the UTF-8 reading, as for JSON).
    return {
      reasons: REJECT_REASONS,
      entries: entries.map((r) => ({
        ...r,
        payload: r.payload.toString('utf8'),
        ...(isSparkplugTopic(r.topic) ? { payloadBase64: r.payload.toString('base64') } : {}),
      })),
    };
  }
}
