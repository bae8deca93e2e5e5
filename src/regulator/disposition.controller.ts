import { Body, Controller, Get, HttpCode, Param, Post, Query, UseFilters } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AlarmErrorFilter } from '../alarms/alarm-error.filter';
import { CurrentPrincipal, Requires } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import { DisposalService } from './disposal.service';
import { reviewDecision } from './scoped-load';
import {
  DispositionBody,
  HiddenDangerBody,
  HiddenDangerMoveBody,
  HiddenDangerQuery,
  ReviewBody,
} from './disposition.dto';

/** The closed loop: disposal records (enterprise), reviews (regulator), hidden-danger items. */
@ApiTags('disposal')
@ApiBearerAuth()
@UseFilters(AlarmErrorFilter)
@Controller('api')
export class DispositionController {
  constructor(private readonly disposal: DisposalService) {}

  @Post('alarms/:id/disposition')
  @HttpCode(201)
  @Requires('alarm.disposition')
  @ApiOperation({
    summary:
      'File the disposal record of an alarm (enterprise); journalled and sent to regulators as a CAP Update',
  })
  file(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() b: DispositionBody,
  ): Promise<unknown> {
    return this.disposal.file(id, p, b);
  }

  @Post('alarms/:id/disposition/review')
  @HttpCode(200)
  @Requires('disposition.review')
  @ApiOperation({ summary: 'Accept or return the pending disposal record of an alarm (regulator)' })
  review(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() b: ReviewBody): Promise<unknown> {
    const r = reviewDecision(b, 'a disposal record');
    return this.disposal.review(id, p, r.accept ? 'accept' : 'return', r.comment);
  }

  @Get('alarms/:id/disposition')
  @Requires('plant.read')
  @ApiOperation({ summary: 'Disposal obligation and records of an alarm' })
  history(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<unknown> {
    return this.disposal.history(id, p);
  }

  @Post('alarms/:id/hidden-dangers')
  @HttpCode(201)
  @Requires('plant.read')
  @ApiOperation({ summary: 'Raise a hidden-danger item (隐患) from an alarm (enterprise or regulator)' })
  raise(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() b: HiddenDangerBody,
  ): Promise<unknown> {
    return this.disposal.raiseHiddenDanger(id, p, b.title, b.comment);
  }

  @Post('hidden-dangers/:id/transition')
  @HttpCode(200)
  @Requires('plant.read')
  @ApiOperation({ summary: 'open → rectifying → verified (enterprise) → closed (regulator sign-off only)' })
  move(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() b: HiddenDangerMoveBody,
  ): Promise<unknown> {
    return this.disposal.moveHiddenDanger(id, p, b.to, b.comment);
  }

  @Get('hidden-dangers')
  @Requires('plant.read')
  @ApiOperation({ summary: 'Hidden-danger items in your jurisdiction, with their history' })
  list(@CurrentPrincipal() p: Principal, @Query() q: HiddenDangerQuery): Promise<unknown> {
    return this.disposal.hiddenDangers(p, {
      ...(q.site ? { siteId: q.site } : {}),
      ...(q.alarm ? { alarmId: q.alarm } : {}),
      ...(q.status ? { status: q.status } : {}),
    });
  }
}
