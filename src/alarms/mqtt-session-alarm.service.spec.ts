import { BehaviorSubject } from 'rxjs';
import { ManualClock } from '../common/clock';
import type { AppConfig } from '../config/app-config';
import type { ConditionChange } from './domain/condition-change';
import { NO_TAKEOVER, type TakeoverState } from '../ingest/mqtt-auth/domain/session-takeover';
import type { MqttSecurity } from '../ingest/mqtt-auth/mqtt-security.service';
import type { AlarmService } from './alarm.service';
import { ExternalConditions } from './external-conditions';
import { MQTT_SESSION_RULE_ID, MqttSessionAlarm } from './mqtt-session-alarm.service';
import { pollUntil } from '../../test/setup/poll-until';

const SUSPECTED: TakeoverState = {
  suspected: true,
  reason: 'repeated_broker_closes',
  since: 1000,
  closes: 3,
};

function setup(activeSites: string[] = []) {
  const state = new BehaviorSubject<TakeoverState>(NO_TAKEOVER);
  const emitted: ConditionChange[] = [];
  const external = new ExternalConditions();
  const active = new Set(activeSites);
  external.conditions$.subscribe((c) => {
    emitted.push(c);
    if (c.active) active.add(c.siteId);
    else active.delete(c.siteId);
  });
  const alarms = {
    whenReady: async () => undefined,
    records: () => [...active].map((siteId) => ({ ruleId: MQTT_SESSION_RULE_ID, siteId, active: true })),
  } as unknown as AlarmService;
  const app = {
    plant: {
      sites: [
        { id: 'a', hazardSources: [{ id: 'a-src' }] },
        { id: 'b', hazardSources: [] },
      ],
    },
  } as unknown as AppConfig;
  const svc = new MqttSessionAlarm(
    { sessionTakeover$: state.asObservable() } as unknown as MqttSecurity,
    external,
    alarms,
    app,
    new ManualClock(5000),
  );
  svc.onApplicationBootstrap();
  return { state, emitted, svc };
}

describe('MqttSessionAlarm', () => {
  it('should raise a critical alarm for every site while a takeover is suspected and clear it afterwards', async () => {
    const { state, emitted } = setup();
    state.next(SUSPECTED);
    await pollUntil(() => emitted.length === 2);
    expect(emitted.map((c) => [c.siteId, c.sourceId, c.active, c.priority, c.ruleId])).toEqual([
      ['a', 'a-src', true, 'critical', 'ext:mqtt-session'],
      ['b', 'b', true, 'critical', 'ext:mqtt-session'],
    ]);
    state.next({ ...SUSPECTED, closes: 5 }); // still suspected: nothing new
    state.next(NO_TAKEOVER);
    await pollUntil(() => emitted.length === 4);
    expect(emitted.slice(2).map((c) => [c.siteId, c.active])).toEqual([
      ['a', false],
      ['b', false],
    ]);
  });

  it('should clear an alarm left active before a restart once the session is held', async () => {
    const { emitted } = setup(['b']);
    await pollUntil(() => emitted.length === 1);
    expect(emitted[0]).toMatchObject({ siteId: 'b', active: false });
  });
});
