import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  ForbiddenException,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Optional,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { randomBytes } from 'node:crypto';
import { CurrentPrincipal, Requires, Roles } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import {
  WebhookTargetError,
  checkResolved,
  checkWebhookUrl,
  parseWebhookAllowList,
  type WebhookAllowList,
} from './domain/webhook-target.policy';
import { scopeWithin } from './domain/webhook.policy';
import { NATIONAL_PROFILE } from './domain/cap-national.profile';
import { FEED_SETTINGS, type FeedSettings } from './feeds-settings.loader';
import { SubscriptionRepository, type Subscription } from './subscription.repository';
import { DeliveriesQuery, CreateSubscriptionBody, GrantBody } from './subscriptions.dto';
import { WEBHOOK_RESOLVER, systemResolver, type Resolver } from './webhook.transport';
import { WebhookDispatcher } from './webhook-dispatcher.service';

export type SubscriptionView = Subscription & { pending: number };

/**
 * Webhook subscriptions of regulators (docs/regulator-workflows.md). A subscription belongs to the token that created
 * it (within that token's jurisdiction): only its owner and admins see, resume or delete it; another regulator (even
 * the city above) may list and read it only when an admin grants it, and never resume or delete it. The receiver URL
 * must be a public http(s) address (HAZWATCH_WEBHOOK_ALLOW names internal exceptions). The secret is generated here,
 * returned once in the 201 answer, and never shown or logged again.
 */
@ApiTags('subscriptions')
@ApiBearerAuth()
@Controller('api/subscriptions')
export class SubscriptionsController {
  private readonly log = new JsonLogger('feeds.subscriptions');

  private readonly allow: WebhookAllowList;
  private readonly resolve: Resolver;

  constructor(
    private readonly repo: SubscriptionRepository,
    private readonly dispatcher: WebhookDispatcher,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(FEED_SETTINGS) private readonly settings: FeedSettings,
    @Optional() @Inject(WEBHOOK_RESOLVER) resolve?: Resolver,
  ) {
    this.allow = parseWebhookAllowList(config.env.HAZWATCH_WEBHOOK_ALLOW);
    this.resolve = resolve ?? systemResolver;
  }

  private ownScope(p: Principal): string {
    return p.role === 'admin' ? '' : p.scope;
  }

  private owns(p: Principal, s: Subscription): boolean {
    return p.role === 'admin' || s.ownerTokenId === p.tokenId;
  }

  /** Readable: own (or admin), or granted by an admin (and still within the reader's jurisdiction). */
  private async readable(p: Principal, id: string): Promise<Subscription> {
    const s = await this.repo.subscription(id);
    if (s && this.owns(p, s)) return s;
    if (s && scopeWithin(s.scope, this.ownScope(p)) && (await this.repo.grantedTo(p.tokenId)).has(s.id))
      return s;
    throw new NotFoundException(`subscription '${id}' not found`);
  }

  /** Resume and delete: the owner or an admin; a grantee is told 403, anyone else sees nothing. */
  private async owned(p: Principal, id: string): Promise<Subscription> {
    const s = await this.readable(p, id);
    if (!this.owns(p, s))
      throw new ForbiddenException(
        `subscription '${id}' belongs to another regulator: only its owner or an admin may change it`,
      );
    return s;
  }

  /** 400 for a URL that must not receive webhooks; a name that does not resolve yet is checked at every delivery. */
  private async checkUrl(url: string): Promise<void> {
    try {
      const { host, literal } = checkWebhookUrl(url, this.allow);
      if (literal) return;
      let addresses: string[];
      try {
        addresses = (await this.resolve(host)).map((a) => a.address);
      } catch {
        return;
      }
      checkResolved(addresses, this.allow);
    } catch (err) {
      if (err instanceof WebhookTargetError) throw new BadRequestException(`url refused: ${err.message}`);
      throw err;
    }
  }

  @Post()
  @Requires('feed.subscribe')
  @ApiOperation({ summary: 'Subscribe a webhook to the alerts of a jurisdiction (the secret is shown once)' })
  @ApiCreatedResponse({ description: 'The subscription with its HMAC secret (only in this answer)' })
  async create(
    @CurrentPrincipal() p: Principal,
    @Body() b: CreateSubscriptionBody,
  ): Promise<Subscription & { secret: string }> {
    if (!scopeWithin(b.scope, this.ownScope(p)))
      throw new ForbiddenException(`scope '${b.scope}' lies outside your jurisdiction '${p.scope}'`);
    await this.checkUrl(b.url);
    if (b.profile === NATIONAL_PROFILE && this.settings.nationalProfile === undefined)
      throw new BadRequestException(
        'profile cn-national needs the national profile configured (feeds.yaml nationalProfile)',
      );
    const secret = 'whsec_' + randomBytes(32).toString('base64url');
    const sub = await this.repo.createSubscription({
      id: 'sub-' + randomBytes(6).toString('hex'),
      name: b.name ?? p.name,
      url: b.url,
      scope: b.scope,
      minPriority: b.minPriority,
      format: b.format,
      profile: b.profile ?? 'oasis',
      ownerTokenId: p.tokenId,
      ownerName: p.name,
      ownerScope: p.scope,
      createdAt: this.clock.now(),
      secret,
    });
    this.log.info('webhook subscription created', {
      id: sub.id,
      scope: sub.scope,
      minPriority: sub.minPriority,
      format: sub.format,
      profile: sub.profile,
      by: p.name,
    });
    return { ...sub, secret };
  }

  @Get()
  @Requires('feed.subscribe')
  @ApiOperation({
    summary: 'Your webhook subscriptions, and those an admin let you read (without secrets; admins see all)',
  })
  async list(@CurrentPrincipal() p: Principal): Promise<SubscriptionView[]> {
    const [subs, pending, granted] = await Promise.all([
      this.repo.subscriptions(),
      this.repo.pendingCounts(),
      this.repo.grantedTo(p.tokenId),
    ]);
    return subs
      .filter((s) => this.owns(p, s) || (granted.has(s.id) && scopeWithin(s.scope, this.ownScope(p))))
      .map((s) => ({ ...s, pending: pending.get(s.id) ?? 0 }));
  }

  @Get(':id')
  @Requires('feed.subscribe')
  @ApiOperation({ summary: 'One subscription (without its secret)' })
  async get(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<SubscriptionView> {
    const s = await this.readable(p, id);
    return { ...s, pending: (await this.repo.pendingCounts()).get(s.id) ?? 0 };
  }

  @Delete(':id')
  @HttpCode(204)
  @Requires('feed.subscribe')
  @ApiOperation({
    summary: 'Delete a subscription (deliveries not yet made are cancelled and kept in its log)',
  })
  async remove(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<void> {
    const s = await this.owned(p, id);
    await this.repo.deleteSubscription(s.id, this.clock.now());
    if (s.status === 'paused') this.dispatcher.resumed(s);
    this.log.info('webhook subscription deleted', { id: s.id, by: p.name });
  }

  @Post(':id/resume')
  @HttpCode(200)
  @Requires('feed.subscribe')
  @ApiOperation({ summary: 'Resume a paused subscription: its backlog is delivered in order' })
  async resume(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<SubscriptionView> {
    const s = await this.owned(p, id);
    if (await this.repo.resumeSubscription(s.id, this.clock.now())) {
      this.dispatcher.resumed(s);
      this.log.info('webhook subscription resumed', { id: s.id, by: p.name });
    }
    return this.get(p, id);
  }

  @Get(':id/deliveries')
  @Requires('feed.subscribe')
  @ApiOperation({
    summary: 'Delivery log, newest first: each delivery with its stable id, status and every attempt',
  })
  async deliveries(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Query() q: DeliveriesQuery,
  ): Promise<unknown> {
    const s = await this.readable(p, id);
    const limit = q.limit ?? 100;
    const items = await this.repo.deliveries(s.id, {
      ...(q.before !== undefined ? { before: Number(q.before) } : {}),
      limit,
    });
    const last = items[items.length - 1];
    return {
      subscriptionId: s.id,
      items,
      ...(items.length === limit && last ? { nextBefore: last.ord } : {}),
    };
  }

  @Get(':id/grants')
  @Roles('admin')
  @ApiOperation({ summary: 'Tokens an admin let read this subscription (admin)' })
  async grants(@Param('id') id: string): Promise<unknown> {
    if (!(await this.repo.subscription(id))) throw new NotFoundException(`subscription '${id}' not found`);
    return this.repo.grants(id);
  }

  @Post(':id/grants')
  @HttpCode(204)
  @Roles('admin')
  @ApiOperation({
    summary:
      'Let another token (e.g. the city regulator) list and read this subscription and its delivery log; never resume or delete it (admin)',
  })
  async grant(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() b: GrantBody,
  ): Promise<void> {
    if (!(await this.repo.subscription(id))) throw new NotFoundException(`subscription '${id}' not found`);
    await this.repo.grant(id, b.tokenId, p.name, this.clock.now());
    this.log.info('webhook subscription read access granted', { id, tokenId: b.tokenId, by: p.name });
  }

  @Delete(':id/grants/:tokenId')
  @HttpCode(204)
  @Roles('admin')
  @ApiOperation({ summary: 'Withdraw a read grant (admin)' })
  async revokeGrant(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Param('tokenId') tokenId: string,
  ): Promise<void> {
    if (!(await this.repo.revokeGrant(id, tokenId)))
      throw new NotFoundException(`no grant of subscription '${id}' to token '${tokenId}'`);
    this.log.info('webhook subscription read access withdrawn', { id, tokenId, by: p.name });
  }
}
