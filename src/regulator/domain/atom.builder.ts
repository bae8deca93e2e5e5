/**
 * Atom (RFC 4287) index of CAP messages, newest first, each entry linking its CAP document (the OASIS CAP feed
 * practice). A page never exceeds `maxBytes` (900 KB ceiling, docs/domain.md §7): entries that would overflow it move to
 * the next page. Pure.
 */
import { escapeXml } from '../../common/domain/xml.util';

export type AtomEntry = {
  /** CAP identifier. */
  readonly identifier: string;
  /** Alarm-event seq (the paging cursor). */
  readonly seq: number;
  readonly title: string;
  /** RFC 3339 (the CAP `sent`). */
  readonly updated: string;
  readonly summary: string;
  readonly msgType: string;
  readonly priority: string;
  readonly siteId: string;
  /** Absolute URL of the CAP document. */
  readonly capUrl: string;
};

export type AtomPage = {
  /** Absolute URL of this page. */
  readonly selfUrl: string;
  /** Builds the URL of the page after the given seq. */
  readonly nextUrl: (beforeSeq: number) => string;
  readonly feedId: string;
  readonly title: string;
  readonly updated: string;
  readonly author: string;
  /** True when older entries exist beyond those passed in. */
  readonly more: boolean;
  readonly maxBytes: number;
};

export type AtomResult = { readonly xml: string; readonly included: number; readonly nextBefore?: number };

function entryXml(e: AtomEntry): string {
  return (
    '  <entry>\n' +
    `    <id>urn:oasis:names:tc:emergency:cap:1.2:${escapeXml(e.identifier)}</id>\n` +
    `    <title>${escapeXml(e.title)}</title>\n` +
    `    <updated>${escapeXml(e.updated)}</updated>\n` +
    `    <link rel="alternate" type="application/cap+xml" href="${escapeXml(e.capUrl)}"/>\n` +
    `    <category term="${escapeXml(e.msgType)}" label="msgType"/>\n` +
    `    <category term="${escapeXml(e.priority)}" label="priority"/>\n` +
    `    <category term="${escapeXml(e.siteId)}" label="site"/>\n` +
    `    <summary>${escapeXml(e.summary)}</summary>\n` +
    '  </entry>\n'
  );
}

export function buildAtomFeed(page: AtomPage, entries: readonly AtomEntry[]): AtomResult {
  const head = (next: number | undefined): string =>
    '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n' +
    `  <id>${escapeXml(page.feedId)}</id>\n` +
    `  <title>${escapeXml(page.title)}</title>\n` +
    `  <updated>${escapeXml(page.updated)}</updated>\n` +
    `  <author><name>${escapeXml(page.author)}</name></author>\n` +
    `  <link rel="self" type="application/atom+xml" href="${escapeXml(page.selfUrl)}"/>\n` +
    (next !== undefined
      ? `  <link rel="next" type="application/atom+xml" href="${escapeXml(page.nextUrl(next))}"/>\n`
      : '');
  const tail = '</feed>\n';
  // reserve room for the longest possible head (with a next link), so adding it later cannot overflow
  const reserve = Buffer.byteLength(head(Number.MAX_SAFE_INTEGER) + tail, 'utf8');
  let used = reserve;
  const parts: string[] = [];
  let last: AtomEntry | undefined;
  for (const e of entries) {
    const x = entryXml(e);
    const n = Buffer.byteLength(x, 'utf8');
    if (used + n > page.maxBytes) break;
    used += n;
    parts.push(x);
    last = e;
  }
  const truncated = parts.length < entries.length;
  const next = (truncated || page.more) && last !== undefined ? last.seq : undefined;
  return {
    xml: head(next) + parts.join('') + tail,
    included: parts.length,
    ...(next !== undefined ? { nextBefore: next } : {}),
  };
}
