import type { AlarmService } from '../alarms/alarm.service';
import type { ConditionChange } from '../alarms/domain/condition-change';
import { ExternalConditions } from '../alarms/external-conditions';
import { ManualClock } from '../common/clock';
import { JsonLogger } from '../common/logger';
import type { AppConfig } from '../config/app-config';
import { HazwatchMetrics } from '../metrics/metrics.registry';
import type { MqttSecurity } from '../ingest/mqtt-auth/mqtt-security.service';
import { BrokerMonitor, monitorClientId } from './broker-monitor.service';

describe('BrokerMonitor', () => {
  beforeAll(() => JsonLogger.setLevel('error'));

  function setup() {
    const external = new ExternalConditions();
    const emitted: ConditionChange[] = [];
    const active = new Set<string>();
    external.conditions$.subscribe((c) => {
      emitted.push(c);
      if (c.active) active.add(c.siteId);
      else active.delete(c.siteId);
    });
    const alarms = {
      records: () => [...active].map((siteId) => ({ ruleId: 'ext:broker-loss', siteId, active: true })),
    } as unknown as AlarmService;
    const app = {
      env: { MQTT_CLIENT_ID: 'hazwatch-server' },
      plant: {
        sites: [
          { id: 's1', hazardSources: [{ id: 'hs1' }] },
          { id: 's2', hazardSources: [] },
        ],
      },
    } as unknown as AppConfig;
    const metrics = new HazwatchMetrics(false);
    const monitor = new BrokerMonitor(external, alarms, app, new ManualClock(5_000), metrics, {
      identity: () => ({ clientId: 'hazwatch-server-0123456789abcdef', statusName: 'hazwatch-server' }),
    } as unknown as MqttSecurity);
    const value = async (name: string): Promise<number | undefined> =>
      (await metrics.registry.getSingleMetric(name)?.get())?.values[0]?.value;
    return { monitor, emitted, value };
  }

  it('should count each increase of the broker drop counter and raise the critical alarm once per site', async () => {
    const { monitor, emitted, value } = setup();
    monitor.onDroppedCounter('0');
    expect(emitted).toHaveLength(0);
    monitor.onDroppedCounter('450');
    expect(await value('hazwatch_broker_dropped_messages_total')).toBe(450);
    expect(emitted.map((c) => [c.siteId, c.sourceId, c.priority, c.active, c.value])).toEqual([
      ['s1', 'hs1', 'critical', true, 450],
      ['s2', 's2', 'critical', true, 450],
    ]);
    monitor.onDroppedCounter('460');
    expect(await value('hazwatch_broker_dropped_messages_total')).toBe(460);
    expect(await value('hazwatch_broker_reported_dropped_messages')).toBe(460);
    expect(emitted).toHaveLength(2); // already active
    monitor.onDroppedCounter('nonsense');
    expect(await value('hazwatch_broker_dropped_messages_total')).toBe(460);
    await monitor.onApplicationShutdown();
  });

  it('should count drops after a broker restart (counter back near 0) as new loss', async () => {
    const { monitor, value } = setup();
    monitor.onDroppedCounter('100');
    monitor.onDroppedCounter('3');
    expect(await value('hazwatch_broker_dropped_messages_total')).toBe(103);
    await monitor.onApplicationShutdown();
  });

  it('should use a client id of its own within the 64-character limit', () => {
    expect(monitorClientId('hazwatch-server')).toBe('hazwatch-server-sys');
    expect(monitorClientId('x'.repeat(64))).toHaveLength(64);
  });
});
