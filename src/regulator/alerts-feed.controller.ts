import { atomFilter, isPriority } from './domain/atom-filter';
import {
  BadRequestException,
  Controller,
  Get,
  Header,
  Inject,
  NotFoundException,
  Param,
  Query,
  Req,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { CurrentPrincipal, Requires } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { ScopeService } from '../auth/scope.service';
import { CLOCK, type Clock } from '../common/clock';
import { buildAtomFeed, type AtomEntry } from './domain/atom.builder';
import { capTime } from './domain/cap-time';
import { FEED_SETTINGS, type FeedSettings } from './feeds-settings.loader';
import { FeedMessageRepository } from './feed-message.repository';
import { CAP_PROFILES, NATIONAL_PROFILE, isCapProfile } from './domain/cap-national.profile';
import { placeLine, placeNames } from './place-names';
import { APP_CONFIG, type AppConfig } from '../config/app-config';

const CAP_ID = /^[A-Za-z0-9_.:-]{1,200}$/;

/** Absolute base URL of this server as the client reached it (for Atom links). */
function baseUrl(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

/**
 * Regulator feeds (docs/contract.md §3): an Atom index of CAP 1.2 messages, newest first and paged, and each CAP document.
 * Both are scoped by the bearer token's jurisdiction; a message of a site outside it is "not found".
 */
@ApiTags('feeds')
@ApiBearerAuth()
@Controller('feeds')
export class AlertsFeedController {
  constructor(
    private readonly repo: FeedMessageRepository,
    private readonly scope: ScopeService,
    @Inject(FEED_SETTINGS) private readonly settings: FeedSettings,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('alerts.atom')
  @Requires('plant.read')
  @Header('Content-Type', 'application/atom+xml; charset=utf-8')
  @Header('Cache-Control', 'private, no-store')
  @ApiProduces('application/atom+xml')
  @ApiOperation({
    summary:
      'Atom feed of CAP 1.2 alert messages in your jurisdiction, newest first (≤ 900 KB a page; follow rel="next")',
  })
  @ApiQuery({
    name: 'before',
    required: false,
    description: 'Page: entries with an alarm-event seq below this',
  })
  @ApiQuery({ name: 'limit', required: false, description: 'Entries per page (default 50, at most 500)' })
  @ApiQuery({
    name: 'profile',
    required: false,
    description:
      'oasis (default) or cn-national: entries link the GB/T 35965.1 documents (docs/cap-profile.md)',
  })
  @ApiQuery({
    name: 'minPriority',
    required: false,
    description:
      'Lowest priority listed (default high: the regulator-graded alarms; site_offline is always listed)',
  })
  async atom(
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Query('before') beforeQ?: string,
    @Query('limit') limitQ?: string,
    @Query('minPriority') minPriorityQ?: string,
    @Query('profile') profileQ?: string,
  ): Promise<string> {
    if (minPriorityQ !== undefined && !isPriority(minPriorityQ))
      throw new BadRequestException('minPriority must be one of critical, high, medium, low');
    const national = this.wantsNational(profileQ);
    const filter = atomFilter(minPriorityQ);
    const extra =
      (minPriorityQ !== undefined ? `&minPriority=${minPriorityQ}` : '') +
      (national ? `&profile=${NATIONAL_PROFILE}` : '');
    const before = beforeQ === undefined ? undefined : /^\d{1,18}$/.test(beforeQ) ? Number(beforeQ) : NaN;
    if (Number.isNaN(before)) throw new BadRequestException('before must be an alarm-event seq');
    const limit =
      limitQ === undefined ? this.settings.atomPageSize : /^\d{1,4}$/.test(limitQ) ? Number(limitQ) : NaN;
    if (!(limit >= 1 && limit <= 500))
      throw new BadRequestException('limit must be an integer from 1 to 500');
    const siteIds = this.scope.siteFilter(principal);
    const rows = await this.repo.messages({
      siteIds,
      ...(before !== undefined ? { before } : {}),
      limit: limit + 1,
      filter,
    });
    const more = rows.length > limit;
    const base = baseUrl(req);
    const entries: AtomEntry[] = rows.slice(0, limit).map((m) => {
      // a message projected before the national profile was configured links its OASIS document
      const id = national ? (m.nationalIdentifier ?? m.identifier) : m.identifier;
      return {
        identifier: id,
        seq: m.seq,
        title: `[${m.msgType}] ${m.headline}`,
        updated: capTime(Date.parse(m.sent)),
        summary: `${m.msgType} ${m.priority} ${m.event} — ${placeLine(placeNames(this.config.plant, m.siteId, m.sourceId))} (alarm ${m.alarmId}, incident ${m.incident})`,
        msgType: m.msgType,
        priority: m.priority,
        siteId: m.siteId,
        capUrl: `${base}/feeds/alerts/${encodeURIComponent(id)}.cap`,
      };
    });
    const scopeLabel = principal.role === 'admin' || principal.scope === '' ? 'all' : principal.scope;
    const self = `${base}/feeds/alerts.atom${before !== undefined ? `?before=${before}${extra}` : extra.replace('&', '?')}`;
    const first = entries[0];
    return buildAtomFeed(
      {
        selfUrl: self,
        nextUrl: (b) =>
          `${base}/feeds/alerts.atom?before=${b}${limitQ !== undefined ? `&limit=${limit}` : ''}${extra}`,
        feedId: `urn:hazwatch:feeds:alerts:${scopeLabel}`,
        title: `hazwatch 重大危险源监测报警 alerts — ${scopeLabel}`,
        updated: first ? first.updated : capTime(this.clock.now()),
        author: this.settings.sender,
        more,
        maxBytes: this.settings.atomMaxBytes,
      },
      entries,
    ).xml;
  }

  @Get('alerts/:file')
  @Requires('plant.read')
  @Header('Content-Type', 'application/cap+xml; charset=utf-8')
  @Header('Cache-Control', 'private, no-store')
  @ApiProduces('application/cap+xml')
  @ApiOperation({
    summary: 'One CAP 1.2 message, `/feeds/alerts/<identifier>.cap` (404 outside your jurisdiction)',
  })
  @ApiQuery({
    name: 'profile',
    required: false,
    description:
      'oasis (default) or cn-national (GB/T 35965.1 identifier and unit code); a national identifier implies cn-national',
  })
  async cap(
    @CurrentPrincipal() principal: Principal,
    @Param('file') file: string,
    @Query('profile') profileQ?: string,
  ): Promise<string> {
    const id = file.endsWith('.cap') ? file.slice(0, -4) : '';
    if (!CAP_ID.test(id))
      throw new NotFoundException(`no CAP message '${file}' (expected /feeds/alerts/<identifier>.cap)`);
    const asked = this.wantsNational(profileQ);
    const doc = await this.repo.capDocument(id);
    if (!doc || !this.scope.canSeeSite(principal, doc.siteId))
      throw new NotFoundException(`CAP message '${id}' not found`);
    if (!asked && id !== doc.national?.identifier) return doc.xml;
    if (!doc.national)
      throw new NotFoundException(
        `CAP message '${id}' has no cn-national document (it was published before the national profile was configured)`,
      );
    return doc.national.xml;
  }

  /** `profile` query: a bad value is a 400; cn-national while the profile is not configured is a 404 naming why. */
  private wantsNational(profile: string | undefined): boolean {
    if (profile === undefined || profile === 'oasis') return false;
    if (!isCapProfile(profile))
      throw new BadRequestException(`profile must be one of ${CAP_PROFILES.join(', ')}`);
    if (this.settings.nationalProfile === undefined)
      throw new NotFoundException(
        'the cn-national profile is not configured here (feeds.yaml nationalProfile)',
      );
    return true;
  }
}
