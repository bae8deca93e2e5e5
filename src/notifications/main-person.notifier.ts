/**
 * Calls the enterprise's 主要负责人 about a finding (隐患) — when it is recorded and when it becomes overdue
 * (docs/findings.md, "Notification of the 主要负责人"). Same voice port, roster and call records as alarm call-outs:
 * the person on call at the time (a source's own roster wins over the site's), one call plus the policy's retries for
 * no answer / busy, each attempt stored in `call_attempt` under the finding.
 */
import { Inject, Injectable, Optional } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { CLOCK, type Clock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import { systemScheduler, type Scheduler } from '../common/timer.port';
import { createCallRunner, voiceRequest, type CallRunner } from './call.runner';
import { CALLOUT_STORE, type CalloutStore } from './callout.store';
import type { CalloutsConfig } from './callouts.loader';
import { findingPrompt } from './domain/prompt';
import { localTime, resolveCallee } from './domain/roster';
import { CALLOUTS_CONFIG, NOTIFY_SCHEDULER } from './notifications.tokens';
import { VOICE_PORT, type VoicePort } from './voice/voice.port';
import { VoiceHealth } from './voice-health.service';

export type FindingNotice = {
  readonly findingId: string;
  readonly siteId: string;
  readonly siteName: string;
  readonly sourceId?: string;
  readonly kind: 'recorded' | 'overdue';
  /** 重大事故隐患 / 一般事故隐患. */
  readonly grade: string;
  readonly title: string;
  /** Deadline as people read it (China time). */
  readonly deadline: string;
};

export type NoticeResult =
  | {
      readonly called: true;
      readonly calleeName: string;
      readonly outcome: string;
      readonly attempts: number;
      readonly rosterGap?: boolean;
    }
  | { readonly called: false; readonly reason: string };

@Injectable()
export class MainPersonNotifier {
  private readonly log = new JsonLogger('notifications.findings');
  private readonly runner: CallRunner | undefined;
  private readonly scheduler: Scheduler;

  constructor(
    @Inject(CALLOUTS_CONFIG) private readonly config: CalloutsConfig | null,
    @Inject(CALLOUT_STORE) store: CalloutStore,
    @Inject(VOICE_PORT) voice: VoicePort,
    @Inject(CLOCK) private readonly clock: Clock,
    metrics: HazwatchMetrics,
    @Optional() @Inject(NOTIFY_SCHEDULER) scheduler?: Scheduler,
    @Optional() health?: VoiceHealth,
  ) {
    this.scheduler = scheduler ?? systemScheduler;
    this.runner = config ? createCallRunner(store, voice, clock, metrics, this.log, health) : undefined;
  }

  /** Resolves when the notice is over (answered and confirmed, or every attempt spent). Never rejects. */
  async notify(n: FindingNotice): Promise<NoticeResult> {
    const contacts = this.config?.sites.get(n.siteId);
    if (!this.config || !this.runner)
      return this.skip(n, 'call-outs are not configured (config/callouts.yaml)');
    if (!contacts) return this.skip(n, `no call-out contacts for site ${n.siteId} in ${this.config.file}`);
    const callee = resolveCallee(
      contacts,
      'main',
      n.sourceId,
      localTime(this.clock.now(), this.config.timeZone),
    );
    if (!callee)
      return this.skip(n, `no 主要负责人 (main) listed for site ${n.siteId} in ${this.config.file}`);
    const policy = this.config.policy;
    const prompt = findingPrompt({ ...n, confirmKey: policy.confirmKey });
    let outcome = 'FAILED';
    let attemptNo = 0;
    try {
      for (attemptNo = 1; attemptNo <= 1 + policy.retries; attemptNo++) {
        if (attemptNo > 1) await new Promise<void>((r) => this.scheduler.after(policy.retryDelayMs, r));
        const id = `fn-${randomBytes(6).toString('hex')}`;
        const r = await this.runner.run(
          {
            id,
            findingId: n.findingId,
            siteId: n.siteId,
            calleeRole: 'main',
            calleeName: callee.name,
            number: callee.number,
            attemptNo,
            placedAt: this.clock.now(),
            provider: this.runner.provider,
            promptVersion: prompt.version,
          },
          voiceRequest({ id, callee }, prompt, policy),
          () => undefined,
        );
        outcome = r.outcome;
        if (!policy.retryOn.includes(r.outcome)) break;
      }
    } catch (err) {
      this.log.error('finding notice call failed', { findingId: n.findingId, err });
    }
    const attempts = Math.min(attemptNo, 1 + policy.retries);
    this.log.info('主要负责人 notified of a finding', {
      findingId: n.findingId,
      siteId: n.siteId,
      kind: n.kind,
      outcome,
      attempts,
    });
    return {
      called: true,
      calleeName: callee.name,
      outcome,
      attempts,
      ...(callee.rosterGap ? { rosterGap: true } : {}),
    };
  }

  private skip(n: FindingNotice, reason: string): NoticeResult {
    this.log.warn('主要负责人 not called about a finding', { findingId: n.findingId, kind: n.kind, reason });
    return { called: false, reason };
  }
}
