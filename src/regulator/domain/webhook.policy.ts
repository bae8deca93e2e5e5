/**
 * Webhook rules: which subscription wants which message, how deliveries are signed, and the retry schedule.
 * Pure (node:crypto HMAC only, no I/O).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { scopeCovers } from '../../auth/principal';
import { PRIORITY_RANK, type Priority } from '../../common/types';

export type SubscriptionStatus = 'active' | 'paused' | 'deleted';
export type SubscriptionFormat = 'json' | 'cap';

export type SubscriptionFilter = {
  readonly scope: string;
  readonly minPriority: Priority;
  readonly status: SubscriptionStatus;
};

/** Header names of a delivery (public contract for receivers). */
export const WEBHOOK_HEADERS = {
  timestamp: 'x-hazwatch-timestamp',
  signature: 'x-hazwatch-signature',
  delivery: 'x-hazwatch-delivery',
  subscription: 'x-hazwatch-subscription',
  attempt: 'x-hazwatch-attempt',
} as const;

/**
 * A paused subscription still collects its messages (delivered, in order, once it is resumed): nothing valid is
 * dropped. Only a deleted one stops collecting.
 */
export function subscriptionWants(sub: SubscriptionFilter, sitePath: string, priority: Priority): boolean {
  return (
    sub.status !== 'deleted' &&
    scopeCovers(sub.scope, sitePath) &&
    PRIORITY_RANK[priority] >= PRIORITY_RANK[sub.minPriority]
  );
}

/** A subscription's scope must lie within the token's own (equal or deeper); an empty token scope covers all. */
export const scopeWithin = (requested: string, tokenScope: string): boolean =>
  scopeCovers(tokenScope, requested);

/** `sha256=<hex>` of HMAC-SHA256(secret, `${timestamp}.${body}`); timestamp in unix seconds. */
export function signPayload(secret: string, timestampS: number, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestampS}.${body}`, 'utf8').digest('hex');
}

export type SignatureCheck =
  { readonly ok: true } | { readonly ok: false; readonly reason: 'malformed' | 'stale' | 'mismatch' };

/** What a receiver does: recompute the HMAC (constant-time compare) and refuse timestamps outside the replay window. */
export function verifySignature(
  secret: string,
  timestampHeader: string | undefined,
  body: string,
  signatureHeader: string | undefined,
  nowS: number,
  windowS: number,
): SignatureCheck {
  if (
    timestampHeader === undefined ||
    signatureHeader === undefined ||
    !/^\d{1,12}$/.test(timestampHeader) ||
    !/^sha256=[0-9a-f]{64}$/.test(signatureHeader)
  )
    return { ok: false, reason: 'malformed' };
  const ts = Number(timestampHeader);
  if (Math.abs(nowS - ts) > windowS) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(signPayload(secret, ts, body));
  const got = Buffer.from(signatureHeader);
  return expected.length === got.length && timingSafeEqual(expected, got)
    ? { ok: true }
    : { ok: false, reason: 'mismatch' };
}

/** Delay before attempt n+1 after n failed attempts: initial · 2^(n−1), capped. Retries never stop by themselves. */
export function retryDelayMs(failedAttempts: number, initialMs: number, maxMs: number): number {
  const n = Math.max(1, failedAttempts);
  return Math.min(maxMs, initialMs * 2 ** Math.min(n - 1, 40));
}

/** A subscription failing since `failingSince` is paused once it has failed for `pauseAfterMs`. */
export const shouldPause = (failingSince: number | null, now: number, pauseAfterMs: number): boolean =>
  failingSince !== null && now - failingSince >= pauseAfterMs;

/** A 2xx answer is a delivery; everything else (3xx included: we do not follow redirects) is a failure to retry. */
export const isDelivered = (status: number): boolean => status >= 200 && status < 300;
