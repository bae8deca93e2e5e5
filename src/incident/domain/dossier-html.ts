/**
 * Printable HTML of the dossier document model: one self-contained page (inline CSS and SVG, no script, no external
 * resource), lang zh-CN, A4 print CSS. Every text is escaped. Pure.
 */
import { chartSvg } from './chart';
import type { DocSection, DocTable, DossierDoc } from './dossier-layout';

export const escapeHtml = (s: string): string =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');

const cell = (s: string): string => escapeHtml(s).replace(/\n/g, '<br>');

const CSS = `
@page { size: A4; margin: 14mm 12mm 16mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif;
  font-size: 10.5pt; color: #111; margin: 0 auto; max-width: 190mm; line-height: 1.45; }
h1 { font-size: 17pt; text-align: center; margin: 6mm 0 1mm; letter-spacing: 0.08em; }
.subtitle { text-align: center; color: #444; margin-bottom: 5mm; }
h2 { font-size: 12.5pt; border-bottom: 1.5px solid #333; padding-bottom: 1mm; margin: 6mm 0 2mm; break-after: avoid; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; margin-bottom: 2mm; }
th, td { border: 0.6pt solid #777; padding: 1.2mm 1.5mm; vertical-align: top; overflow-wrap: anywhere; font-size: 9pt; }
th { background: #eee; font-weight: 600; text-align: left; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
dl.fields { display: grid; grid-template-columns: 32mm 1fr; margin: 0; border-top: 0.6pt solid #777; }
dl.fields dt, dl.fields dd { margin: 0; padding: 1.2mm 1.5mm; border-bottom: 0.6pt solid #777; }
dl.fields dt { background: #f3f3f3; font-weight: 600; }
dl.fields dd { overflow-wrap: anywhere; }
.note { color: #444; font-size: 9pt; margin: 0 0 2mm; }
.empty { color: #555; font-style: italic; }
figure { margin: 0 0 4mm; break-inside: avoid; }
figcaption { font-size: 9.5pt; font-weight: 600; margin-bottom: 1mm; }
figure svg { width: 100%; height: auto; font-family: inherit; }
footer { margin-top: 6mm; border-top: 0.6pt solid #999; padding-top: 2mm; font-size: 8.5pt; color: #555; }
@media screen { body { padding: 8mm; background: #fff; } }
`;

function tableHtml(t: DocTable): string {
  if (t.rows.length === 0) return `<p class="empty">${cell(t.empty)}</p>`;
  const total = t.columns.reduce((n, c) => n + c.width, 0);
  const cols = t.columns.map((c) => `<col style="width:${((c.width / total) * 100).toFixed(1)}%">`).join('');
  const head = t.columns.map((c) => `<th>${cell(c.label)}</th>`).join('');
  const body = t.rows.map((r) => `<tr>${r.map((v) => `<td>${cell(v)}</td>`).join('')}</tr>`).join('\n');
  return `<table><colgroup>${cols}</colgroup><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function sectionHtml(s: DocSection): string {
  const parts = [`<section>`, `<h2>${cell(s.title)}</h2>`];
  if (s.note) parts.push(`<p class="note">${cell(s.note)}</p>`);
  if (s.fields)
    parts.push(
      `<dl class="fields">${s.fields.map(([k, v]) => `<dt>${cell(k)}</dt><dd>${cell(v)}</dd>`).join('')}</dl>`,
    );
  for (const t of s.tables) parts.push(tableHtml(t));
  for (const c of s.charts)
    parts.push(`<figure><figcaption>${cell(c.title)}</figcaption>${chartSvg(c.geometry, c.title)}</figure>`);
  if (s.fields === undefined && s.tables.length === 0 && s.charts.length === 0)
    parts.push('<p class="empty">该时段无相关设备数据。</p>');
  parts.push('</section>');
  return parts.join('\n');
}

export function renderDossierHtml(doc: DossierDoc): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="zh-CN">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${cell(doc.title)} — ${cell(doc.subtitle)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    `<h1>${cell(doc.title)}</h1>`,
    `<div class="subtitle">${cell(doc.subtitle)}</div>`,
    ...doc.sections.map(sectionHtml),
    `<footer>${cell(doc.footer)}</footer>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
