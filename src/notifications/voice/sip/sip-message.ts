/** The subset of SIP (RFC 3261) messages a calling user agent needs: parse and build over UDP. */

export type SipHeaders = Map<string, string[]>;
export type SipRequest = { kind: 'request'; method: string; uri: string; headers: SipHeaders; body: string };
export type SipResponse = {
  kind: 'response';
  status: number;
  reason: string;
  headers: SipHeaders;
  body: string;
};
export type SipMessage = SipRequest | SipResponse;

const COMPACT: Record<string, string> = {
  i: 'call-id',
  f: 'from',
  t: 'to',
  v: 'via',
  m: 'contact',
  l: 'content-length',
  c: 'content-type',
  e: 'content-encoding',
  k: 'supported',
  s: 'subject',
};
/** Headers whose values may be comma-joined lists (split them so each Via is separate). */
const LIST_HEADERS = new Set(['via', 'route', 'record-route', 'allow', 'supported']);

const CANONICAL: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'proxy-authenticate': 'Proxy-Authenticate',
  'proxy-authorization': 'Proxy-Authorization',
};
export const canonicalName = (lower: string): string =>
  CANONICAL[lower] ?? lower.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase());

/** Splits on commas outside quotes and angle brackets. */
function splitList(v: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (const ch of v) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === '<') depth++;
    else if (!quoted && ch === '>') depth--;
    if (ch === ',' && !quoted && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

export function parseSip(buf: Buffer): SipMessage | undefined {
  const text = buf.toString('utf8');
  const sep = text.indexOf('\r\n\r\n');
  const head = sep >= 0 ? text.slice(0, sep) : text;
  let body = sep >= 0 ? text.slice(sep + 4) : '';
  const lines = head.split(/\r\n/);
  const start = lines.shift();
  if (!start) return undefined;
  const headers: SipHeaders = new Map();
  // unfold continuation lines
  const unfolded: string[] = [];
  for (const l of lines) {
    if (/^[ \t]/.test(l) && unfolded.length > 0) unfolded[unfolded.length - 1] += ' ' + l.trim();
    else unfolded.push(l);
  }
  for (const l of unfolded) {
    const c = l.indexOf(':');
    if (c <= 0) continue;
    let name = l.slice(0, c).trim().toLowerCase();
    name = COMPACT[name] ?? name;
    const value = l.slice(c + 1).trim();
    const values = LIST_HEADERS.has(name) ? splitList(value) : [value];
    headers.set(name, [...(headers.get(name) ?? []), ...values]);
  }
  const len = Number(headers.get('content-length')?.[0] ?? NaN);
  if (Number.isFinite(len)) body = Buffer.from(body, 'utf8').subarray(0, len).toString('utf8');
  const resp = /^SIP\/2\.0\s+(\d{3})\s*(.*)$/.exec(start);
  if (resp) return { kind: 'response', status: Number(resp[1]), reason: resp[2] ?? '', headers, body };
  const req = /^([A-Z]+)\s+(\S+)\s+SIP\/2\.0$/.exec(start);
  if (req) return { kind: 'request', method: req[1] as string, uri: req[2] as string, headers, body };
  return undefined;
}

export function header(m: { headers: SipHeaders }, name: string): string | undefined {
  return m.headers.get(name.toLowerCase())?.[0];
}

export function buildSip(start: string, headers: Array<[string, string]>, body = ''): Buffer {
  const lines = [
    start,
    ...headers.filter(([n]) => n.toLowerCase() !== 'content-length').map(([n, v]) => `${n}: ${v}`),
    `Content-Length: ${Buffer.byteLength(body, 'utf8')}`,
  ];
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body, 'utf8');
}

/** A response to a request: copies Via, From, To (adding a tag), Call-ID and CSeq. */
export function buildResponse(req: SipRequest, status: number, reason: string, toTag?: string): Buffer {
  const h: Array<[string, string]> = [];
  for (const v of req.headers.get('via') ?? []) h.push(['Via', v]);
  const to = header(req, 'to') ?? '';
  h.push(['From', header(req, 'from') ?? '']);
  h.push(['To', toTag && !/;\s*tag=/i.test(to) ? `${to};tag=${toTag}` : to]);
  h.push(['Call-ID', header(req, 'call-id') ?? '']);
  h.push(['CSeq', header(req, 'cseq') ?? '']);
  return buildSip(`SIP/2.0 ${status} ${reason}`, h);
}

export function cseqOf(m: { headers: SipHeaders }): { seq: number; method: string } | undefined {
  const v = /^(\d+)\s+([A-Z]+)/.exec(header(m, 'cseq') ?? '');
  return v ? { seq: Number(v[1]), method: v[2] as string } : undefined;
}

export function tagOf(nameAddr: string | undefined): string | undefined {
  return /;\s*tag=([^;\s>]+)/i.exec(nameAddr ?? '')?.[1];
}

/** The URI inside `"name" <uri>;params` or a bare `uri;params`. */
export function uriOf(nameAddr: string | undefined): string | undefined {
  if (!nameAddr) return undefined;
  const angle = /<([^>]+)>/.exec(nameAddr);
  if (angle) return angle[1];
  return nameAddr.split(';')[0]?.trim();
}

/** host and port of a SIP URI (sip:user@host:port;params). */
export function hostPortOf(uri: string, defaultPort = 5060): { host: string; port: number } | undefined {
  const m = /^sips?:(?:[^@]+@)?(\[[^\]]+\]|[^:;>?]+)(?::(\d+))?/i.exec(uri);
  if (!m?.[1]) return undefined;
  return { host: m[1].replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : defaultPort };
}
