import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/**
 * The correlation id of the work in progress, carried through async calls (AsyncLocalStorage) into every log line as
 * `cid`: one per HTTP request (the client's `X-Request-Id` when it is sane, echoed back), one per WebSocket session
 * (`ws-…`), one per MQTT intake batch (`mqtt-…`). See docs/architecture.md, "Logging".
 */
const store = new AsyncLocalStorage<string>();

/** Runs `fn` with `id` as the correlation id of everything it starts (sync and async). */
export function withCorrelationId<A extends unknown[], R>(id: string, fn: (...args: A) => R, ...args: A): R {
  return store.run(id, fn, ...args);
}

/** The correlation id of the current async context, if any. */
export function currentCorrelationId(): string | undefined {
  return store.getStore();
}

/** `fn` bound to `id`: for event-emitter callbacks, which run in the emitter's context, not the subscriber's. */
export function bindCorrelationId<A extends unknown[], R>(
  id: string,
  fn: (...args: A) => R,
): (...args: A) => R {
  return (...args: A) => store.run(id, fn, ...args);
}

/** A fresh id: `<prefix>-<8 hex>` (short enough to read in a log, unique enough within a run). */
export function newCorrelationId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** What a client may send as X-Request-Id: 1–128 visible characters of a safe set (no log or header injection). */
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The request id to use for an HTTP request: the client's when it is acceptable, else a new UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const given = Array.isArray(header) ? header[0] : header;
  return given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
}
