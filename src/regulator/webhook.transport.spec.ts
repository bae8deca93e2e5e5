import { parseWebhookAllowList } from './domain/webhook-target.policy';
import { WebhookReceiver } from './testing/webhook-receiver';
import { deliveryErrorClass, guardedHttpTransport, type Resolver } from './webhook.transport';

describe('guarded webhook transport', () => {
  const receiver = new WebhookReceiver();
  beforeAll(() => receiver.start());
  afterAll(() => receiver.stop());
  const port = (): string => new URL(receiver.url).port;
  const allowLoopback = parseWebhookAllowList('127.0.0.1/32');

  it('should connect to the address it checked, not to a second resolution of the name', async () => {
    const answers = ['127.0.0.1', '10.9.9.9'];
    const lookups: string[] = [];
    const resolver: Resolver = async (host) => {
      lookups.push(host);
      return [{ address: answers.shift() ?? '10.9.9.9', family: 4 }];
    };
    const t = guardedHttpTransport(allowLoopback, resolver);
    const before = receiver.requests.length;
    const r = await t.post(`http://receiver.test:${port()}/hook`, { 'x-test': '1' }, '{"a":1}', 5000);
    expect(r.status).toBe(200);
    expect(lookups).toEqual(['receiver.test']);
    expect(receiver.requests.length).toBe(before + 1);
    expect(receiver.requests.at(-1)?.body).toBe('{"a":1}');
  });

  it('should refuse at delivery time a name that now resolves to an internal address (DNS rebinding)', async () => {
    const resolver: Resolver = async () => [{ address: '169.254.169.254', family: 4 }];
    const t = guardedHttpTransport(allowLoopback, resolver);
    const before = receiver.requests.length;
    const err = await t.post(`http://receiver.test:${port()}/hook`, {}, '{}', 5000).catch((e: unknown) => e);
    expect(deliveryErrorClass(err)).toBe("refused: address range 'linkLocal' is not allowed for webhooks");
    expect(receiver.requests.length).toBe(before);
  });

  it('should refuse loopback without an allow list entry', async () => {
    const t = guardedHttpTransport(parseWebhookAllowList(''));
    const before = receiver.requests.length;
    const err = await t.post(receiver.url, {}, '{}', 5000).catch((e: unknown) => e);
    expect(deliveryErrorClass(err)).toBe("refused: address range 'loopback' is not allowed for webhooks");
    expect(receiver.requests.length).toBe(before);
  });

  it('should log a failure by its class only, without internal addresses or ports', async () => {
    const t = guardedHttpTransport(allowLoopback);
    const err = await t.post('http://127.0.0.1:1/hook', {}, '{}', 5000).catch((e: unknown) => e);
    expect(String((err as Error).message)).toContain('127.0.0.1:1');
    expect(deliveryErrorClass(err)).toBe('connection failed');
    expect(
      deliveryErrorClass(Object.assign(new Error('getaddrinfo ENOTFOUND x.internal'), { code: 'ENOTFOUND' })),
    ).toBe('host name does not resolve');
  });
});
