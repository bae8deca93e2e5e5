import { Inject, Injectable } from '@nestjs/common';
import { AlarmService } from '../alarms/alarm.service';
import { ExternalConditions } from '../alarms/external-conditions';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { CallOutcome } from './domain/callout.types';

/** Rule id of the alarm raised when calls keep failing (the PBX/gateway is down or refuses us). */
export const VOICE_FAILURE_RULE_ID = 'ext:voice-gateway';
export const VOICE_FAILURE_CONDITION = 'voice_calls_failing';
/** Consecutive calls that failed to reach the network before the alarm is raised. */
export const VOICE_FAILURE_THRESHOLD = 3;

/** Outcomes that prove the phone network worked (the callee's phone answered, rang or refused). */
const REACHED: ReadonlySet<CallOutcome> = new Set([
  'ACKED',
  'ANSWERED_NO_ACK',
  'WRONG_KEY',
  'NO_ANSWER',
  'BUSY',
  'REJECTED',
]);
const BROKEN: ReadonlySet<CallOutcome> = new Set(['FAILED', 'UNREACHABLE']);

/**
 * "If voice fails, alarm" (DOMAIN §6): after VOICE_FAILURE_THRESHOLD consecutive calls end FAILED or UNREACHABLE, an
 * `ext:voice-gateway` alarm is raised for the site whose call failed (so its console shows that phones are not
 * reaching anyone); the next call that reaches the network clears every such alarm. These alarms start no call-out.
 */
@Injectable()
export class VoiceHealth {
  private readonly log = new JsonLogger('notifications.voice-health');
  private consecutive = 0;

  constructor(
    private readonly external: ExternalConditions,
    private readonly alarms: AlarmService,
    @Inject(APP_CONFIG) private readonly app: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  record(siteId: string, outcome: CallOutcome, detail?: string): void {
    if (BROKEN.has(outcome)) {
      this.consecutive += 1;
      if (this.consecutive < VOICE_FAILURE_THRESHOLD) return;
      const site = this.app.plant.siteById.get(siteId);
      if (this.activeSites().has(siteId)) return;
      this.log.error('calls keep failing: raising a voice gateway alarm', {
        siteId,
        consecutive: this.consecutive,
        detail,
      });
      this.external.emit({
        ruleId: VOICE_FAILURE_RULE_ID,
        sourceId: site?.hazardSources[0]?.id ?? siteId,
        siteId,
        condition: VOICE_FAILURE_CONDITION,
        active: true,
        priority: 'high',
        value: this.consecutive,
        limit: VOICE_FAILURE_THRESHOLD,
        ts: this.clock.now(),
        message: `自动语音呼叫连续 ${this.consecutive} 次失败，电话告警无法送达（${detail ?? outcome}）`,
      });
    } else if (REACHED.has(outcome)) {
      this.consecutive = 0;
      for (const siteId of this.activeSites()) {
        const site = this.app.plant.siteById.get(siteId);
        this.log.info('calls reach the network again: voice gateway alarm cleared', { siteId });
        this.external.emit({
          ruleId: VOICE_FAILURE_RULE_ID,
          sourceId: site?.hazardSources[0]?.id ?? siteId,
          siteId,
          condition: VOICE_FAILURE_CONDITION,
          active: false,
          priority: 'high',
          value: 0,
          limit: VOICE_FAILURE_THRESHOLD,
          ts: this.clock.now(),
          message: '自动语音呼叫恢复',
        });
      }
    }
  }

  private activeSites(): Set<string> {
    return new Set(
      this.alarms
        .records()
        .flatMap((a) => (a.ruleId === VOICE_FAILURE_RULE_ID && a.active ? [a.siteId] : [])),
    );
  }
}
