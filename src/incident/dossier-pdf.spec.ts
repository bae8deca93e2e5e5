import { layoutDossier } from './domain/dossier-layout';
import { renderDossierPdf } from './dossier-pdf';
import { makeDossier } from './testing/dossier.factory';

const zhOf = (c: string): string => c;

describe('renderDossierPdf', () => {
  it('should write a PDF with the CJK font embedded and page numbers', async () => {
    const d = makeDossier();
    const pdf = await renderDossierPdf(layoutDossier(d, zhOf), new Date(d.generatedAt));
    const text = pdf.toString('latin1');
    expect(text.startsWith('%PDF-')).toBe(true);
    expect(text.trimEnd().endsWith('%%EOF')).toBe(true);
    // the OpenType font is embedded (subset) with a ToUnicode map, so Chinese renders and can be copied
    expect(text).toMatch(/\/BaseFont \/[A-Z]{6}\+NotoSansHans-Regular/);
    expect(text).toMatch(/\/BaseFont \/[A-Z]{6}\+NotoSansHans-Bold/);
    expect(text).toContain('/ToUnicode');
    expect(text).toMatch(/\/FontFile3|\/FontFile2/);
    expect(text.match(/\/Type \/Page\b/g)?.length).toBeGreaterThanOrEqual(1);
  });

  it('should run onto more pages with a long journal and keep a page count', async () => {
    const base = makeDossier();
    const one = base.journal[0]!;
    const journal = Array.from({ length: 150 }, (_, i) => ({ ...one, seq: 100 + i }));
    const pdf = await renderDossierPdf(layoutDossier({ ...base, journal }, zhOf), new Date(base.generatedAt));
    const pages = pdf.toString('latin1').match(/\/Type \/Page\b/g)?.length ?? 0;
    expect(pages).toBeGreaterThanOrEqual(4);
  });

  it('should be reproducible for the same dossier', async () => {
    const d = makeDossier();
    const a = await renderDossierPdf(layoutDossier(d, zhOf), new Date(d.generatedAt));
    const b = await renderDossierPdf(layoutDossier(d, zhOf), new Date(d.generatedAt));
    expect(a.equals(b)).toBe(true);
  });
});
