/** How a webhook delivery reaches its receiver: an HTTP POST (fetch), behind a port so unit tests script answers. */
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

/** Redirects are not followed (a 3xx is a failure: the receiver must give its real URL). */
export const fetchTransport: WebhookTransport = {
  async post(url, headers, body, timeoutMs) {
    const res = await fetch(url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    // drain the body so the connection is released
    await res.arrayBuffer().catch(() => undefined);
    return { status: res.status };
  },
};
