/** HTTP Digest authentication for SIP (RFC 2617 / RFC 3261 §22, MD5 and MD5-sess, qop=auth). */
import { createHash, randomBytes } from 'node:crypto';

export type DigestChallenge = {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: string;
  qop?: string;
  stale?: boolean;
};

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

export function parseChallenge(value: string): DigestChallenge | undefined {
  const m = /^\s*Digest\s+(.*)$/i.exec(value);
  if (!m?.[1]) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[1].matchAll(/([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|([^\s,]+))/g))
    params[(p[1] ?? '').toLowerCase()] = p[2] ?? p[3] ?? '';
  if (params.realm === undefined || params.nonce === undefined) return undefined;
  return {
    realm: params.realm,
    nonce: params.nonce,
    ...(params.opaque !== undefined ? { opaque: params.opaque } : {}),
    algorithm: params.algorithm ?? 'MD5',
    ...(params.qop !== undefined ? { qop: params.qop } : {}),
    ...(params.stale !== undefined ? { stale: params.stale.toLowerCase() === 'true' } : {}),
  };
}

/** The Authorization / Proxy-Authorization header value answering a challenge. */
export function digestAuthorization(
  c: DigestChallenge,
  o: { method: string; uri: string; username: string; password: string; nc?: number; cnonce?: string },
): string {
  const alg = c.algorithm.toUpperCase();
  if (alg !== 'MD5' && alg !== 'MD5-SESS') throw new Error(`unsupported digest algorithm ${c.algorithm}`);
  const qop = c.qop
    ?.split(',')
    .map((q) => q.trim())
    .find((q) => q === 'auth');
  if (c.qop !== undefined && qop === undefined) throw new Error(`unsupported digest qop ${c.qop}`);
  const cnonce = o.cnonce ?? randomBytes(8).toString('hex');
  const nc = (o.nc ?? 1).toString(16).padStart(8, '0');
  let ha1 = md5(`${o.username}:${c.realm}:${o.password}`);
  if (alg === 'MD5-SESS') ha1 = md5(`${ha1}:${c.nonce}:${cnonce}`);
  const ha2 = md5(`${o.method}:${o.uri}`);
  const response = qop
    ? md5(`${ha1}:${c.nonce}:${nc}:${cnonce}:${qop}:${ha2}`)
    : md5(`${ha1}:${c.nonce}:${ha2}`);
  const parts = [
    `username="${o.username}"`,
    `realm="${c.realm}"`,
    `nonce="${c.nonce}"`,
    `uri="${o.uri}"`,
    `response="${response}"`,
    `algorithm=${c.algorithm}`,
    ...(c.opaque !== undefined ? [`opaque="${c.opaque}"`] : []),
    ...(qop ? [`qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`] : []),
  ];
  return `Digest ${parts.join(', ')}`;
}
