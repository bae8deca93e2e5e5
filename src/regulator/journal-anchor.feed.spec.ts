import { generateKeyPairSync } from 'node:crypto';
import { formatAnchor, keyIdOf, signAnchor } from '../alarms/domain/journal-anchor';
import { buildCapAlert } from './domain/cap-message.builder';
import { renderCapXml } from './domain/cap-xml';
import type { DeliveryHead } from './subscription.repository';
import { BOHAI_SITE, CAP_SETTINGS, CL2_SOURCE, makeFeedEvent } from './testing/feed-event.factory';
import { webhookBody, type WebhookJsonBody } from './webhook-dispatcher.service';

/** Journal anchors reach regulators inside every CAP message and both webhook formats (docs/adr/0015-journal-anchors.md). */
describe('journal anchors in regulator messages', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const line = formatAnchor(
    signAnchor(privateKey, keyIdOf(publicKey), { seq: 41, hash: 'ab'.repeat(32) }, 0),
  );
  const cap = buildCapAlert({
    site: BOHAI_SITE,
    source: CL2_SOURCE,
    settings: CAP_SETTINGS,
    event: makeFeedEvent(),
    msgType: 'Alert',
    journalAnchor: line,
  });
  const xml = renderCapXml(cap);

  it('should carry the anchor as CAP parameter hazwatch:journalAnchor', () => {
    expect(cap.infos[0]?.parameters).toContainEqual({ valueName: 'hazwatch:journalAnchor', value: line });
    expect(xml).toContain(`<valueName>hazwatch:journalAnchor</valueName>`);
  });

  it('should hand it to webhook receivers in both formats', () => {
    const head = (format: 'cap' | 'json'): DeliveryHead =>
      ({
        id: 'd1',
        subscription: { id: 's1', format },
        message: {
          identifier: cap.identifier,
          msgType: 'Alert',
          xml,
          event: makeFeedEvent(),
          incident: cap.identifier,
          sent: cap.sent,
        },
      }) as unknown as DeliveryHead;
    expect(webhookBody(head('cap'), 'http://x/cap').body).toContain(line);
    expect(
      (JSON.parse(webhookBody(head('json'), 'http://x/cap').body) as WebhookJsonBody).journalAnchor,
    ).toBe(line);
  });
});
