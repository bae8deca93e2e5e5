import {
  WebhookTargetError,
  checkResolved,
  checkWebhookUrl,
  parseWebhookAllowList,
  refusedAddress,
} from './webhook-target.policy';

describe('webhook target policy', () => {
  const none = parseWebhookAllowList('');

  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['::1', 'loopback'],
    ['169.254.169.254', 'linkLocal'],
    ['fe80::1', 'linkLocal'],
    ['10.1.2.3', 'private'],
    ['172.16.0.9', 'private'],
    ['192.168.1.1', 'private'],
    ['fd00:ec2::254', 'uniqueLocal'],
    ['100.100.100.200', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'linkLocal'],
    ['64:ff9b::a00:1', 'private'],
    ['224.0.0.1', 'multicast'],
  ])('should refuse %s (%s)', (address, range) => {
    expect(refusedAddress(address, none)).toBe(`address range '${range}' is not allowed for webhooks`);
  });

  it.each(['8.8.8.8', '203.119.26.1', '2400:3200::1'])('should accept the public address %s', (address) => {
    expect(refusedAddress(address, none)).toBeUndefined();
  });

  it('should accept an internal address only inside a range the admin allowed', () => {
    const allow = parseWebhookAllowList('10.20.0.0/16, 192.168.5.7,fd00:1::/32');
    expect(refusedAddress('10.20.3.4', allow)).toBeUndefined();
    expect(refusedAddress('192.168.5.7', allow)).toBeUndefined();
    expect(refusedAddress('fd00:1::9', allow)).toBeUndefined();
    expect(refusedAddress('10.21.3.4', allow)).toMatch(/private/);
    expect(refusedAddress('192.168.5.8', allow)).toMatch(/private/);
    expect(refusedAddress('169.254.169.254', allow)).toMatch(/linkLocal/);
  });

  it('should name the bad entry of the allow list', () => {
    expect(() => parseWebhookAllowList('10.0.0.0/8,intranet')).toThrow(
      "'intranet' is not an IP address or CIDR range",
    );
    expect(() => parseWebhookAllowList('10.0.0.0/40')).toThrow(WebhookTargetError);
  });

  it('should refuse schemes other than http(s), credentials in the URL and literal internal hosts', () => {
    expect(() => checkWebhookUrl('file:///etc/passwd', none)).toThrow("scheme 'file' is not allowed");
    expect(() => checkWebhookUrl('gopher://example.com/', none)).toThrow("scheme 'gopher' is not allowed");
    expect(() => checkWebhookUrl('https://u:p@example.com/', none)).toThrow(/credentials/);
    expect(() => checkWebhookUrl('http://[::1]:8080/x', none)).toThrow(/loopback/);
    expect(() => checkWebhookUrl('http://169.254.169.254/latest/meta-data/', none)).toThrow(/linkLocal/);
    expect(() => checkWebhookUrl('http://2130706433/', none)).toThrow(/loopback/);
    expect(checkWebhookUrl('https://esb.binhai.example/hook', none)).toEqual({
      host: 'esb.binhai.example',
      literal: false,
    });
  });

  it('should refuse a name when any of its addresses is internal', () => {
    expect(() => checkResolved(['203.119.26.1', '10.0.0.7'], none)).toThrow(/private/);
    expect(() => checkResolved([], none)).toThrow(/does not resolve/);
    expect(() => checkResolved(['203.119.26.1'], none)).not.toThrow();
  });
});
