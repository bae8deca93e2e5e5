/**
 * Renders the national-profile twin of each feed message (docs/cap-profile.md, "National profile") while the projector
 * stores it: allocates its GB/T 35965.1 identifier per unit code (seeded from the table after a restart) and looks up
 * the national identifier of the incident's Alert for references.
 */
import { JsonLogger } from '../common/logger';
import type { CapAlert } from './domain/cap.types';
import { renderCapXml } from './domain/cap-xml';
import {
  NationalSerial,
  nationalSenderCode,
  toNationalProfile,
  type NationalProfileSettings,
} from './domain/cap-national.profile';
import type { FeedMessageRepository } from './feed-message.repository';

export class NationalFeed {
  private readonly log = new JsonLogger('feeds.national');
  private readonly serial = new NationalSerial();

  constructor(
    private readonly settings: NationalProfileSettings,
    private readonly repo: Pick<FeedMessageRepository, 'nationalIdentifierOf' | 'lastNationalIdentifier'>,
  ) {}

  /** Undefined when the site has no district code or the incident's Alert has no national twin (both logged). */
  async render(
    cap: CapAlert,
    adminCode: string | undefined,
    eventMs: number,
  ): Promise<{ identifier: string; xml: string } | undefined> {
    if (adminCode === undefined) {
      this.log.warn('no GB/T 2260 district code for the site: message has no national-profile twin', {
        identifier: cap.identifier,
      });
      return undefined;
    }
    const senderCode = nationalSenderCode(adminCode, this.settings);
    let incidentIdentifier: string | undefined;
    if (cap.msgType !== 'Alert') {
      incidentIdentifier = await this.repo.nationalIdentifierOf(cap.incidents ?? '');
      if (incidentIdentifier === undefined) {
        this.log.warn('incident began before the national profile was configured: no national twin', {
          identifier: cap.identifier,
          incident: cap.incidents,
        });
        return undefined;
      }
    }
    if (!this.serial.has(senderCode)) {
      const last = await this.repo.lastNationalIdentifier(senderCode);
      if (last !== undefined) this.serial.seed(last);
    }
    const identifier = this.serial.next(senderCode, eventMs);
    const national = toNationalProfile(cap, {
      identifier,
      senderCode,
      ...(incidentIdentifier !== undefined ? { incidentIdentifier } : {}),
      settings: this.settings,
    });
    return { identifier, xml: renderCapXml(national) };
  }
}
