import { Controller, Get, NotFoundException, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Inject } from '@nestjs/common';
import { CurrentPrincipal, Requires } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { ScopeService } from '../auth/scope.service';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { DeviceInfo } from '../config/config.loader';
import type { SiteSchema } from '../config/plant.schema';
import { linkView } from '../ingest/domain/device-tracker';
import { jurisdictionView } from '../config/admin-divisions';
import { IngestService } from '../ingest/ingest.service';
import { maxFillLevelPct } from '../rules/domain/tank-geometry';
import { SiteFilterQuery } from './plant.dto';

/**
 * The level marks the console's mimic draws on a tank (docs/adr/0018-console-stack.md): the level holding the filling
 * limit (where the rule engine puts HH), H 5 % of span below it, and the independent HH switch when fitted.
 */
function tankMarks(d: DeviceInfo): Record<string, number> {
  const spec = d.channels.get('level_pct');
  const [lo, hi] = spec?.type === 'number' ? spec.span : [0, 100];
  const w = hi - lo;
  const hh = Math.round((lo + (w * maxFillLevelPct(d)) / 100) * 10) / 10;
  return {
    maxFillPct: d.maxFillPct ?? 90,
    levelHHPct: hh,
    levelHPct: Math.round((hh - w * 0.05) * 10) / 10,
    ...(d.levelSwitchHHPct !== undefined ? { levelSwitchHHPct: d.levelSwitchHHPct } : {}),
  };
}

/** Read side of the plant model with live device state. Everything is filtered by the caller's jurisdiction. */
@ApiTags('plant')
@ApiBearerAuth()
@Controller('api')
export class PlantController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ingest: IngestService,
    private readonly scope: ScopeService,
  ) {}

  @Get('sites')
  @Requires('plant.read')
  @ApiOperation({ summary: 'Enterprises in your jurisdiction, with hazard sources and device counts' })
  sites(@CurrentPrincipal() principal: Principal): unknown[] {
    const visible = this.scope.visibleSiteIds(principal);
    return this.config.plant.sites.filter((s) => visible.has(s.id)).map((s) => this.siteSummary(s));
  }

  @Get('sites/:id')
  @Requires('plant.read')
  @ApiOperation({
    summary: 'One enterprise with its hazard sources and devices (404 outside your jurisdiction)',
  })
  site(@CurrentPrincipal() principal: Principal, @Param('id') id: string): unknown {
    const site = this.config.plant.siteById.get(id);
    if (!site || !this.scope.canSeeSite(principal, id)) throw new NotFoundException(`site '${id}' not found`);
    return {
      ...this.siteSummary(site),
      devices: site.devices.map((d) =>
        this.deviceView(this.config.plant.deviceByKey.get(`${site.id}/${d.id}`)),
      ),
    };
  }

  @Get('devices')
  @Requires('plant.read')
  @ApiOperation({ summary: 'Devices with online state, last values and last seen; filter by site' })
  devices(@CurrentPrincipal() principal: Principal, @Query() q: SiteFilterQuery): unknown[] {
    if (
      q.site !== undefined &&
      (!this.config.plant.siteById.has(q.site) || !this.scope.canSeeSite(principal, q.site))
    )
      throw new NotFoundException(`site '${q.site}' not found`);
    const visible = this.scope.visibleSiteIds(principal);
    const out: unknown[] = [];
    for (const d of this.config.plant.deviceByKey.values()) {
      if (!visible.has(d.siteId) || (q.site !== undefined && d.siteId !== q.site)) continue;
      out.push(this.deviceView(d));
    }
    return out;
  }

  private siteSummary(s: SiteSchema): Record<string, unknown> {
    let online = 0;
    for (const d of s.devices) if (this.ingest.registry.get(`${s.id}/${d.id}`)?.state === 'online') online++;
    return {
      id: s.id,
      name: s.name,
      nameEn: s.nameEn ?? null,
      jurisdiction: s.jurisdiction,
      // official names and the GB/T 2260 code, so the console shows 天津市滨海新区临港经济区, not the slug path
      ...jurisdictionView(this.config.plant.jurisdictionByPath, s.jurisdiction),
      location: s.location,
      flags: s.flags ?? [],
      hazardSources: s.hazardSources.map((h) => ({
        id: h.id,
        name: h.name,
        nameEn: h.nameEn ?? null,
        unitType: h.unitType,
        filedGrade: h.filedGrade,
        peopleWithin500m: h.peopleWithin500m,
        substances: h.substances,
        requiredSystems: h.requiredSystems ?? ['esd', 'gas_detection', 'video', 'lightning'],
      })),
      deviceCount: s.devices.length,
      devicesOnline: online,
    };
  }

  private deviceView(d: DeviceInfo | undefined): Record<string, unknown> {
    if (!d) return {};
    const status = this.ingest.registry.get(`${d.siteId}/${d.id}`);
    const values: Record<string, unknown> = {};
    for (const [ch, v] of status?.values ?? [])
      values[ch] = { value: v.value, ts: new Date(v.ts).toISOString(), quality: v.quality };
    return {
      siteId: d.siteId,
      deviceId: d.id,
      name: d.name,
      nameEn: d.nameEn ?? null,
      kind: d.kind,
      sourceId: d.sourceId,
      area: d.area,
      periodS: d.periodS,
      ...(d.kind === 'gas_detector'
        ? { gas: d.gas, gasClass: d.gasClass, unit: d.unit, level1: d.level1, level2: d.level2 }
        : {}),
      ...(d.kind === 'tank'
        ? {
            capacityM3: d.capacityM3,
            densityTPerM3: d.densityTPerM3,
            substance: d.substance,
            ...tankMarks(d),
          }
        : {}),
      ...(d.kind === 'shutoff_valve' ? { travelTimeS: d.travelTimeS } : {}),
      ...(d.kind === 'safety_system' ? { system: d.system } : {}),
      ...(d.kind === 'analog' ? { unit: d.unit, limits: d.limits } : {}),
      ...(d.kind === 'discrete' ? { alarmWhen: d.alarmWhen ?? true, priority: d.priority ?? 'high' } : {}),
      ranges: Object.fromEntries(
        [...d.channels].flatMap(([ch, spec]) => (spec.type === 'number' ? [[ch, spec.span]] : [])),
      ),
      state: status?.state ?? 'unknown',
      stateChangedAt: status?.stateChangedAt ? new Date(status.stateChangedAt).toISOString() : null,
      lastSeen: status?.lastSeen ? new Date(status.lastSeen).toISOString() : null,
      values,
      // clock health and upstream loss (seq gaps) of the device's messages, docs/ingest-time-and-sequence.md
      ...(status ? linkView(status.tracker) : {}),
    };
  }
}
