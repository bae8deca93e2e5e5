const { writeFileSync } = require('node:fs');
const { layoutDossier } = require('./dist/src/incident/domain/dossier-layout');
const { renderDossierHtml } = require('./dist/src/incident/domain/dossier-html');
const { renderDossierPdf } = require('./dist/src/incident/dossier-pdf');
const { conditionLabel } = require('./dist/src/feeds/domain/cap-message.builder');
const f = process.argv[2];
(async () => {
  const d = f ? JSON.parse(require('fs').readFileSync(f, 'utf8')) : (() => { try { return require('./dist/src/incident/testing/dossier.factory').makeDossier(); } catch { return null; } })();
  const doc = layoutDossier(d, (c) => conditionLabel(c).zh);
  writeFileSync('/tmp/incident-sample.html', renderDossierHtml(doc));
  writeFileSync('/tmp/incident-sample.pdf', await renderDossierPdf(doc, new Date(d.generatedAt)));
})();
