import { ForbiddenException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { SiteSchema } from '../config/plant.schema';
import { can, type Capability } from './domain/capability.policy';
import { scopeCovers, sitePath, type Principal } from './principal';

/**
 * Which sites a principal may see: admin all; everyone else the sites whose path `${jurisdiction}/${id}` lies under the
 * token's scope (segment-aware, `tianjin/bin` does not cover `tianjin/binhai/...`). Every endpoint, feed and WebSocket
 * subscription filters through this.
 */
@Injectable()
export class ScopeService {
  private readonly sites: readonly SiteSchema[];
  private readonly siteById: ReadonlyMap<string, SiteSchema>;
  /** scope → visible site ids. The plant model is fixed at start, so this never goes stale. */
  private readonly visible = new Map<string, ReadonlySet<string>>();

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.sites = config.plant.sites;
    this.siteById = config.plant.siteById;
  }

  canSeeSite(principal: Principal, siteId: string): boolean {
    return this.visibleSiteIds(principal).has(siteId);
  }

  visibleSiteIds(principal: Principal): ReadonlySet<string> {
    const key = principal.role === 'admin' ? '' : principal.scope;
    let ids = this.visible.get(key);
    if (ids === undefined) {
      ids = new Set(this.sites.filter((s) => scopeCovers(key, sitePath(s))).map((s) => s.id));
      this.visible.set(key, ids);
    }
    return ids;
  }

  /** Site ids for a SQL filter (`site_id = ANY($1)`), or undefined when the principal sees every site. */
  siteFilter(principal: Principal): readonly string[] | undefined {
    const ids = this.visibleSiteIds(principal);
    return ids.size === this.sites.length ? undefined : [...ids];
  }

  /** The site, or 404 — also for a site outside the principal's scope, so its existence is not revealed. */
  assertSite(principal: Principal, siteId: string): SiteSchema {
    const site = this.siteById.get(siteId);
    if (!site || !this.canSeeSite(principal, siteId))
      throw new NotFoundException(`site '${siteId}' not found`);
    return site;
  }

  /** 403 unless the principal's role holds the capability. */
  assertCan(principal: Principal, capability: Capability): void {
    if (!can(principal, capability))
      throw new ForbiddenException(`role '${principal.role}' may not do this (missing ${capability})`);
  }
}
