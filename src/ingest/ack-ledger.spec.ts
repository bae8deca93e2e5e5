import { AckLedger } from './ack-ledger';

describe('AckLedger', () => {
  const make = () => {
    const sent: number[] = [];
    return { sent, ledger: new AckLedger((id) => sent.push(id), 2) };
  };

  it('should hold each PUBACK until its batch is durable and send them in receipt order', () => {
    const { sent, ledger } = make();
    ledger.hold(11, 1);
    ledger.hold(12, 1);
    ledger.hold(13, 2);
    expect(sent).toEqual([]);
    expect(ledger.unacked).toBe(3);
    ledger.release(1);
    expect(sent).toEqual([11, 12]);
    ledger.release(2);
    expect(sent).toEqual([11, 12, 13]);
    expect(ledger.unacked).toBe(0);
  });

  it('should send at once a message whose readings are already durable, but never ahead of an earlier held one', () => {
    const { sent, ledger } = make();
    ledger.release(3);
    ledger.hold(1, 3); // e.g. a dead-lettered message: nothing of its own to write
    expect(sent).toEqual([1]);
    ledger.hold(2, 4);
    ledger.hold(3, 3); // durable already, but received after 2
    expect(sent).toEqual([1]);
    ledger.release(4);
    expect(sent).toEqual([1, 2, 3]);
  });

  it('should forget held PUBACKs on reset (connection closed) and grow past its initial capacity', () => {
    const { sent, ledger } = make();
    for (let i = 1; i <= 10; i++) ledger.hold(i, i);
    ledger.release(3);
    expect(sent).toEqual([1, 2, 3]);
    ledger.reset();
    ledger.release(10);
    expect(sent).toEqual([1, 2, 3]);
    for (let i = 20; i < 30; i++) ledger.hold(i, 11);
    ledger.release(11);
    expect(sent).toEqual([1, 2, 3, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
  });
});
