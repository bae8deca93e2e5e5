/**
 * Builds the CAP 1.2 message for one alarm event (docs/domain.md §7 table). Pure: everything it needs is passed in.
 */
import type { AlarmEventDto } from '../../alarms/domain/alarm.types';
import type { ColourLevel, Priority } from '../../common/types';
import type {
  CapAlert,
  CapCategory,
  CapCertainty,
  CapMsgType,
  CapResponseType,
  CapSeverity,
  CapStatus,
  CapUrgency,
  CapValuePair,
} from './cap.types';
import { capTime } from './cap-time';

export type CapSite = {
  readonly id: string;
  readonly name: string;
  readonly nameEn?: string;
  readonly jurisdiction: string;
  readonly location: { readonly lat: number; readonly lon: number };
};
export type CapSource = { readonly id: string; readonly name: string; readonly nameEn?: string };
export type CapDevice = {
  readonly id: string;
  readonly name: string;
  readonly kind: string;
  readonly gas?: string;
  readonly gasClass?: string;
};

export type CapSettings = {
  /** `hazwatch@<domain>`. */
  readonly sender: string;
  readonly status: CapStatus;
  /** Radius of the area circle around the site location, km (default 0.5: the 500 m of GB 18218's α). */
  readonly areaRadiusKm: number;
};

/** The first message of an incident (the Alert), referenced by its Updates and its Cancel. */
export type IncidentRef = { readonly identifier: string; readonly sent: string };

export type CapBuildInput = {
  readonly event: AlarmEventDto;
  readonly msgType: Extract<CapMsgType, 'Alert' | 'Update' | 'Cancel'>;
  /** Required for Update and Cancel. */
  readonly incident?: IncidentRef;
  readonly site: CapSite;
  readonly source?: CapSource;
  readonly device?: CapDevice;
  readonly settings: CapSettings;
  /** When the enterprise's disposal record is due (reportable alarms), epoch ms. */
  readonly disposalDueAt?: number;
  /** Signed alarm-journal chain head, one line (docs/adr/0015-journal-anchors.md): regulators keep it as evidence. */
  readonly journalAnchor?: string;
};

export const SEVERITY: Record<ColourLevel, CapSeverity> = {
  red: 'Extreme',
  orange: 'Severe',
  yellow: 'Moderate',
  blue: 'Minor',
};

const CONDITION_LABEL: Readonly<Record<string, { zh: string; en: string }>> = {
  gas_l1: { zh: '一级报警', en: 'level-1 alarm' },
  gas_l2: { zh: '二级报警', en: 'level-2 alarm' },
  gas_l2_valve_open: { zh: '二级报警且进料阀未关', en: 'level-2 alarm with inlet valve open' },
  vote: { zh: '多点表决报警', en: 'voted alarm' },
  vote_degraded: { zh: '表决降级', en: 'voting degraded' },
  HH: { zh: '液位高高报警', en: 'high-high level' },
  H: { zh: '液位高报警', en: 'high level' },
  L: { zh: '液位低报警', en: 'low level' },
  LL: { zh: '液位低低报警', en: 'low-low level' },
  overfill_predicted: { zh: '预计溢罐', en: 'overfill predicted' },
  shutoff_failed: { zh: '紧急切断失败', en: 'emergency shut-off failed' },
  trip: { zh: '紧急切断动作', en: 'shut-off trip' },
  discrepancy: { zh: '阀位与指令不一致', en: 'valve position discrepancy' },
  stuck: { zh: '阀门卡滞', en: 'valve stuck' },
  uncommanded: { zh: '阀门非指令动作', en: 'uncommanded valve movement' },
  valve_fault: { zh: '阀门故障', en: 'valve fault' },
  system_fault: { zh: '安全系统故障', en: 'safety system fault' },
  bypassed: { zh: '安全系统旁路', en: 'safety system bypassed' },
  detector_fault: { zh: '探测器故障', en: 'detector fault' },
  stale: { zh: '数据中断', en: 'no data' },
  offline: { zh: '设备离线', en: 'device offline' },
  quality_bad: { zh: '数据质量差', en: 'bad data quality' },
  over_range: { zh: '超量程', en: 'over range' },
  under_range: { zh: '低于量程', en: 'under range' },
  roc_rise: { zh: '快速上升', en: 'rapid rise' },
  roc_fall: { zh: '快速下降', en: 'rapid fall' },
  disposal_overdue: { zh: '处置记录逾期', en: 'disposal record overdue' },
  webhook_failing: { zh: '监管推送失败', en: 'regulator webhook failing' },
};

/** Conditions about the instrument or the data rather than the process: the hazard itself is only Likely. */
const DOUBTFUL = /stale|quality|uncertain|frozen|drift|offline|comm|fault|range|degraded/;

export const capIdentifier = (siteId: string, alarmId: string, seq: number): string =>
  `hazwatch-${siteId}-${alarmId}-${seq}`;

/** `sender,identifier,sent` (CAP 1.2 references). */
export const capReference = (sender: string, ref: IncidentRef): string =>
  `${sender},${ref.identifier},${ref.sent}`;

export function conditionLabel(condition: string): { zh: string; en: string } {
  return CONDITION_LABEL[condition] ?? { zh: condition, en: condition.replace(/_/g, ' ') };
}

export function capCategory(e: Pick<AlarmEventDto, 'condition' | 'ruleId'>, device?: CapDevice): CapCategory {
  if (/fire|flame|smoke/i.test(e.condition) || /fire/i.test(e.ruleId)) return 'Fire';
  if (/offsite|env|boundary/i.test(e.condition) || /offsite|boundary/i.test(e.ruleId)) return 'Env';
  if (device?.kind === 'gas_detector' && device.gasClass === 'combustible' && /gas_l2|vote/.test(e.condition))
    return 'Fire';
  return 'Safety';
}

export function capUrgency(
  e: Pick<AlarmEventDto, 'active' | 'level'>,
  msgType: CapBuildInput['msgType'],
): CapUrgency {
  if (msgType === 'Cancel' || !e.active) return 'Past';
  return e.level === 'red' || e.level === 'orange' ? 'Immediate' : 'Expected';
}

export function capCertainty(e: Pick<AlarmEventDto, 'condition' | 'ruleId'>): CapCertainty {
  if (e.condition === 'vote' || e.ruleId.startsWith('vote:')) return 'Observed';
  return DOUBTFUL.test(e.condition) ? 'Likely' : 'Observed';
}

function responseTypes(e: AlarmEventDto, msgType: CapBuildInput['msgType']): CapResponseType[] {
  if (msgType === 'Cancel' || !e.active) return ['AllClear'];
  if (e.priority === 'critical') return ['Execute', 'Monitor'];
  if (e.priority === 'high') return ['Prepare', 'Monitor'];
  return ['Monitor'];
}

function instruction(e: AlarmEventDto, msgType: CapBuildInput['msgType'], dueAt: number | undefined): string {
  const due =
    dueAt !== undefined
      ? ` 处置记录须于 ${capTime(dueAt)} 前报送 (disposal record due by ${capTime(dueAt)}).`
      : '';
  if (msgType === 'Cancel' || !e.active)
    return `报警已恢复，请企业核实原因并报送处置记录。Condition returned to normal: the enterprise confirms the cause and files its disposal record.${due}`;
  if (e.priority === 'critical')
    return `企业立即启动应急预案，现场核实并处置，必要时疏散；园区、区应急管理部门跟踪督办。The enterprise activates its emergency plan at once, verifies and acts on site, evacuates if needed; park and district follow up.${due}`;
  if (e.priority === 'high')
    return `企业立即现场核实处置，监管部门跟踪。The enterprise verifies and acts on site at once; regulators follow up.${due}`;
  return `企业核实并在值班记录中登记。The enterprise verifies and records it in the duty log.${due}`;
}

const str = (v: string | number | boolean | null | undefined): string =>
  v === null || v === undefined ? '' : String(v);

export function buildCapAlert(input: CapBuildInput): CapAlert {
  const { event: e, msgType, site, source, device, settings } = input;
  if (msgType !== 'Alert' && input.incident === undefined)
    throw new Error(`CAP ${msgType} for alarm ${e.id} needs the incident's Alert to reference`);
  const identifier = capIdentifier(site.id, e.id, e.seq);
  const sent = capTime(Date.parse(e.at));
  const label = conditionLabel(e.condition);
  const subject = device?.gas ?? source?.nameEn ?? source?.name ?? e.sourceId;
  const where = [site.name, source?.name, device?.name].filter((x): x is string => !!x).join(' / ');
  const parameters: CapValuePair[] = [
    { valueName: 'hazwatch:alarmId', value: e.id },
    { valueName: 'hazwatch:siteId', value: e.siteId },
    { valueName: 'hazwatch:sourceId', value: e.sourceId },
    ...(e.deviceId !== undefined ? [{ valueName: 'hazwatch:deviceId', value: e.deviceId }] : []),
    { valueName: 'hazwatch:condition', value: e.condition },
    { valueName: 'hazwatch:priority', value: e.priority },
    { valueName: 'hazwatch:level', value: e.level },
    { valueName: 'hazwatch:state', value: e.state },
    { valueName: 'hazwatch:event', value: e.event },
    { valueName: 'hazwatch:seq', value: String(e.seq) },
    { valueName: 'hazwatch:value', value: str(e.value) },
    { valueName: 'hazwatch:limit', value: str(e.limit) },
    { valueName: 'hazwatch:raisedAt', value: capTime(Date.parse(e.raisedAt)) },
    ...(e.ackedAt !== undefined
      ? [{ valueName: 'hazwatch:ackedAt', value: capTime(Date.parse(e.ackedAt)) }]
      : []),
    ...(e.ackedBy !== undefined ? [{ valueName: 'hazwatch:ackedBy', value: e.ackedBy }] : []),
    ...(e.clearedAt !== undefined
      ? [{ valueName: 'hazwatch:clearedAt', value: capTime(Date.parse(e.clearedAt)) }]
      : []),
    ...(input.disposalDueAt !== undefined
      ? [{ valueName: 'hazwatch:disposalDueAt', value: capTime(input.disposalDueAt) }]
      : []),
    ...(e.actor !== undefined ? [{ valueName: 'hazwatch:actor', value: e.actor }] : []),
    ...(input.journalAnchor !== undefined
      ? [{ valueName: 'hazwatch:journalAnchor', value: input.journalAnchor }]
      : []),
  ];
  const description = [
    `${e.message}`,
    `${where}. 值 value ${str(e.value) || '—'} / 限值 limit ${str(e.limit) || '—'}; 状态 state ${e.state}; 事件 event ${e.event}.`,
    ...(e.comment !== undefined ? [`${e.comment}`] : []),
  ].join('\n');
  const { lat, lon } = site.location;
  return {
    identifier,
    sender: settings.sender,
    sent,
    status: settings.status,
    msgType,
    source: 'hazwatch',
    scope: 'Restricted',
    restriction: `监管辖区 jurisdiction ${site.jurisdiction}: 仅限该辖区及上级监管部门 regulators of this jurisdiction and above`,
    ...(msgType !== 'Alert' ? { note: `${e.event}${e.comment !== undefined ? `: ${e.comment}` : ''}` } : {}),
    ...(input.incident !== undefined
      ? { references: capReference(settings.sender, input.incident), incidents: input.incident.identifier }
      : { incidents: identifier }),
    infos: [
      {
        language: 'zh-CN',
        categories: [capCategory(e, device)],
        event: `${subject} ${label.en} ${label.zh}`,
        responseTypes: responseTypes(e, msgType),
        urgency: capUrgency(e, msgType),
        severity: SEVERITY[e.level],
        certainty: capCertainty(e),
        eventCodes: [{ valueName: 'hazwatch:condition', value: e.condition }],
        senderName: `hazwatch 重大危险源监测预警 — ${site.name}`,
        headline: `[${priorityZh(e.priority)}] ${site.name}: ${e.message}`.slice(0, 160),
        description,
        instruction: instruction(e, msgType, input.disposalDueAt),
        parameters,
        areas: [
          {
            areaDesc: `${site.name}${site.nameEn ? ` (${site.nameEn})` : ''}${source ? ` ${source.name}` : ''} — ${site.jurisdiction}`,
            circles: [`${lat},${lon} ${settings.areaRadiusKm}`],
            geocodes: [
              { valueName: 'hazwatch:jurisdiction', value: site.jurisdiction },
              { valueName: 'hazwatch:site', value: site.id },
              { valueName: 'WGS84:point', value: `${lat},${lon}` },
            ],
          },
        ],
      },
    ],
  };
}

function priorityZh(p: Priority): string {
  switch (p) {
    case 'critical':
      return 'Ⅰ级 特别严重 critical';
    case 'high':
      return 'Ⅱ级 严重 high';
    case 'medium':
      return 'Ⅲ级 较重 medium';
    case 'low':
      return 'Ⅳ级 一般 low';
  }
}
