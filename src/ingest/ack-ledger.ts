/**
 * Which QoS 1 PUBACKs are held, and when each may go (docs/adr/0008-ack-after-commit.md).
 *
 * Every QoS 1 message is held with a *durability mark*: the writer's batch sequence number that must be durable
 * (committed to PostgreSQL, or fsynced to the disk spool) before every reading of that message is safe. The writer
 * reports a contiguous watermark (`release(through)`: every batch ≤ `through` is durable), so releasing from the head of
 * the queue while `mark <= through` sends PUBACKs in receipt order (MQTT 3.1.1 §4.6) even when a later batch reached the
 * spool before an earlier one committed.
 *
 * `reset()` forgets everything held (the connection closed): the broker redelivers those messages on the resumed
 * session, so a late commit must not acknowledge a message id that now names another message.
 *
 * Allocation-light: a growable ring of two parallel number arrays.
 */
export class AckLedger {
  private ids: number[];
  private marks: number[];
  private head = 0;
  private size = 0;
  private watermark = 0;

  constructor(
    private readonly send: (messageId: number) => void,
    initialCapacity = 1024,
  ) {
    this.ids = new Array<number>(initialCapacity).fill(0);
    this.marks = new Array<number>(initialCapacity).fill(0);
  }

  /** Messages received and not yet acknowledged. */
  get unacked(): number {
    return this.size;
  }

  /** Holds the PUBACK of `messageId` until batch `mark` is durable; sends it at once when it already is (in order). */
  hold(messageId: number, mark: number): void {
    if (this.size === this.ids.length) this.grow();
    const i = (this.head + this.size) % this.ids.length;
    this.ids[i] = messageId;
    this.marks[i] = mark;
    this.size++;
    if (this.size === 1 && mark <= this.watermark) this.drain();
  }

  /** Every batch with sequence ≤ `through` is durable: sends the PUBACKs that were waiting for it, in receipt order. */
  release(through: number): void {
    if (through > this.watermark) this.watermark = through;
    this.drain();
  }

  /** The connection closed: nothing held can be acknowledged any more (the broker redelivers it). */
  reset(): void {
    this.head = 0;
    this.size = 0;
  }

  private drain(): void {
    const cap = this.ids.length;
    while (this.size > 0 && this.marks[this.head]! <= this.watermark) {
      const id = this.ids[this.head]!;
      this.head = (this.head + 1) % cap;
      this.size--;
      this.send(id);
    }
  }

  private grow(): void {
    const cap = this.ids.length;
    const ids = new Array<number>(cap * 2).fill(0);
    const marks = new Array<number>(cap * 2).fill(0);
    for (let k = 0; k < this.size; k++) {
      ids[k] = this.ids[(this.head + k) % cap]!;
      marks[k] = this.marks[(this.head + k) % cap]!;
    }
    this.ids = ids;
    this.marks = marks;
    this.head = 0;
  }
}
