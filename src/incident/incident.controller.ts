import { Controller, Get, Inject, NotFoundException, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal, Requires } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { ScopeService } from '../auth/scope.service';
import { CLOCK, type Clock } from '../common/clock';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { conditionLabel } from '../regulator/domain/cap-message.builder';
import { checkRange, parseTime } from '../plant/time-range';
import { layoutDossier } from './domain/dossier-layout';
import { renderDossierHtml } from './domain/dossier-html';
import { localClock } from './domain/local-time';
import { renderDossierPdf } from './dossier-pdf';
import { IncidentQuery } from './incident.dto';
import { IncidentService } from './incident.service';

const HOUR = 3600_000;
/** A dossier covers one incident: at most a week. */
export const MAX_DOSSIER_DAYS = 7;

@ApiTags('incident')
@ApiBearerAuth()
@Controller('api/sites')
export class IncidentController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly scope: ScopeService,
    private readonly incidents: IncidentService,
  ) {}

  @Get(':id/incident')
  @Requires('plant.read')
  @ApiProduces('application/json', 'text/html', 'application/pdf')
  @ApiOperation({
    summary:
      'Incident dossier of one enterprise for a window (报告材料): alarm journal, call-outs with every attempt and key press, duty checks, hidden dangers, responsible persons on duty, telemetry charts of the involved devices; json, printable html or pdf (404 outside your jurisdiction)',
  })
  async dossier(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Query() q: IncidentQuery,
    @Res() res: Response,
  ): Promise<void> {
    if (!this.config.plant.siteById.has(id) || !this.scope.canSeeSite(principal, id))
      throw new NotFoundException(`site '${id}' not found`);
    const to = parseTime(q.to, 'to', this.clock.now());
    const from = parseTime(q.from, 'from', to - HOUR);
    checkRange(from, to, MAX_DOSSIER_DAYS);
    const dossier = await this.incidents.build(id, from, to, `${principal.name} (${principal.role})`);
    const format = q.format ?? 'json';
    res.setHeader('Cache-Control', 'no-store');
    if (format === 'json') {
      res.json(dossier);
      return;
    }
    const doc = layoutDossier(dossier, (c) => conditionLabel(c).zh);
    const stamp = localClock(from).slice(0, 16).replace(/[-: ]/g, '');
    if (format === 'html') {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.setHeader(
        'Content-Security-Policy',
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
      );
      res.send(renderDossierHtml(doc));
      return;
    }
    const pdf = await renderDossierPdf(doc, new Date(dossier.generatedAt));
    res.setHeader('Content-Type', 'application/pdf');
    res.setHeader('Content-Disposition', `attachment; filename="incident-${id}-${stamp}.pdf"`);
    res.send(pdf);
  }
}
