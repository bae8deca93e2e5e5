import {
  Body,
  Controller,
  Delete,
  ForbiddenException,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { randomBytes } from 'node:crypto';
import { CurrentPrincipal, Requires } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { scopeWithin } from './domain/webhook.policy';
import { SubscriptionRepository, type Subscription } from './subscription.repository';
import { DeliveriesQuery, CreateSubscriptionBody } from './subscriptions.dto';
import { WebhookDispatcher } from './webhook-dispatcher.service';

export type SubscriptionView = Subscription & { pending: number };

/**
 * Webhook subscriptions of regulators (issue 7). A regulator manages subscriptions within its own jurisdiction; the
 * secret is generated here, returned once in the 201 answer, and never shown or logged again.
 */
@ApiTags('subscriptions')
@ApiBearerAuth()
@Controller('api/subscriptions')
export class SubscriptionsController {
  private readonly log = new JsonLogger('feeds.subscriptions');

  constructor(
    private readonly repo: SubscriptionRepository,
    private readonly dispatcher: WebhookDispatcher,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  private ownScope(p: Principal): string {
    return p.role === 'admin' ? '' : p.scope;
  }

  private async visible(p: Principal, id: string): Promise<Subscription> {
    const s = await this.repo.subscription(id);
    if (!s || !scopeWithin(s.scope, this.ownScope(p)))
      throw new NotFoundException(`subscription '${id}' not found`);
    return s;
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
    const secret = 'whsec_' + randomBytes(32).toString('base64url');
    const sub = await this.repo.createSubscription({
      id: 'sub-' + randomBytes(6).toString('hex'),
      name: b.name ?? p.name,
      url: b.url,
      scope: b.scope,
      minPriority: b.minPriority,
      format: b.format,
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
      by: p.name,
    });
    return { ...sub, secret };
  }

  @Get()
  @Requires('feed.subscribe')
  @ApiOperation({ summary: 'Webhook subscriptions within your jurisdiction (without secrets)' })
  async list(@CurrentPrincipal() p: Principal): Promise<SubscriptionView[]> {
    const [subs, pending] = await Promise.all([this.repo.subscriptions(), this.repo.pendingCounts()]);
    return subs
      .filter((s) => scopeWithin(s.scope, this.ownScope(p)))
      .map((s) => ({ ...s, pending: pending.get(s.id) ?? 0 }));
  }

  @Get(':id')
  @Requires('feed.subscribe')
  @ApiOperation({ summary: 'One subscription (without its secret)' })
  async get(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<SubscriptionView> {
    const s = await this.visible(p, id);
    return { ...s, pending: (await this.repo.pendingCounts()).get(s.id) ?? 0 };
  }

  @Delete(':id')
  @HttpCode(204)
  @Requires('feed.subscribe')
  @ApiOperation({
    summary: 'Delete a subscription (deliveries not yet made are cancelled and kept in its log)',
  })
  async remove(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<void> {
    const s = await this.visible(p, id);
    await this.repo.deleteSubscription(s.id, this.clock.now());
    if (s.status === 'paused') this.dispatcher.resumed(s);
    this.log.info('webhook subscription deleted', { id: s.id, by: p.name });
  }

  @Post(':id/resume')
  @HttpCode(200)
  @Requires('feed.subscribe')
  @ApiOperation({ summary: 'Resume a paused subscription: its backlog is delivered in order' })
  async resume(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<SubscriptionView> {
    const s = await this.visible(p, id);
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
    const s = await this.visible(p, id);
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
}
