/**
 * One line per injected fault, in one format across the fault-injection suites, so a CI log can be read as a table:
 *
 *   FAULT server-kill-9 (QoS 1, 5000 msg/s): sent=100000 stored=100000 lost=0 duplicated=0 — note
 *
 * `stored` counts distinct readings found in SQL; `duplicated` counts extra rows beyond one per distinct reading.
 * `lost = sent - stored` and must be 0 wherever the server is responsible.
 */
export type FaultCounts = { sent: number; stored: number; duplicated: number };

export function faultLine(name: string, c: FaultCounts, note = ''): string {
  const lost = c.sent - c.stored;
  return `FAULT ${name}: sent=${c.sent} stored=${c.stored} lost=${lost} duplicated=${c.duplicated}${note ? ` — ${note}` : ''}`;
}

/** Prints the line (console.log, so jest shows it in CI) and returns the lost count for the assertion. */
export function reportFault(name: string, c: FaultCounts, note = ''): number {
  console.log(faultLine(name, c, note));
  return c.sent - c.stored;
}
