import { makeFeedEvent } from '../testing/feed-event.factory';
import { decideCapMessage, type Incident } from './incident.policy';

const open: Incident = {
  alarmId: 'al-0123456789abcdef0123',
  siteId: 'bohai-chem',
  identifier: 'hazwatch-bohai-chem-al-0123456789abcdef0123-41',
  sent: '2026-11-24T18:00:00+08:00',
  open: true,
};

describe('decideCapMessage', () => {
  it('should start an incident with an Alert when an alarm is raised', () => {
    const d = decideCapMessage(makeFeedEvent({ seq: 41 }), undefined);
    expect(d).toEqual({ msgType: 'Alert', incident: open });
  });

  it('should send an Update referencing the Alert on an ack or a priority change', () => {
    for (const event of ['acknowledged', 'updated', 'note', 'shelved'] as const) {
      const d = decideCapMessage(makeFeedEvent({ event, seq: 50, acked: event === 'acknowledged' }), open);
      expect(d).toMatchObject({
        msgType: 'Update',
        reference: { identifier: open.identifier, sent: open.sent },
      });
    }
  });

  it('should send a Cancel and close the incident when the alarm clears', () => {
    const d = decideCapMessage(
      makeFeedEvent({ event: 'cleared', active: false, state: 'rtn_unacknowledged', seq: 60 }),
      open,
    );
    expect(d).toMatchObject({ msgType: 'Cancel', incident: { ...open, open: false } });
  });

  it('should still send disposal notes and acks after the Cancel, but nothing else', () => {
    const closed = { ...open, open: false };
    expect(
      decideCapMessage(makeFeedEvent({ event: 'note', active: false, state: 'normal', seq: 70 }), closed),
    ).toMatchObject({ msgType: 'Update' });
    expect(
      decideCapMessage(
        makeFeedEvent({ event: 'acknowledged', active: false, state: 'normal', seq: 71 }),
        closed,
      ),
    ).toMatchObject({ msgType: 'Update' });
    expect(
      decideCapMessage(
        makeFeedEvent({ event: 'suppressed', active: false, state: 'suppressed', seq: 72 }),
        closed,
      ),
    ).toBeNull();
  });

  it('should not alert on a raise hidden by shelving or design suppression, and alert once it shows', () => {
    expect(decideCapMessage(makeFeedEvent({ state: 'suppressed', seq: 5 }), undefined)).toBeNull();
    const d = decideCapMessage(
      makeFeedEvent({ event: 'unsuppressed', state: 'unacknowledged', seq: 9 }),
      undefined,
    );
    expect(d).toMatchObject({
      msgType: 'Alert',
      incident: { identifier: 'hazwatch-bohai-chem-al-0123456789abcdef0123-9' },
    });
  });

  it('should start a new incident when a cleared alarm is raised again', () => {
    const d = decideCapMessage(makeFeedEvent({ event: 'raised', seq: 80 }), { ...open, open: false });
    expect(d).toMatchObject({
      msgType: 'Alert',
      incident: { identifier: 'hazwatch-bohai-chem-al-0123456789abcdef0123-80', open: true },
    });
  });

  it('should ignore events of an alarm the feed never alerted when it is not active', () => {
    expect(
      decideCapMessage(makeFeedEvent({ event: 'acknowledged', active: false, state: 'normal' }), undefined),
    ).toBeNull();
  });
});
