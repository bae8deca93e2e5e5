import { makeDossier } from '../testing/dossier.factory';
import { renderDossierHtml } from './dossier-html';
import { layoutDossier } from './dossier-layout';

const zhOf = (c: string): string => (c === 'gas_l2' ? '二级报警' : c);

describe('layoutDossier', () => {
  const doc = layoutDossier(makeDossier(), zhOf);

  it('should have the seven sections in reporting order', () => {
    expect(doc.sections.map((s) => s.title.slice(0, 2))).toEqual([
      '一、',
      '二、',
      '三、',
      '四、',
      '五、',
      '六、',
      '七、',
    ]);
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
    expect(layoutDossier(d, zhOf).sections[5]!.tables[0]!.rows[0]).toEqual([
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
