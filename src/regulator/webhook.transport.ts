import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import {
  WebhookTargetError,
  checkResolved,
  checkWebhookUrl,
  type WebhookAllowList,
} from './domain/webhook-target.policy';

/** How a webhook delivery reaches its receiver: an HTTP POST, behind a port so unit tests script answers. */
export type WebhookResponse = { readonly status: number };
export type WebhookTransport = {
  post(
    url: string,
    headers: Readonly<Record<string, string>>,
    body: string,
    timeoutMs: number,
  ): Promise<WebhookResponse>;
};
export const WEBHOOK_TRANSPORT = Symbol('WEBHOOK_TRANSPORT');

/** Resolves every address of a host name (the port, so tests can pretend a name points elsewhere). */
export type Resolver = (host: string) => Promise<LookupAddress[]>;
export const WEBHOOK_RESOLVER = Symbol('WEBHOOK_RESOLVER');
export const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses),
    ),
  );

/**
 * The real transport (docs/regulator-workflows.md, "Webhook targets"): the URL is checked, the host resolved at
 * delivery time and every address checked again (a name that changed to an internal address since the subscription
 * was made is refused: DNS rebinding), and the socket connects to the address that was checked (the request's
 * `lookup` hands it over, so no second resolution can differ). Redirects are not followed (a 3xx is a failure: the
 * receiver must give its real URL); the response body is drained and never read.
 */
export function guardedHttpTransport(
  allow: WebhookAllowList,
  resolve: Resolver = systemResolver,
): WebhookTransport {
  return {
    async post(url, headers, body, timeoutMs) {
      const { host, literal } = checkWebhookUrl(url, allow);
      let address: LookupAddress;
      if (literal) address = { address: host, family: host.includes(':') ? 6 : 4 };
      else {
        const all = await resolve(host);
        checkResolved(
          all.map((a) => a.address),
          allow,
        );
        address = all[0] as LookupAddress;
      }
      const pinned: LookupFunction = (_hostname, options, callback) => {
        if ((options as { all?: boolean }).all)
          (callback as (e: null, a: LookupAddress[]) => void)(null, [address]);
        else callback(null, address.address, address.family);
      };
      const u = new URL(url);
      const client = u.protocol === 'https:' ? https : http;
      return new Promise<WebhookResponse>((resolvePost, reject) => {
        const req = client.request(
          u,
          {
            method: 'POST',
            headers: { ...headers, 'content-length': Buffer.byteLength(body) },
            lookup: pinned,
            timeout: timeoutMs,
          },
          (res) => {
            res.resume();
            res.on('end', () => resolvePost({ status: res.statusCode ?? 0 }));
            res.on('error', reject);
          },
        );
        req.on('timeout', () => req.destroy(new WebhookDeliveryError('timeout')));
        req.on('error', reject);
        req.end(body);
      });
    },
  };
}

export class WebhookDeliveryError extends Error {
  override readonly name = 'WebhookDeliveryError';
}

/**
 * What the delivery log keeps of a failed attempt: a class of failure, never the internal error text (addresses,
 * ports, TLS details and timings of hosts behind the server stay out of what a regulator reads).
 */
export function deliveryErrorClass(err: unknown): string {
  if (err instanceof WebhookTargetError) return `refused: ${err.message}`;
  if (err instanceof WebhookDeliveryError && err.message === 'timeout') return 'timeout';
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host name does not resolve';
  if (typeof code === 'string' && /^(ERR_TLS|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED)/.test(code))
    return 'TLS failure';
  if (err instanceof Error && err.name === 'TimeoutError') return 'timeout';
  return 'connection failed';
}
