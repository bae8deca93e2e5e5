import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal, Requires } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal';
import type { DutyEvent, DutyFeedback } from './duty-workflow.repository';
import {
  DutyListQuery,
  FeedbackBody,
  FeedbackListQuery,
  FeedbackReviewBody,
  OffPostEventBody,
} from './duty-workflow.dto';
import { DutyWorkflowService } from './duty-workflow.service';
import { reviewDecision } from './scoped-load';

/** Duty events from video analytics and the feedback loop of missed duty checks (docs/regulator-workflows.md). */
@ApiTags('regulator')
@ApiBearerAuth()
@Controller('api')
export class DutyWorkflowController {
  constructor(private readonly duty: DutyWorkflowService) {}

  @Post('duty-events')
  @Requires('duty-event.report')
  @ApiOperation({
    summary:
      'Report an operator-off-post (离岗) event with its evidence (video-analytics token): starts a duty check of that control room now',
  })
  @ApiCreatedResponse({
    description: 'recorded; `dutyCheckId` is the check started (or the one already running)',
  })
  @ApiOkResponse({ description: 'this event id was reported before: the first record, unchanged' })
  @ApiNotFoundResponse({
    description: 'no such enterprise in the token’s scope, or no duty-check configuration for it',
  })
  @ApiConflictResponse({ description: 'the event id was used before with another site or camera' })
  async offPost(
    @CurrentPrincipal() p: Principal,
    @Body() b: OffPostEventBody,
    @Res({ passthrough: true }) res: Response,
  ): Promise<DutyEvent & { duplicate: boolean }> {
    if (b.snapshotUrl === undefined && b.snapshotId === undefined && b.cameraId.trim() === '')
      throw new BadRequestException('evidence needs a camera id');
    const { event, duplicate } = await this.duty.reportOffPost(p, {
      eventId: b.eventId,
      site: b.site,
      cameraId: b.cameraId,
      ...(b.occurredAt !== undefined ? { occurredAt: b.occurredAt } : {}),
      ...(b.snapshotUrl !== undefined ? { snapshotUrl: b.snapshotUrl } : {}),
      ...(b.snapshotId !== undefined ? { snapshotId: b.snapshotId } : {}),
    });
    res.status(duplicate ? 200 : 201);
    return { ...event, duplicate };
  }

  @Get('duty-events')
  @Requires('plant.read')
  @ApiOperation({ summary: 'Duty events reported in your jurisdiction, newest first' })
  events(@CurrentPrincipal() p: Principal, @Query() q: DutyListQuery): Promise<DutyEvent[]> {
    return this.duty.events(p, q.limit ?? 100);
  }

  @Get('duty-feedback')
  @Requires('plant.read')
  @ApiOperation({
    summary: 'Feedback obligations (反馈) of missed duty checks in your jurisdiction, newest first',
  })
  feedbacks(@CurrentPrincipal() p: Principal, @Query() q: FeedbackListQuery): Promise<DutyFeedback[]> {
    return this.duty.feedbacks(p, {
      ...(q.status !== undefined ? { status: q.status } : {}),
      limit: q.limit ?? 100,
    });
  }

  @Get('duty-feedback/:id')
  @Requires('plant.read')
  @ApiOperation({ summary: 'One feedback obligation' })
  feedback(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<DutyFeedback> {
    return this.duty.feedback(p, id);
  }

  @Post('duty-feedback/:id')
  @HttpCode(200)
  @Requires('duty-feedback.file')
  @ApiOperation({
    summary: 'The enterprise’s feedback: who was on duty, why the check was missed, what was done',
  })
  @ApiConflictResponse({ description: 'not awaiting an answer (already filed or accepted)' })
  file(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() b: FeedbackBody,
  ): Promise<DutyFeedback> {
    return this.duty.file(p, id, b);
  }

  @Post('duty-feedback/:id/review')
  @HttpCode(200)
  @Requires('disposition.review')
  @ApiOperation({ summary: 'Accept the feedback (closed) or return it (awaiting again with a new deadline)' })
  @ApiConflictResponse({ description: 'not awaiting review' })
  review(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() b: FeedbackReviewBody,
  ): Promise<DutyFeedback> {
    return this.duty.review(p, id, reviewDecision(b, 'feedback'));
  }
}
