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
import {
  assessCondition,
  consequenceRadiusKm,
  PRIORITY_ALARM_ZH,
  type HazardContext,
} from './condition-class';
import { creditCodeProblem } from '../../common/domain/credit-code';

export type CapSite = {
  readonly id: string;
  readonly name: string;
  readonly nameEn?: string;
  readonly jurisdiction: string;
  readonly location: { readonly lat: number; readonly lon: number };
  /** 统一社会信用代码 (GB 32100-2015), plant.yaml `creditCode`. */
  readonly creditCode?: string;
  /** Official name of the jurisdiction path (天津市滨海新区临港经济区) and its GB/T 2260 district code. */
  readonly jurisdictionName?: string;
  readonly adminCode?: string;
};
export type CapSource = {
  readonly id: string;
  readonly name: string;
  readonly nameEn?: string;
  /** Substances held (names as in src/config/substances.ts): the consequence zone of the `<area>`. */
  readonly substances?: readonly string[];
  /** 重大危险源备案编号, plant.yaml `filingCode`. */
  readonly filingCode?: string;
  /** Filed consequence radii, km (plant.yaml `consequenceRadiiKm`): replace the per-substance defaults. */
  readonly consequenceRadiiKm?: Partial<Record<'toxic' | 'fire' | 'explosion', number>>;
};
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
  /** Radius of the area circle when the hazard source has no consequence zone (site-level alarms), km. */
  readonly areaRadiusKm: number;
  /** Add an `en-US` info block after the Chinese one (default true). */
  readonly englishInfo?: boolean;
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

/** Colour level → severity: kept for readers of the old mapping; messages take severity from the condition class. */
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

export const capIdentifier = (siteId: string, alarmId: string, seq: number): string =>
  `hazwatch-${siteId}-${alarmId}-${seq}`;

/** `sender,identifier,sent` (CAP 1.2 references). */
export const capReference = (sender: string, ref: IncidentRef): string =>
  `${sender},${ref.identifier},${ref.sent}`;

export function conditionLabel(condition: string): { zh: string; en: string } {
  return CONDITION_LABEL[condition] ?? { zh: condition, en: condition.replace(/_/g, ' ') };
}

const contextOf = (device?: CapDevice, source?: CapSource): HazardContext => ({
  ...(device?.gasClass === 'toxic' || device?.gasClass === 'combustible'
    ? { gasClass: device.gasClass }
    : {}),
  ...(device?.gas !== undefined ? { gas: device.gas } : {}),
  ...(source?.substances !== undefined ? { substances: source.substances } : {}),
});

/** Categories by what happened (docs/cap-profile.md): a toxic release Safety+Env, a flammable leak Safety, a fire Fire. */
export function capCategories(
  e: Pick<AlarmEventDto, 'condition' | 'priority'>,
  device?: CapDevice,
  source?: CapSource,
): readonly CapCategory[] {
  return assessCondition(e.condition, e.priority, contextOf(device, source)).categories;
}

export function capUrgency(
  e: Pick<AlarmEventDto, 'active' | 'level'>,
  msgType: CapBuildInput['msgType'],
): CapUrgency {
  if (msgType === 'Cancel' || !e.active) return 'Past';
  return e.level === 'red' || e.level === 'orange' ? 'Immediate' : 'Expected';
}

export function capCertainty(e: Pick<AlarmEventDto, 'condition' | 'priority'>): CapCertainty {
  return assessCondition(e.condition, e.priority).certainty;
}

export function capSeverity(e: Pick<AlarmEventDto, 'condition' | 'priority'>): CapSeverity {
  return assessCondition(e.condition, e.priority).severity;
}

function responseTypes(e: AlarmEventDto, msgType: CapBuildInput['msgType']): CapResponseType[] {
  if (msgType === 'Cancel' || !e.active) return ['AllClear'];
  if (e.priority === 'critical') return ['Execute', 'Monitor'];
  if (e.priority === 'high') return ['Prepare', 'Monitor'];
  return ['Monitor'];
}

type Lang = 'zh' | 'en';

function instruction(
  e: AlarmEventDto,
  msgType: CapBuildInput['msgType'],
  dueAt: number | undefined,
  lang: Lang,
): string {
  const dueText =
    dueAt === undefined
      ? ''
      : lang === 'zh'
        ? `处置记录须于 ${capTime(dueAt)} 前报送。`
        : ` Disposal record due by ${capTime(dueAt)}.`;
  if (msgType === 'Cancel' || !e.active)
    return lang === 'zh'
      ? `报警已恢复，请企业核实原因并报送处置记录。${dueText}`
      : `Condition returned to normal: the enterprise confirms the cause and files its disposal record.${dueText}`;
  if (e.priority === 'critical')
    return lang === 'zh'
      ? `企业立即启动应急预案，现场核实并处置，必要时疏散；园区、区应急管理部门跟踪督办。${dueText}`
      : `The enterprise activates its emergency plan at once, verifies and acts on site, evacuates if needed; park and district follow up.${dueText}`;
  if (e.priority === 'high')
    return lang === 'zh'
      ? `企业立即现场核实处置，监管部门跟踪。${dueText}`
      : `The enterprise verifies and acts on site at once; regulators follow up.${dueText}`;
  return lang === 'zh'
    ? `企业核实并在值班记录中登记。${dueText}`
    : `The enterprise verifies and records it in the duty log.${dueText}`;
}

const str = (v: string | number | boolean | null | undefined): string =>
  v === null || v === undefined ? '' : String(v);

const EVENT_ZH: Readonly<Record<string, string>> = {
  raised: '报警产生',
  updated: '报警更新',
  cleared: '报警恢复',
  acknowledged: '报警已确认',
  reset: '报警复位',
  shelved: '报警搁置',
  unshelved: '解除搁置',
  shelve_expired: '搁置到期',
  suppressed: '报警抑制',
  unsuppressed: '解除抑制',
  out_of_service: '停用',
  returned_to_service: '恢复投用',
  realarm: '再次报警',
  note: '处置记录',
};
const STATE_ZH: Readonly<Record<string, string>> = {
  normal: '正常',
  unacknowledged: '未确认',
  acknowledged: '已确认',
  rtn_unacknowledged: '已恢复未确认',
  latched: '锁存',
  shelved: '搁置',
  suppressed: '抑制',
  out_of_service: '停用',
};
const PRIORITY_EN: Readonly<Record<Priority, string>> = {
  critical: 'critical alarm',
  high: 'high-priority alarm',
  medium: 'medium-priority alarm',
  low: 'low-priority alarm',
};

/** Identification parameters of the enterprise and the hazard source (only valid codes are sent). */
function registerParameters(site: CapSite, source: CapSource | undefined): CapValuePair[] {
  const out: CapValuePair[] = [];
  if (site.creditCode !== undefined && creditCodeProblem(site.creditCode) === undefined)
    out.push({ valueName: 'unifiedSocialCreditCode', value: site.creditCode });
  if (source?.filingCode !== undefined)
    out.push({ valueName: 'hazardSourceFilingCode', value: source.filingCode });
  return out;
}

export function buildCapAlert(input: CapBuildInput): CapAlert {
  const { event: e, msgType, site, source, device, settings } = input;
  if (msgType !== 'Alert' && input.incident === undefined)
    throw new Error(`CAP ${msgType} for alarm ${e.id} needs the incident's Alert to reference`);
  const identifier = capIdentifier(site.id, e.id, e.seq);
  const sent = capTime(Date.parse(e.at));
  const label = conditionLabel(e.condition);
  const assessed = assessCondition(e.condition, e.priority, contextOf(device, source));
  const parameters: CapValuePair[] = [
    ...registerParameters(site, source),
    { valueName: 'hazwatch:alarmId', value: e.id },
    { valueName: 'hazwatch:siteId', value: e.siteId },
    { valueName: 'hazwatch:sourceId', value: e.sourceId },
    ...(e.deviceId !== undefined ? [{ valueName: 'hazwatch:deviceId', value: e.deviceId }] : []),
    { valueName: 'hazwatch:condition', value: e.condition },
    { valueName: 'hazwatch:conditionClass', value: assessed.cls },
    // the rule's own text (may mix languages): carried as data, not in the Chinese-only prose
    { valueName: 'hazwatch:message', value: e.message },
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
  const { lat, lon } = site.location;
  const zoneKm =
    source?.substances !== undefined || source?.consequenceRadiiKm !== undefined
      ? consequenceRadiusKm(source.substances ?? [], assessed.scenario, source.consequenceRadiiKm)
      : undefined;
  const radiusKm = zoneKm ?? settings.areaRadiusKm;
  const geocodes: CapValuePair[] = [
    ...(site.adminCode !== undefined ? [{ valueName: 'GB/T 2260', value: site.adminCode }] : []),
    { valueName: 'hazwatch:jurisdiction', value: site.jurisdiction },
    { valueName: 'hazwatch:site', value: site.id },
    { valueName: 'WGS84:point', value: `${lat},${lon}` },
  ];
  const circle = `${lat},${lon} ${radiusKm}`;
  const scenarioZh = { toxic: '有毒气体扩散', fire: '火灾热辐射', explosion: '爆炸超压' } as const;
  const scenarioEn = {
    toxic: 'toxic dispersion',
    fire: 'fire radiation',
    explosion: 'explosion overpressure',
  } as const;

  const whereZh = [site.name, source?.name, device?.name].filter((x): x is string => !!x).join(' / ');
  const eventZh = `${whereZh ? `${source?.name ?? site.name} ` : ''}${label.zh}`;
  const zhInfo = {
    language: 'zh-CN',
    categories: assessed.categories,
    event: eventZh,
    responseTypes: responseTypes(e, msgType),
    urgency: capUrgency(e, msgType),
    severity: assessed.severity,
    certainty: assessed.certainty,
    eventCodes: [{ valueName: 'hazwatch:condition', value: e.condition }],
    senderName: `重大危险源监测报警系统 — ${site.name}`,
    headline:
      `【${PRIORITY_ALARM_ZH[e.priority]}】${site.name} ${device?.name ?? source?.name ?? ''} ${label.zh}（${EVENT_ZH[e.event] ?? e.event}）`
        .replace(/\s+/g, ' ')
        .slice(0, 160),
    description: [
      `${whereZh}：${label.zh}。`,
      `测量值 ${str(e.value) || '—'}，限值 ${str(e.limit) || '—'}；报警状态 ${STATE_ZH[e.state] ?? e.state}；事件 ${EVENT_ZH[e.event] ?? e.event}。`,
    ].join('\n'),
    instruction: instruction(e, msgType, input.disposalDueAt, 'zh'),
    parameters,
    areas: [
      {
        areaDesc:
          zoneKm !== undefined && source
            ? `${site.name} ${source.name} ${assessed.scenario ? scenarioZh[assessed.scenario] : '最大'}影响范围（半径 ${radiusKm} 公里）`
            : `${site.name}（半径 ${radiusKm} 公里）`,
        circles: [circle],
        geocodes,
      },
    ],
  };
  const englishInfo = settings.englishInfo !== false;
  const whereEn = [site.nameEn ?? site.id, source?.nameEn ?? source?.id, device?.id]
    .filter((x): x is string => !!x)
    .join(' / ');
  const enInfo = {
    ...zhInfo,
    language: 'en-US',
    event: `${device?.gas ?? source?.nameEn ?? e.sourceId} ${label.en}`,
    senderName: `hazwatch major-hazard monitoring — ${site.nameEn ?? site.id}`,
    headline: `[${PRIORITY_EN[e.priority]}] ${site.nameEn ?? site.id}: ${label.en} (${e.event})`.slice(
      0,
      160,
    ),
    description: [
      `${whereEn}: ${label.en}.`,
      `Value ${str(e.value) || '—'}, limit ${str(e.limit) || '—'}; state ${e.state}; event ${e.event}.`,
      ...(e.comment !== undefined ? [e.comment] : []),
    ].join('\n'),
    instruction: instruction(e, msgType, input.disposalDueAt, 'en'),
    areas: [
      {
        areaDesc:
          zoneKm !== undefined && source
            ? `${site.nameEn ?? site.id} ${source.nameEn ?? source.id}: ${assessed.scenario ? scenarioEn[assessed.scenario] : 'worst-case'} consequence zone (radius ${radiusKm} km)`
            : `${site.nameEn ?? site.id} (radius ${radiusKm} km)`,
        circles: [circle],
        geocodes,
      },
    ],
  };
  return {
    identifier,
    sender: settings.sender,
    sent,
    status: settings.status,
    msgType,
    source: 'hazwatch',
    scope: 'Restricted',
    restriction: `仅限${site.jurisdictionName ?? `监管辖区 ${site.jurisdiction} `}及上级监管部门`,
    ...(msgType !== 'Alert' ? { note: `${e.event}${e.comment !== undefined ? `: ${e.comment}` : ''}` } : {}),
    ...(input.incident !== undefined
      ? { references: capReference(settings.sender, input.incident), incidents: input.incident.identifier }
      : { incidents: identifier }),
    infos: englishInfo ? [zhInfo, enInfo] : [zhInfo],
  };
}
