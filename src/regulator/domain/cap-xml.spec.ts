import { BOHAI_SITE, CAP_SETTINGS, CL2_SOURCE, makeFeedEvent } from '../testing/feed-event.factory';
import { buildCapAlert } from './cap-message.builder';
import { CapFormatError, renderCapXml } from './cap-xml';

const alert = (o: Parameters<typeof makeFeedEvent>[0] = {}) =>
  buildCapAlert({
    site: BOHAI_SITE,
    source: CL2_SOURCE,
    settings: CAP_SETTINGS,
    event: makeFeedEvent(o),
    msgType: 'Alert',
  });

describe('renderCapXml', () => {
  it('should write the elements in the schema order inside the CAP 1.2 namespace', () => {
    const xml = renderCapXml(alert());
    expect(
      xml.startsWith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">',
      ),
    ).toBe(true);
    const order = [
      'identifier',
      'sender',
      'sent',
      'status',
      'msgType',
      'source',
      'scope',
      'restriction',
      'incidents',
      'info',
    ].map((n) => xml.indexOf(`<${n}>`));
    expect(order.every((v, i) => v > 0 && (i === 0 || v > (order[i - 1] ?? 0)))).toBe(true);
    const infoOrder = [
      'language',
      'category',
      'event',
      'responseType',
      'urgency',
      'severity',
      'certainty',
      'eventCode',
      'senderName',
      'headline',
      'description',
      'instruction',
      'parameter',
      'area',
    ].map((n) => xml.indexOf(`<${n}>`));
    expect(infoOrder.every((v, i) => v > 0 && (i === 0 || v > (infoOrder[i - 1] ?? 0)))).toBe(true);
  });

  it('should escape markup in alarm text so it cannot break or inject XML', () => {
    const xml = renderCapXml(alert({ message: '<b>H2S & "Cl2"</b></headline><x>' }));
    expect(xml).toContain('&lt;b&gt;H2S &amp; &quot;Cl2&quot;&lt;/b&gt;&lt;/headline&gt;&lt;x&gt;');
    expect(xml).not.toContain('<x>');
  });

  it('should refuse identifiers with spaces or commas, times with Z, and Restricted without restriction', () => {
    const a = alert();
    expect(() => renderCapXml({ ...a, identifier: 'a b' })).toThrow(CapFormatError);
    expect(() => renderCapXml({ ...a, identifier: 'a,b' })).toThrow(CapFormatError);
    expect(() => renderCapXml({ ...a, sent: '2026-11-24T10:00:00Z' })).toThrow(CapFormatError);
    const { restriction: _r, ...noRestriction } = a;
    expect(() => renderCapXml(noRestriction)).toThrow('restriction');
    expect(() => renderCapXml({ ...a, msgType: 'Update' })).toThrow('needs references');
  });
});
