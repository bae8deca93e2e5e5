/**
 * PDF of the dossier document model with pdfkit (pure JavaScript, no browser, works offline) and the Noto Sans Hans
 * OpenType fonts of `@embedpdf/fonts-sc` (GB 2312 coverage), embedded as subsets so Chinese prints on any reader. The
 * charts are drawn from the same geometry as the HTML's SVG. Why this approach: README "Dependencies" and
 * docs/incident-dossier.md.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import PDFDocument from 'pdfkit';
import type { ChartGeometry } from './domain/chart';
import type { DocChart, DocTable, DossierDoc } from './domain/dossier-layout';

type Doc = InstanceType<typeof PDFDocument>;

/** The font files (regular, bold); resolved once, throws with the path when the package is incomplete. */
export function dossierFonts(): { regular: string; bold: string } {
  const dir = join(dirname(require.resolve('@embedpdf/fonts-sc')), '..', 'fonts');
  const regular = join(dir, 'NotoSansHans-Regular.otf');
  const bold = join(dir, 'NotoSansHans-Bold.otf');
  for (const f of [regular, bold]) if (!existsSync(f)) throw new Error(`dossier PDF font missing: ${f}`);
  return { regular, bold };
}

const MARGIN = { top: 40, bottom: 46, left: 36, right: 36 };
const FS = 8.5;
const PAD = 3;

class Writer {
  private readonly width: number;
  constructor(private readonly doc: Doc) {
    this.width = doc.page.width - MARGIN.left - MARGIN.right;
  }
  private get bottom(): number {
    return this.doc.page.height - MARGIN.bottom;
  }
  private ensure(h: number): void {
    if (this.doc.y + h > this.bottom) this.doc.addPage();
  }
  title(title: string, subtitle: string): void {
    this.doc
      .font('bold')
      .fontSize(16)
      .fillColor('#000')
      .text(title, MARGIN.left, this.doc.y, { width: this.width, align: 'center' });
    this.doc
      .moveDown(0.2)
      .font('regular')
      .fontSize(10)
      .fillColor('#444')
      .text(subtitle, { width: this.width, align: 'center' });
    this.doc.moveDown(0.8);
  }
  heading(text: string): void {
    // a heading never stays alone at the foot of a page: keep room for it, a note and a table's first rows
    this.ensure(90);
    this.doc
      .moveDown(0.4)
      .font('bold')
      .fontSize(12)
      .fillColor('#000')
      .text(text, MARGIN.left, this.doc.y, { width: this.width });
    const y = this.doc.y + 1;
    this.doc
      .moveTo(MARGIN.left, y)
      .lineTo(MARGIN.left + this.width, y)
      .lineWidth(1)
      .strokeColor('#333')
      .stroke();
    this.doc.y = y + 4;
  }
  note(text: string): void {
    this.doc
      .font('regular')
      .fontSize(8.5)
      .fillColor('#444')
      .text(text, MARGIN.left, this.doc.y, { width: this.width });
    this.doc.moveDown(0.3);
  }
  /** One table; the header row repeats on every page the table runs onto. */
  table(t: DocTable): void {
    if (t.rows.length === 0) {
      this.note(t.empty);
      return;
    }
    const total = t.columns.reduce((n, c) => n + c.width, 0);
    const widths = t.columns.map((c) => (c.width / total) * this.width);
    const rowHeight = (cells: readonly string[], font: string): number => {
      this.doc.font(font).fontSize(FS);
      return (
        Math.max(
          ...cells.map((c, i) => this.doc.heightOfString(c || ' ', { width: (widths[i] ?? 20) - 2 * PAD })),
        ) +
        2 * PAD
      );
    };
    const drawRow = (cells: readonly string[], font: string, fill?: string): void => {
      const h = rowHeight(cells, font);
      const y = this.doc.y;
      let x = MARGIN.left;
      cells.forEach((c, i) => {
        const w = widths[i] ?? 20;
        if (fill) this.doc.rect(x, y, w, h).fillColor(fill).fill();
        this.doc.rect(x, y, w, h).lineWidth(0.5).strokeColor('#777').stroke();
        this.doc
          .font(font)
          .fontSize(FS)
          .fillColor('#111')
          .text(c, x + PAD, y + PAD, { width: w - 2 * PAD });
        x += w;
      });
      this.doc.y = y + h;
    };
    const header = t.columns.map((c) => c.label);
    const headerH = rowHeight(header, 'bold');
    this.ensure(headerH + 20);
    drawRow(header, 'bold', '#eeeeee');
    for (const r of t.rows) {
      const h = rowHeight(r, 'regular');
      if (this.doc.y + h > this.bottom) {
        this.doc.addPage();
        drawRow(header, 'bold', '#eeeeee');
      }
      drawRow(r, 'regular');
    }
    this.doc.moveDown(0.4);
  }
  fields(rows: ReadonlyArray<readonly [string, string]>): void {
    this.table({
      columns: [
        { label: '项目', width: 22 },
        { label: '内容', width: 78 },
      ],
      rows: rows.map(([k, v]) => [k, v]),
      empty: '',
    });
  }
  chart(c: DocChart): void {
    const g = c.geometry;
    const scale = this.width / g.width;
    this.ensure(g.height * scale + 24);
    this.doc
      .font('bold')
      .fontSize(9)
      .fillColor('#000')
      .text(c.title, MARGIN.left, this.doc.y, { width: this.width });
    const top = this.doc.y + 2;
    this.doc.save().translate(MARGIN.left, top).scale(scale);
    drawChart(this.doc, g);
    this.doc.restore();
    this.doc.y = top + g.height * scale + 8;
    this.doc.x = MARGIN.left;
  }
}

function drawChart(doc: Doc, g: ChartGeometry): void {
  const { x, y, w, h } = g.plot;
  doc.rect(x, y, w, h).lineWidth(0.8).strokeColor('#999').stroke();
  doc.font('regular').fontSize(8);
  for (const t of g.yTicks) {
    doc
      .moveTo(x, t.y)
      .lineTo(x + w, t.y)
      .lineWidth(0.6)
      .strokeColor('#e3e3e3')
      .stroke();
    doc.fillColor('#333').text(t.label, 0, t.y - 5, { width: x - 4, align: 'right', lineBreak: false });
  }
  for (const t of g.xTicks) {
    doc
      .moveTo(t.x, y + h)
      .lineTo(t.x, y + h + 4)
      .lineWidth(0.6)
      .strokeColor('#666')
      .stroke();
    doc
      .fillColor('#333')
      .text(t.label, t.x - 30, y + h + 6, { width: 60, align: 'center', lineBreak: false });
  }
  for (const b of g.bands) {
    b.forEach(([px, py], i) => (i === 0 ? doc.moveTo(px, py) : doc.lineTo(px, py)));
    doc.closePath().fillColor('#9ecae1').fillOpacity(0.45).fill().fillOpacity(1);
  }
  for (const l of g.lines) {
    if (l.length === 1) {
      const p = l[0];
      if (p) doc.circle(p[0], p[1], 1.8).fillColor('#08519c').fill();
      continue;
    }
    l.forEach(([px, py], i) => (i === 0 ? doc.moveTo(px, py) : doc.lineTo(px, py)));
    doc.lineWidth(1.3).strokeColor('#08519c').stroke();
  }
  for (const l of g.limits) {
    doc
      .moveTo(x, l.y)
      .lineTo(x + w, l.y)
      .lineWidth(0.9)
      .dash(5, { space: 3 })
      .strokeColor('#d62728')
      .stroke()
      .undash();
    doc.fillColor('#d62728').text(l.label, x, l.y - 11, { width: w - 2, align: 'right', lineBreak: false });
  }
  for (const m of g.marks) {
    doc
      .moveTo(m.x, y)
      .lineTo(m.x, y + h)
      .lineWidth(0.9)
      .strokeColor('#ff7f0e')
      .stroke();
    if (m.label === '') continue;
    doc.fillColor('#c65f00').fontSize(7);
    const at = m.left ? m.x - 2 - doc.widthOfString(m.label) : m.x + 2;
    doc.text(m.label, at, y + 2 + m.row * 10, { lineBreak: false }).fontSize(8);
  }
  if (g.empty)
    doc
      .fillColor('#666')
      .fontSize(10)
      .text('该时段无数据', x, y + h / 2 - 6, { width: w, align: 'center' });
}

/** Renders the document; resolves with the PDF bytes. `createdAt` fixes the PDF's dates (reproducible output). */
export function renderDossierPdf(d: DossierDoc, createdAt: Date): Promise<Buffer> {
  const fonts = dossierFonts();
  const doc = new PDFDocument({
    size: 'A4',
    margins: MARGIN,
    bufferPages: true,
    info: {
      Title: `${d.title} ${d.subtitle}`,
      Author: 'hazwatch',
      Creator: 'hazwatch',
      CreationDate: createdAt,
      ModDate: createdAt,
    },
    lang: 'zh-CN',
    displayTitle: true,
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  doc.registerFont('regular', fonts.regular);
  doc.registerFont('bold', fonts.bold);
  const w = new Writer(doc);
  w.title(d.title, d.subtitle);
  for (const s of d.sections) {
    w.heading(s.title);
    if (s.note) w.note(s.note);
    if (s.fields) w.fields(s.fields);
    for (const t of s.tables) w.table(t);
    for (const c of s.charts) w.chart(c);
    if (s.fields === undefined && s.tables.length === 0 && s.charts.length === 0)
      w.note('该时段无相关设备数据。');
  }
  w.note(d.footer);
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    // text inside the bottom margin would otherwise make pdfkit open a new page
    doc.page.margins.bottom = 0;
    const y = doc.page.height - MARGIN.bottom + 14;
    doc.font('regular').fontSize(8).fillColor('#555');
    doc.text(`${d.subtitle}    第 ${i + 1} 页 / 共 ${range.count} 页`, MARGIN.left, y, {
      width: doc.page.width - MARGIN.left - MARGIN.right,
      align: 'center',
      lineBreak: false,
    });
  }
  doc.end();
  return done;
}
