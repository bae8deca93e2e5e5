/**
 * Every kind of CAP message hazwatch writes validates against the OASIS CAP 1.2 schema (test/fixtures/cap), checked by
 * libxml2 (xmllint-wasm: WebAssembly, no native build or system package needed, so it never skips).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCapAlert } from '../../src/regulator/domain/cap-message.builder';
import { renderCapXml } from '../../src/regulator/domain/cap-xml';
import { validateCap } from '../../src/regulator/testing/cap-schema.validator';
import {
  BOHAI_SITE,
  CAP_SETTINGS,
  CL2_DETECTOR,
  CL2_SOURCE,
  EVENT_T0,
  makeFeedEvent,
} from '../../src/regulator/testing/feed-event.factory';

const EXAMPLE = readFileSync(join(__dirname, '..', 'fixtures', 'cap', 'alert-amber-example.xml'), 'utf8');
const ref = {
  identifier: 'hazwatch-bohai-chem-al-0123456789abcdef0123-41',
  sent: '2026-11-24T18:00:00+08:00',
};
const base = { site: BOHAI_SITE, source: CL2_SOURCE, device: CL2_DETECTOR, settings: CAP_SETTINGS };

describe('CAP 1.2 schema validation', () => {
  it('should accept the valid example and reject mutations of it (so the validator can fail)', async () => {
    expect(await validateCap(EXAMPLE)).toEqual({ valid: true, errors: [] });
    const zulu = await validateCap(EXAMPLE.replace('2003-06-11T22:39:00-07:00', '2003-06-11T22:39:00Z'));
    expect(zulu.valid).toBe(false);
    expect(zulu.errors.join('\n')).toMatch(/sent/);
    expect(
      (await validateCap(EXAMPLE.replace('<msgType>Alert</msgType>', '<msgType>Warning</msgType>'))).valid,
    ).toBe(false);
    // order matters: scope before status is invalid
    expect(
      (
        await validateCap(
          EXAMPLE.replace('<status>Actual</status>', '').replace(
            '<scope>Public</scope>',
            '<scope>Public</scope><status>Actual</status>',
          ),
        )
      ).valid,
    ).toBe(false);
  });

  it('should validate an Alert, an Update with a disposal note, and a Cancel', async () => {
    const messages = [
      buildCapAlert({
        ...base,
        event: makeFeedEvent(),
        msgType: 'Alert',
        disposalDueAt: EVENT_T0 + 3600_000,
      }),
      buildCapAlert({
        ...base,
        event: makeFeedEvent({
          event: 'note',
          seq: 50,
          comment: '处置记录 cause: 阀门填料泄漏 <packing> & gasket; actions: replaced',
          actor: 'control room [token abc]',
        }),
        msgType: 'Update',
        incident: ref,
      }),
      buildCapAlert({
        ...base,
        event: makeFeedEvent({
          event: 'cleared',
          seq: 60,
          active: false,
          state: 'rtn_unacknowledged',
          clearedAt: new Date(EVENT_T0 + 600_000).toISOString(),
        }),
        msgType: 'Cancel',
        incident: ref,
      }),
      buildCapAlert({
        ...base,
        event: makeFeedEvent({
          priority: 'low',
          condition: 'stale',
          ruleId: 'stale:x',
          value: null,
          limit: null,
        }),
        msgType: 'Alert',
      }),
    ];
    for (const m of messages) {
      const xml = renderCapXml({ ...m, status: 'Test' });
      const r = await validateCap(xml);
      expect({ id: m.identifier, ...r }).toEqual({ id: m.identifier, valid: true, errors: [] });
    }
  });
});
