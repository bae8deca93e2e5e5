/** Builders for feed tests: an alarm event as AlarmService pushes it, and the demo site it belongs to. */
import type { AlarmEventDto } from '../../alarms/domain/alarm.types';
import { PRIORITY_LEVEL } from '../../common/types';
import type { CapSettings, CapSite, CapSource, CapDevice } from '../domain/cap-message.builder';

export const EVENT_T0 = Date.UTC(2026, 10, 24, 10, 0, 0);

export function makeFeedEvent(o: Partial<AlarmEventDto> = {}): AlarmEventDto {
  const priority = o.priority ?? 'critical';
  return {
    id: 'al-0123456789abcdef0123',
    siteId: 'bohai-chem',
    sourceId: 'bhc-cl2',
    ruleId: 'vote:cl-a1',
    condition: 'vote',
    priority,
    level: PRIORITY_LEVEL[priority],
    state: 'unacknowledged',
    active: true,
    acked: false,
    value: 2,
    limit: 2,
    message: '氯气二级报警（表决） chlorine level 2 voted',
    raisedAt: new Date(EVENT_T0).toISOString(),
    seq: 41,
    event: 'raised',
    at: new Date(EVENT_T0).toISOString(),
    ...o,
  };
}

export const BOHAI_SITE: CapSite = {
  id: 'bohai-chem',
  name: '天津渤海化工有限公司',
  nameEn: 'Bohai Chemical Co., Ltd.',
  jurisdiction: 'tianjin/binhai/nangang',
  location: { lat: 38.762, lon: 117.512 },
};
export const CL2_SOURCE: CapSource = {
  id: 'bhc-cl2',
  name: '液氯储罐区',
  nameEn: 'Liquid chlorine tank farm',
};
export const CL2_DETECTOR: CapDevice = {
  id: 'cl-gd-1',
  name: 'chlorine 探测器 GD-1',
  kind: 'gas_detector',
  gas: 'chlorine',
  gasClass: 'toxic',
};
export const CAP_SETTINGS: CapSettings = {
  sender: 'hazwatch@hazwatch.example.cn',
  status: 'Actual',
  areaRadiusKm: 0.5,
};
