/**
 * The fault table of an integration run (docs/testing.md "The fault table"). The fault-injection suites print one line
 * per injected fault (test/setup/fault-report.ts):
 *
 *   FAULT <name>: sent=<n> stored=<n> lost=<n> duplicated=<n>[ — <note>]
 *
 * `FaultCollector` picks those lines out of jest's output as it streams past; `faultTable` prints them together, in
 * the order they came, and says which fault of the zero-loss promise has no line in this run.
 */

/** The faults the zero-loss promise covers (README, docs/testing.md), each with how its line's name is recognised. */
export const REQUIRED_FAULTS = [
  { fault: 'server kill -9 (QoS 1 stream)', match: /^server-kill-9 #/, suite: 'ingest-ack' },
  { fault: 'database refuse', match: /^database-refuse/, suite: 'storage-outage' },
  { fault: 'database hang', match: /during a database hang/, suite: 'ingest-ack' },
  { fault: 'broker kill -9 with queued messages', match: /^broker-kill-9/, suite: 'broker-crash' },
  { fault: 'overload burst', match: /^QoS 1 burst/, suite: 'ingest-overload' },
  { fault: 'NUL / poison inputs', match: /NUL|poison/, suite: 'storage-hang, storage-binary-copy' },
  { fault: 're-timed redelivery', match: /^retimed-redelivery/, suite: 'storage-retimed' },
];

const LINE = /FAULT (.+?): sent=(\d+) stored=(\d+) lost=(-?\d+) duplicated=(-?\d+)(?: — (.*))?$/;

/** Parses one output line; undefined when it is not a FAULT line. */
export function parseFaultLine(line) {
  const m = LINE.exec(line.replace(/\x1b\[[0-9;]*m/g, '').trimEnd());
  if (!m) return undefined;
  return {
    name: m[1],
    sent: Number(m[2]),
    stored: Number(m[3]),
    lost: Number(m[4]),
    duplicated: Number(m[5]),
    note: m[6] ?? '',
  };
}

/** Collects FAULT lines from chunks of output (lines may span chunks). */
export class FaultCollector {
  faults = [];
  #rest = { out: '', err: '' };

  push(stream, chunk) {
    const text = this.#rest[stream] + chunk.toString('utf8');
    const lines = text.split('\n');
    this.#rest[stream] = lines.pop() ?? '';
    for (const l of lines) this.#take(l);
  }

  end() {
    for (const k of Object.keys(this.#rest)) {
      if (this.#rest[k]) this.#take(this.#rest[k]);
      this.#rest[k] = '';
    }
  }

  #take(line) {
    const f = parseFaultLine(line);
    if (f) this.faults.push(f);
  }
}

/**
 * The table as text, and the required faults without a line. `checkCoverage` false (a run of chosen suites): no
 * coverage verdict.
 */
export function faultTable(faults, checkCoverage) {
  const head = ['fault', 'sent', 'stored', 'lost', 'duplicated', 'note'];
  const rows = faults.map((f) => [f.name, f.sent, f.stored, f.lost, f.duplicated, f.note].map(String));
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const num = new Set([1, 2, 3, 4]);
  const fmt = (r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : num.has(i) ? c.padStart(width[i]) : c.padEnd(width[i])))
      .join('  ');
  const lines = [
    '',
    `FAULT TABLE (${faults.length} line${faults.length === 1 ? '' : 's'} from the fault-injection suites of this run)`,
    fmt(head),
    fmt(width.map((w) => '-'.repeat(w))),
    ...rows.map(fmt),
  ];
  if (faults.length === 0) lines.push('(no FAULT line in this run)');
  const lostTotal = faults.reduce((n, f) => n + Math.max(0, f.lost), 0);
  const dupTotal = faults.reduce((n, f) => n + Math.max(0, f.duplicated), 0);
  lines.push(
    `total: lost=${lostTotal} duplicated=${dupTotal} (each suite asserts its own bound: lost is 0 wherever the server is responsible)`,
  );
  const missing = checkCoverage
    ? REQUIRED_FAULTS.filter((r) => !faults.some((f) => r.match.test(f.name)))
    : [];
  if (checkCoverage)
    lines.push(
      missing.length === 0
        ? `coverage: every fault of the zero-loss promise has a line (${REQUIRED_FAULTS.map((r) => r.fault).join('; ')})`
        : `coverage: MISSING a line for ${missing.map((r) => `${r.fault} (${r.suite})`).join('; ')}`,
    );
  return { text: lines.join('\n'), missing };
}
