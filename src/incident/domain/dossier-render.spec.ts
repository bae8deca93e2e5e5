import { DOSSIER_T0, makeDossier } from '../testing/dossier.factory';
import { renderDossierHtml } from './dossier-html';
import { layoutDossier } from './dossier-layout';

const zhOf = (c: string): string => (c === 'gas_l2' ? '二级报警' : c);

describe('layoutDossier', () => {
  const doc = layoutDossier(makeDossier(), zhOf);

  it('should have the eight sections in reporting order', () => {
    expect(doc.sections.map((s) => s.title)).toEqual([
      '一、基本情况',
      '二、报警记录（报警日志，只增不改，哈希链）',
      '三、报警电话呼叫（逐次拨打与按键）',
      '四、值班值守抽查',
      '五、报警处置记录',
      '六、隐患',
      '七、事件起始时的包保责任人与值班',
      '八、相关设备监测曲线',
    ]);
  });

  it('should show each disposal record with its obligation, overdue escalation and review state', () => {
    expect(doc.sections[4]!.tables[0]!.rows).toEqual([
      [
        '报警 al-0123\ncl-gd-1 二级报警\n已报送待审核\n报送期限 2026-11-24 18:52:00\n逾期未报，2026-11-24 18:52:00 已升级至区县',
        '2026-11-24 18:55:00\n李明\ndsp-1',
        '原因：法兰垫片老化泄漏\n措施：关闭进料阀，更换垫片，现场检测合格\n处置人：王强\n附件：现场照片1.jpg',
        '待审核',
      ],
    ]);
    const none = layoutDossier(
      makeDossier({ disposals: [{ alarmId: 'al-9', records: [] }], journal: [] }),
      zhOf,
    );
    expect(none.sections[4]!.tables[0]!.rows).toEqual([['报警 al-9', '—', '未报送处置记录', '—']]);
    expect(new Map(doc.sections[0]!.fields).get('概要')).toContain('处置记录 1 份');
  });

  it('should show findings with grade, deadline and conversion, and a converted item pointing at its finding', () => {
    const rows = doc.sections[5]!.tables[0]!.rows;
    expect(rows[0]![0]).toBe('hd-1\n报警处置隐患项');
    expect(rows[0]![1]).toContain('已转为 fd-1');
    expect(rows[1]![0]).toBe('fd-1\n隐患排查治理');
    expect(rows[1]![1]).toBe(
      '液氯储罐区法兰泄漏\n重大事故隐患（报警引出）\n整改期限 2026-12-01 18:00:00\n来自报警 al-0123\n由 hd-1 转入',
    );
    expect(rows[1]![3]).toBe(
      '2026-11-24 18:45:00 待整改 滨海新区应急管理局：由隐患 hd-1（待整改）转入\n2026-11-24 18:50:00 登记五落实 李明：措施 更换全部法兰垫片；资金 8000 元；责任人 李明',
    );
  });

  it('should name a duty check started by video analytics', () => {
    const d = makeDossier({
      dutyChecks: [
        {
          id: 'dc-v',
          siteId: 'bohai-chem',
          trigger: 'video',
          scheduledAt: new Date(DOSSIER_T0).toISOString(),
          status: 'done',
          result: 'on_duty',
          alarmRaised: false,
          attempts: [],
        },
      ],
    });
    expect(layoutDossier(d, zhOf).sections[3]!.tables[0]!.rows[0]![1]).toBe('视频离岗触发');
  });

  it('should show times in China time and summarise the counts', () => {
    const fields = new Map(doc.sections[0]!.fields);
    expect(fields.get('报告时段')).toBe('2026-11-24 18:00:00 至 2026-11-24 19:00:00（北京时间）');
    expect(fields.get('事件起始')).toBe('2026-11-24 18:22:00');
    expect(fields.get('概要')).toContain('报警 1 个，报警日志 2 条');
    expect(fields.get('概要')).toContain('报警呼叫 1 次（拨打 1 通）');
    expect(fields.get('日志链末条哈希')).toBe(`#42 ${'b'.repeat(64)}`);
  });

  it('should list every call attempt with who, number, outcome and the key pressed', () => {
    const rows = doc.sections[2]!.tables[0]!.rows;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toEqual([
      '紧急级报警 al-0123\n已按键确认（电话按键确认）\n确认人 渤海化工中控室',
      '2026-11-24 18:22:00',
      '中控室 渤海化工中控室\n第1轮第1步',
      'sip:8001@pbx',
      '按键确认',
      '1',
      '18:22:12 / 18:22:30',
    ]);
  });

  it('should use plant alarm wording, never the government warning grades', () => {
    const text = JSON.stringify(doc);
    expect(text).not.toMatch(/特别严重|预警/);
    expect(doc.sections[1]!.tables[0]!.rows[0]![3]).toBe('紧急');
  });

  it('should say when a part is empty', () => {
    const empty = layoutDossier(makeDossier({ callouts: [], findings: [], journal: [] }), zhOf);
    expect(empty.sections[2]!.tables[0]).toMatchObject({ rows: [], empty: '该时段无报警电话呼叫。' });
    expect(new Map(empty.sections[0]!.fields).get('日志链末条哈希')).toBe('—');
  });

  it('should flag a roster gap', () => {
    const d = makeDossier({
      onDuty: [{ role: 'operations', name: '王强', number: '+86138', rosterGap: true }],
    });
    expect(layoutDossier(d, zhOf).sections[6]!.tables[0]!.rows[0]).toEqual([
      '操作负责人',
      '全厂',
      '王强',
      '+86138',
      '排班空缺（取首位）',
    ]);
  });
});

describe('renderDossierHtml', () => {
  const html = renderDossierHtml(layoutDossier(makeDossier(), zhOf));

  it('should be a Chinese, self-contained, printable page', () => {
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="zh-CN">')).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain('@page { size: A4;');
    expect(html).toContain('<h1>重大危险源报警事件报告材料</h1>');
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('should escape recorded text', () => {
    expect(html).toContain('氯气浓度超过二级报警值 &lt;script&gt;');
  });

  it('should embed one chart per series as inline SVG', () => {
    expect(html.match(/<svg /g)).toHaveLength(1);
    expect(html).toContain('液氯储罐区氯气探测器1（cl-gd-1）· conc [mg/m3]');
  });
});
