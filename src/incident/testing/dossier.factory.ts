/** A small but complete dossier (bohai-chem chlorine leak, 2026-11-24 18:00 China time) for renderer tests. Test-only. */
import type { Dossier, DossierSeries } from '../domain/dossier.types';

export const DOSSIER_T0 = Date.parse('2026-11-24T10:00:00Z');
const at = (min: number): string => new Date(DOSSIER_T0 + min * 60_000).toISOString();

export function makeSeries(over: Partial<DossierSeries> = {}): DossierSeries {
  const points = Array.from({ length: 40 }, (_, i) => {
    const v = i < 20 ? 0.2 : i < 30 ? 0.2 + (i - 19) * 0.35 : 3.7 - (i - 29) * 0.3;
    return { t: at(-10 + i * 2), min: Math.max(0, v - 0.1), avg: v, max: v + 0.1 };
  });
  return {
    deviceId: 'cl-gd-1',
    deviceName: '液氯储罐区氯气探测器1',
    channel: 'conc',
    unit: 'mg/m3',
    from: at(-10),
    to: at(70),
    bucketSeconds: 120,
    points,
    limits: [
      { label: '一级报警', value: 1 },
      { label: '二级报警', value: 2 },
    ],
    marks: [{ at: at(22), label: '报警产生' }],
    ...over,
  };
}

export function makeDossier(over: Partial<Dossier> = {}): Dossier {
  return {
    site: {
      id: 'bohai-chem',
      name: '渤海化工有限公司',
      nameEn: 'Bohai Chemical',
      jurisdiction: 'tianjin/binhai/nangang',
      location: { lat: 38.762, lon: 117.512 },
      hazardSources: [{ id: 'bhc-cl2', name: '液氯储罐区', filedGrade: '一级' }],
    },
    from: at(0),
    to: at(60),
    generatedAt: at(65),
    generatedBy: 'Binhai ESB (regulator)',
    incidentStart: at(22),
    journal: [
      {
        seq: 41,
        at: at(22),
        alarmId: 'al-0123',
        event: 'raised',
        fromState: 'normal',
        toState: 'unacknowledged',
        actor: 'system',
        actorRole: 'system',
        sourceId: 'bhc-cl2',
        deviceId: 'cl-gd-1',
        condition: 'gas_l2',
        priority: 'critical',
        message: '氯气浓度超过二级报警值 <script>',
        value: '2.4',
        limit: '2',
        hash: 'a'.repeat(64),
      },
      {
        seq: 42,
        at: at(25),
        alarmId: 'al-0123',
        event: 'acknowledged',
        fromState: 'unacknowledged',
        toState: 'acknowledged',
        actor: '王强',
        actorRole: 'operator',
        comment: '现场确认泄漏，已关闭进料阀',
        sourceId: 'bhc-cl2',
        deviceId: 'cl-gd-1',
        condition: 'gas_l2',
        priority: 'critical',
        message: '氯气浓度超过二级报警值',
        value: '3.1',
        limit: '2',
        hash: 'b'.repeat(64),
      },
    ],
    journalTruncated: false,
    callouts: [
      {
        id: 'co-1',
        alarmId: 'al-0123',
        siteId: 'bohai-chem',
        sourceId: 'bhc-cl2',
        ruleId: 'gas:cl-gd-1',
        priority: 'critical',
        status: 'acked',
        stopReason: 'key_ack',
        startedAt: at(22),
        endedAt: at(24),
        ackedBy: '渤海化工中控室',
        loop: 1,
        step: 1,
        skipped: [],
        attempts: [
          {
            id: 'at-1',
            calleeRole: 'control_room',
            calleeName: '渤海化工中控室',
            number: 'sip:8001@pbx',
            loop: 1,
            step: 1,
            attemptNo: 1,
            placedAt: at(22),
            answeredAt: at(22.2),
            endedAt: at(22.5),
            provider: 'fake',
            digits: '1',
            outcome: 'ACKED',
            events: [],
          },
        ],
      },
    ],
    dutyChecks: [
      {
        id: 'dc-1',
        siteId: 'bohai-chem',
        trigger: 'schedule',
        scheduledAt: at(5),
        status: 'done',
        result: 'on_duty',
        completedAt: at(6),
        alarmRaised: false,
        attempts: [],
      },
    ],
    disposals: [
      {
        alarmId: 'al-0123',
        obligation: {
          status: 'filed',
          raisedAt: at(22),
          dueAt: at(52),
          overdueAt: at(52),
          returned: 0,
        },
        records: [
          {
            id: 'dsp-1',
            filedAt: at(55),
            filedBy: '李明',
            cause: '法兰垫片老化泄漏',
            actions: '关闭进料阀，更换垫片，现场检测合格',
            closedBy: '王强',
            attachments: ['现场照片1.jpg'],
            status: 'filed',
          },
        ],
      },
    ],
    findings: [
      {
        id: 'hd-1',
        kind: 'hidden_danger',
        alarmId: 'al-0123',
        title: '液氯储罐区法兰泄漏',
        status: 'rectifying',
        findingId: 'fd-1',
        createdAt: at(40),
        updatedAt: at(45),
        history: [
          { at: at(40), to: 'open', actor: '李明', comment: '法兰垫片老化' },
          { at: at(45), from: 'open', to: 'open', actor: '滨海新区应急管理局', comment: '转为隐患 fd-1' },
        ],
      },
      {
        id: 'fd-1',
        kind: 'finding',
        alarmId: 'al-0123',
        title: '液氯储罐区法兰泄漏',
        status: 'open',
        grade: 'major',
        origin: 'alarm',
        deadline: at(60 * 24 * 7),
        hiddenDangerId: 'hd-1',
        createdAt: at(45),
        updatedAt: at(50),
        history: [
          { at: at(45), to: 'open', actor: '滨海新区应急管理局', comment: '由隐患 hd-1（待整改）转入' },
          {
            at: at(50),
            event: 'plan',
            actor: '李明',
            comment: JSON.stringify({ measures: '更换全部法兰垫片', fundsCny: 8000, responsible: '李明' }),
          },
        ],
      },
    ],
    onDuty: [
      { role: 'control_room', name: '渤海化工中控室', number: 'sip:8001@pbx', rosterGap: false },
      { role: 'main', name: '张建国', number: '+8613800001001', rosterGap: false },
    ],
    telemetry: [makeSeries()],
    ...over,
  };
}
