import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Requires } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import type { FindingStatus } from './domain/finding.policy';
import {
  ConvertHiddenDangerBody,
  CreateFindingBody,
  FindingListQuery,
  FindingPlanBody,
  FindingTransitionBody,
} from './findings.dto';
import { FindingsService, type FindingView } from './findings.service';

@ApiTags('findings')
@ApiBearerAuth()
@Controller('api/findings')
export class FindingsController {
  constructor(private readonly findings: FindingsService) {}

  @Get()
  @Requires('plant.read')
  @ApiOperation({
    summary: 'Findings (隐患) in your jurisdiction, filtered by site, grade (major/general) and status',
  })
  list(@CurrentPrincipal() p: Principal, @Query() q: FindingListQuery): Promise<FindingView[]> {
    return this.findings.list(p, q);
  }

  @Post()
  @Requires('plant.read')
  @ApiOperation({
    summary:
      'Record a finding: from an alarm, an inspection, an enterprise self-check or a public report (operators of the site, regulators of its jurisdiction)',
  })
  create(@CurrentPrincipal() p: Principal, @Body() b: CreateFindingBody): Promise<FindingView> {
    return this.findings.create(p, b);
  }

  @Get(':id')
  @Requires('plant.read')
  @ApiOperation({ summary: 'One finding with its history (404 outside your jurisdiction)' })
  get(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<FindingView> {
    return this.findings.get(p, id);
  }

  @Post(':id/plan')
  @HttpCode(200)
  @Requires('alarm.disposition')
  @ApiOperation({
    summary: 'Fill the 五落实 plan (measures, funds, time, responsible person, contingency plan)',
  })
  plan(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() b: FindingPlanBody,
  ): Promise<FindingView> {
    return this.findings.plan(p, id, b);
  }

  @Post(':id/transition')
  @HttpCode(200)
  @Requires('plant.read')
  @ApiOperation({
    summary:
      'open → rectifying (plan complete) → verified (enterprise); verified → closed 销号 or back to rectifying (regulator only)',
  })
  transition(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() b: FindingTransitionBody,
  ): Promise<FindingView> {
    return this.findings.transition(p, id, b.to as FindingStatus, b.comment);
  }
}

/** Converting a hidden-danger item of the disposal loop into a finding (docs/findings.md). */
@ApiTags('findings')
@ApiBearerAuth()
@Controller('api/hidden-dangers')
export class HiddenDangerConversionController {
  constructor(private readonly findings: FindingsService) {}

  @Post(':id/convert')
  @Requires('plant.read')
  @ApiOperation({
    summary:
      'Convert a hidden-danger item (open or rectifying) into a finding; grade and deadline are set in the request (the item has none)',
  })
  convert(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() b: ConvertHiddenDangerBody,
  ): Promise<FindingView> {
    return this.findings.convert(p, id, b);
  }
}
