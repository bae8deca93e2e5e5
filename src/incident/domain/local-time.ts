/** Local wall-clock text for the dossier (China Standard Time by default). Pure. */
const formatters = new Map<string, Intl.DateTimeFormat>();

/** `YYYY-MM-DD HH:mm:ss` of `at` (epoch ms) in `timeZone`. */
export function localClock(at: number, timeZone = 'Asia/Shanghai'): string {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(at))) p[part.type] = part.value;
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

/** ISO text or undefined → local clock text or '—'. */
export const localOf = (iso: string | undefined, timeZone?: string): string =>
  iso === undefined ? '—' : localClock(Date.parse(iso), timeZone);
