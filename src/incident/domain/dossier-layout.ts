/**
 * Lays a dossier out as a printable document model (Chinese headings and labels, local China time): sections of
 * key/value lists, tables and charts. The HTML and the PDF renderers only draw this model, so both exports carry the
 * same content (docs/incident-dossier.md). Pure.
 */
import { ROLE_LABEL_ZH } from '../../notifications/domain/callout.types';
import { chartGeometry, type ChartGeometry } from './chart';
import type { Dossier } from './dossier.types';
import { localClock, localOf } from './local-time';

export type DocTable = {
  readonly columns: ReadonlyArray<{ readonly label: string; /** relative width */ readonly width: number }>;
  readonly rows: ReadonlyArray<readonly string[]>;
  /** Shown instead of an empty table. */
  readonly empty: string;
};
export type DocChart = { readonly title: string; readonly geometry: ChartGeometry };
export type DocSection = {
  readonly title: string;
  readonly note?: string;
  readonly fields?: ReadonlyArray<readonly [string, string]>;
  readonly tables: readonly DocTable[];
  readonly charts: readonly DocChart[];
};
export type DossierDoc = {
  readonly title: string;
  readonly subtitle: string;
  readonly sections: readonly DocSection[];
  readonly footer: string;
};

export const EVENT_ZH: Readonly<Record<string, string>> = {
  raised: '报警产生',
  updated: '报警更新',
  cleared: '报警恢复',
  acknowledged: '报警确认',
  reset: '复位',
  shelved: '搁置',
  unshelved: '解除搁置',
  shelve_expired: '搁置到期',
  suppressed: '抑制',
  unsuppressed: '解除抑制',
  out_of_service: '停用',
  returned_to_service: '恢复投用',
  realarm: '再次报警',
  note: '备注',
};
/** Plant alarm priorities in 报警 wording (never the government 预警 grades). */
export const PRIORITY_ZH: Readonly<Record<string, string>> = {
  critical: '紧急',
  high: '高',
  medium: '中',
  low: '低',
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
const CALLOUT_STATUS_ZH: Readonly<Record<string, string>> = {
  active: '呼叫中',
  acked: '已按键确认',
  stopped: '已停止',
  exhausted: '呼叫用尽无人确认',
};
const STOP_REASON_ZH: Readonly<Record<string, string>> = {
  key_ack: '电话按键确认',
  console_ack: '控制台确认',
  cleared: '报警恢复',
  hidden: '报警被搁置/抑制/停用',
  exhausted: '呼叫用尽',
};
const OUTCOME_ZH: Readonly<Record<string, string>> = {
  ACKED: '按键确认',
  ANSWERED_NO_ACK: '接听未确认',
  WRONG_KEY: '按错键',
  NO_ANSWER: '无人接听',
  BUSY: '占线',
  REJECTED: '拒接',
  UNREACHABLE: '无法接通',
  FAILED: '呼叫失败',
  CANCELED: '已取消',
};
const DUTY_RESULT_ZH: Readonly<Record<string, string>> = {
  on_duty: '在岗',
  no_answer: '无人接听',
  wrong_key: '按键错误',
  failed: '呼叫失败',
};
const FINDING_STATUS_ZH: Readonly<Record<string, string>> = {
  open: '待整改',
  rectifying: '整改中',
  verified: '已验收待销号',
  closed: '已销号',
};
const FINDING_EVENT_ZH: Readonly<Record<string, string>> = {
  plan: '登记五落实',
  escalated: '逾期升级',
  notified: '通知主要负责人',
};
const FINDING_KIND_ZH: Readonly<Record<string, string>> = {
  hidden_danger: '报警处置隐患项',
  finding: '隐患排查治理',
};
const GRADE_ZH: Readonly<Record<string, string>> = { major: '重大事故隐患', general: '一般事故隐患' };
const ORIGIN_ZH: Readonly<Record<string, string>> = {
  alarm: '报警引出',
  inspection: '监管检查',
  self_check: '企业自查',
  public_report: '群众举报',
};
const OBLIGATION_ZH: Readonly<Record<string, string>> = {
  awaiting: '待报送处置记录',
  filed: '已报送待审核',
  accepted: '审核通过（闭环）',
};
const DISPOSITION_STATUS_ZH: Readonly<Record<string, string>> = {
  filed: '待审核',
  accepted: '审核通过',
  returned: '退回补充',
};
const ROLE_ZH: Readonly<Record<string, string>> = { ...ROLE_LABEL_ZH, duty_desk: '区值班室' };
const TRIGGER_ZH: Readonly<Record<string, string>> = {
  schedule: '定时抽查',
  manual: '人工抽查',
  video: '视频离岗触发',
};

/** A finding's 五落实 plan event (stored as the JSON of the fields given) in words; anything else as it is. */
function planText(comment: string, t: (iso: string) => string): string {
  let p: unknown;
  try {
    p = JSON.parse(comment);
  } catch {
    return comment;
  }
  if (typeof p !== 'object' || p === null) return comment;
  const v = p as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof v.measures === 'string') parts.push(`措施 ${v.measures}`);
  if (typeof v.fundsCny === 'number') parts.push(`资金 ${v.fundsCny} 元`);
  if (typeof v.due === 'number') parts.push(`时限 ${t(new Date(v.due).toISOString())}`);
  if (typeof v.responsible === 'string') parts.push(`责任人 ${v.responsible}`);
  if (typeof v.contingency === 'string') parts.push(`预案 ${v.contingency}`);
  return parts.length > 0 ? parts.join('；') : comment;
}

const zh = (table: Readonly<Record<string, string>>, key: string | undefined): string =>
  key === undefined ? '—' : (table[key] ?? key);

export function layoutDossier(
  d: Dossier,
  conditionZh: (condition: string) => string,
  timeZone = 'Asia/Shanghai',
): DossierDoc {
  const t = (iso: string | undefined): string => localOf(iso, timeZone);
  const alarms = new Map<string, (typeof d.journal)[number]>();
  for (const e of d.journal) if (!alarms.has(e.alarmId)) alarms.set(e.alarmId, e);
  const last = d.journal[d.journal.length - 1];
  const attempts = d.callouts.reduce((n, c) => n + c.attempts.length, 0);
  const disposals = d.disposals;
  const records = disposals.reduce((n, x) => n + x.records.length, 0);

  const basics: DocSection = {
    title: '一、基本情况',
    fields: [
      ['企业名称', `${d.site.name}${d.site.nameEn ? `（${d.site.nameEn}）` : ''}`],
      ['企业标识', d.site.id],
      [
        '监管辖区',
        d.site.jurisdictionName
          ? `${d.site.jurisdictionName}${d.site.adminCode ? `（行政区划代码 ${d.site.adminCode}）` : ''}`
          : d.site.jurisdiction,
      ],
      ['位置（WGS 84）', `${d.site.location.lat}, ${d.site.location.lon}`],
      ['重大危险源', d.site.hazardSources.map((h) => `${h.name}（${h.filedGrade}）`).join('；') || '—'],
      ['报告时段', `${t(d.from)} 至 ${t(d.to)}（北京时间）`],
      ['事件起始', t(d.incidentStart)],
      [
        '概要',
        `报警 ${alarms.size} 个，报警日志 ${d.journal.length} 条${d.journalTruncated ? '（已截断，请缩小时段）' : ''}；报警呼叫 ${d.callouts.length} 次（拨打 ${attempts} 通）；值班抽查 ${d.dutyChecks.length} 次；处置记录 ${records} 份；隐患 ${d.findings.length} 项`,
      ],
      ['日志链末条哈希', last ? `#${last.seq} ${last.hash}` : '—'],
      ['生成时间', `${t(d.generatedAt)}（${d.generatedBy}）`],
    ],
    tables: [],
    charts: [],
  };

  const journal: DocSection = {
    title: '二、报警记录（报警日志，只增不改，哈希链）',
    tables: [
      {
        columns: [
          { label: '序号', width: 6 },
          { label: '时间', width: 15 },
          { label: '事件', width: 9 },
          { label: '级别', width: 5 },
          { label: '设备 / 报警', width: 22 },
          { label: '数值 / 限值', width: 11 },
          { label: '状态', width: 13 },
          { label: '操作人 / 说明', width: 19 },
        ],
        rows: d.journal.map((e) => [
          String(e.seq),
          t(e.at),
          zh(EVENT_ZH, e.event),
          zh(PRIORITY_ZH, e.priority),
          `${e.deviceId ?? e.sourceId} ${conditionZh(e.condition)}\n${e.message}`,
          `${e.value || '—'} / ${e.limit || '—'}`,
          `${zh(STATE_ZH, e.fromState)} → ${zh(STATE_ZH, e.toState)}`,
          `${e.actor}${e.comment ? `\n${e.comment}` : ''}`,
        ]),
        empty: '该时段无报警记录。',
      },
    ],
    charts: [],
  };

  const callouts: DocSection = {
    title: '三、报警电话呼叫（逐次拨打与按键）',
    tables: [
      {
        columns: [
          { label: '呼叫', width: 24 },
          { label: '拨打时间', width: 15 },
          { label: '对象', width: 19 },
          { label: '号码', width: 16 },
          { label: '结果', width: 12 },
          { label: '按键', width: 6 },
          { label: '接听 / 挂断', width: 14 },
        ],
        rows: d.callouts.flatMap((c) => {
          const head = `${zh(PRIORITY_ZH, c.priority)}级报警 ${c.alarmId}\n${zh(CALLOUT_STATUS_ZH, c.status)}${c.stopReason ? `（${zh(STOP_REASON_ZH, c.stopReason)}）` : ''}${c.ackedBy ? `\n确认人 ${c.ackedBy}` : ''}`;
          if (c.attempts.length === 0) return [[head, t(c.startedAt), '—', '—', '未拨打', '—', '—']];
          return [...c.attempts]
            .sort((a, b) => Date.parse(a.placedAt) - Date.parse(b.placedAt))
            .map((a, i) => [
              i === 0 ? head : '〃',
              t(a.placedAt),
              `${zh(ROLE_ZH, a.calleeRole)} ${a.calleeName}${a.loop !== undefined ? `\n第${a.loop}轮第${a.step ?? '?'}步` : ''}`,
              a.number,
              `${zh(OUTCOME_ZH, a.outcome) === '—' ? '进行中' : zh(OUTCOME_ZH, a.outcome)}${a.sipCode !== undefined ? ` (SIP ${a.sipCode})` : ''}`,
              a.digits || '—',
              `${a.answeredAt ? t(a.answeredAt).slice(11) : '—'} / ${a.endedAt ? t(a.endedAt).slice(11) : '—'}`,
            ]);
        }),
        empty: '该时段无报警电话呼叫。',
      },
    ],
    charts: [],
  };

  const duty: DocSection = {
    title: '四、值班值守抽查',
    tables: [
      {
        columns: [
          { label: '抽查时间', width: 17 },
          { label: '方式', width: 10 },
          { label: '结果', width: 12 },
          { label: '拨打记录（对象 号码 结果 按键）', width: 49 },
          { label: '报警', width: 12 },
        ],
        rows: d.dutyChecks.map((c) => [
          t(c.scheduledAt),
          zh(TRIGGER_ZH, c.trigger),
          c.status === 'running' ? '进行中' : zh(DUTY_RESULT_ZH, c.result),
          c.attempts
            .map(
              (a) =>
                `${t(a.placedAt).slice(11)} ${zh(ROLE_ZH, a.calleeRole)} ${a.calleeName} ${a.number} ${zh(OUTCOME_ZH, a.outcome)} ${a.digits || '—'}`,
            )
            .join('\n') || '—',
          c.alarmRaised ? '已触发报警' : '—',
        ]),
        empty: '该时段无值班抽查。',
      },
    ],
    charts: [],
  };

  const disposal: DocSection = {
    title: '五、报警处置记录',
    tables: [
      {
        columns: [
          { label: '报警 / 报送义务', width: 24 },
          { label: '报送', width: 16 },
          { label: '原因 / 处置措施 / 处置人', width: 38 },
          { label: '审核', width: 22 },
        ],
        rows: disposals.flatMap((x) => {
          const a = alarms.get(x.alarmId);
          const o = x.obligation;
          const head = [
            `报警 ${x.alarmId}`,
            ...(a ? [`${a.deviceId ?? a.sourceId} ${conditionZh(a.condition)}`] : []),
            ...(o
              ? [
                  zh(OBLIGATION_ZH, o.status),
                  `报送期限 ${t(o.dueAt)}`,
                  ...(o.overdueAt ? [`逾期未报，${t(o.overdueAt)} 已升级至区县`] : []),
                  ...(o.returned > 0 ? [`退回 ${o.returned} 次`] : []),
                ]
              : []),
          ].join('\n');
          if (x.records.length === 0) return [[head, '—', '未报送处置记录', '—']];
          return x.records.map((r, i) => [
            i === 0 ? head : '〃',
            `${t(r.filedAt)}\n${r.filedBy}\n${r.id}`,
            `原因：${r.cause}\n措施：${r.actions}\n处置人：${r.closedBy}${r.attachments.length ? `\n附件：${r.attachments.join('、')}` : ''}`,
            `${zh(DISPOSITION_STATUS_ZH, r.status)}${r.reviewedBy ? `\n${r.reviewedBy}` : ''}${r.reviewedAt ? ` ${t(r.reviewedAt)}` : ''}${r.reviewComment ? `\n${r.reviewComment}` : ''}`,
          ]);
        }),
        empty: '该时段无处置记录。',
      },
    ],
    charts: [],
  };

  const findings: DocSection = {
    title: '六、隐患',
    tables: [
      {
        columns: [
          { label: '编号', width: 21 },
          { label: '隐患', width: 29 },
          { label: '状态', width: 10 },
          { label: '记录', width: 40 },
        ],
        rows: d.findings.map((f) => [
          `${f.id}${f.kind ? `\n${zh(FINDING_KIND_ZH, f.kind)}` : ''}`,
          [
            f.title,
            ...(f.grade
              ? [`${zh(GRADE_ZH, f.grade)}${f.origin ? `（${zh(ORIGIN_ZH, f.origin)}）` : ''}`]
              : []),
            ...(f.deadline ? [`整改期限 ${t(f.deadline)}`] : []),
            ...(f.alarmId ? [`来自报警 ${f.alarmId}`] : []),
            ...(f.hiddenDangerId ? [`由 ${f.hiddenDangerId} 转入`] : []),
            ...(f.findingId ? [`已转为 ${f.findingId}`] : []),
          ].join('\n'),
          zh(FINDING_STATUS_ZH, f.status),
          f.history
            .map(
              (h) =>
                `${t(h.at)} ${h.to !== undefined ? zh(FINDING_STATUS_ZH, h.to) : zh(FINDING_EVENT_ZH, h.event)} ${h.actor}${h.comment ? `：${h.event === 'plan' ? planText(h.comment, t) : h.comment}` : ''}`,
            )
            .join('\n') || '—',
        ]),
        empty: '该时段无相关隐患。',
      },
    ],
    charts: [],
  };

  const onDuty: DocSection = {
    title: '七、事件起始时的包保责任人与值班',
    note: `按呼叫排班读取 ${t(d.incidentStart)} 的在班人员。`,
    tables: [
      {
        columns: [
          { label: '职责', width: 20 },
          { label: '危险源', width: 20 },
          { label: '姓名', width: 20 },
          { label: '电话', width: 25 },
          { label: '排班', width: 15 },
        ],
        rows: d.onDuty.map((p) => [
          zh(ROLE_ZH, p.role),
          p.sourceId ?? '全厂',
          p.name,
          p.number,
          p.rosterGap ? '排班空缺（取首位）' : '在班',
        ]),
        empty: '未配置呼叫排班（callouts.yaml）。',
      },
    ],
    charts: [],
  };

  const charts: DocSection = {
    title: '八、相关设备监测曲线',
    note: '蓝线为时段均值，浅蓝带为最小—最大值，红虚线为报警设定值，橙线为报警事件。',
    tables: [],
    charts: d.telemetry.map((s) => ({
      title: `${s.deviceName}（${s.deviceId}）· ${s.channel}${s.unit ? ` [${s.unit}]` : ''} · ${localClock(Date.parse(s.from), timeZone).slice(5, 16)} — ${localClock(Date.parse(s.to), timeZone).slice(5, 16)}`,
      geometry: chartGeometry(s, timeZone),
    })),
  };

  return {
    title: '重大危险源报警事件报告材料',
    subtitle: `${d.site.name} · ${t(d.from)} 至 ${t(d.to)}`,
    sections: [basics, journal, callouts, duty, disposal, findings, onDuty, charts],
    footer: `hazwatch 生成于 ${t(d.generatedAt)}，数据来自报警日志、呼叫记录、值班抽查、处置记录、隐患记录与监测数据库；报警日志可经 /api/journal/verify 校验。`,
  };
}
