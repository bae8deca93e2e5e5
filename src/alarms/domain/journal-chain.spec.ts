import { createHash } from 'node:crypto';
import { makeAlarm, T0 } from '../../../test/factories/alarm.factory';
import { toSnapshot } from './alarm-state.machine';
import {
  canonicalJson,
  canonicalRow,
  ChainVerifier,
  GENESIS_HASH,
  sealEntry,
  type JournalEntry,
  type UnhashedEntry,
} from './journal-chain';

const entry = (seq: number, over: Partial<UnhashedEntry> = {}): UnhashedEntry => ({
  seq,
  at: T0 + seq * 1000,
  alarmId: 'a1',
  siteId: 'bohai-chem',
  event: 'raised',
  fromState: 'normal',
  toState: 'unacknowledged',
  actor: 'hazwatch',
  actorRole: 'system',
  comment: null,
  snapshot: { ...toSnapshot(makeAlarm({ value: 2.5 + seq })), seq },
  ...over,
});

function chain(n: number): JournalEntry[] {
  const out: JournalEntry[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const e = sealEntry(prev, entry(i));
    out.push(e);
    prev = e.hash;
  }
  return out;
}

const verify = (rows: JournalEntry[]): ReturnType<ChainVerifier['push']> => {
  const v = new ChainVerifier();
  for (const r of rows) {
    const b = v.push(r);
    if (b) return b;
  }
  return null;
};

describe('journal hash chain', () => {
  it('should produce the same canonical JSON whatever the key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x', null], c: true } })).toBe(
      canonicalJson({ a: { c: true, d: [1, 'x', null] }, b: 1 }),
    );
    expect(canonicalJson({ b: 1, a: undefined })).toBe('{"b":1}');
  });

  it('should refuse non-finite numbers rather than hash them ambiguously', () => {
    expect(() => canonicalJson({ v: Number.NaN })).toThrow(/non-finite/);
  });

  it('should hash sha256(prev_hash || canonical row)', () => {
    const e = sealEntry(GENESIS_HASH, entry(1));
    const expected = createHash('sha256')
      .update(GENESIS_HASH + canonicalRow(e))
      .digest('hex');
    expect(e.hash).toBe(expected);
    expect(e.prevHash).toBe(GENESIS_HASH);
  });

  it('should verify an intact chain', () => {
    const v = new ChainVerifier();
    for (const r of chain(20)) expect(v.push(r)).toBeNull();
    expect(v.rowsChecked).toBe(20);
    expect(v.lastSeq).toBe(20);
  });

  it('should report the edited row when a field was modified', () => {
    const rows = chain(10);
    rows[6] = { ...rows[6]!, actor: 'someone else' };
    expect(verify(rows)).toEqual({ seq: 7, reason: expect.stringMatching(/modified/) });
  });

  it('should report the edited row when a snapshot value was modified', () => {
    const rows = chain(10);
    rows[3] = { ...rows[3]!, snapshot: { ...rows[3]!.snapshot, value: 0 } };
    expect(verify(rows)?.seq).toBe(4);
  });

  it('should report a gap when a row was deleted', () => {
    const rows = chain(10);
    rows.splice(4, 1);
    expect(verify(rows)).toEqual({ seq: 6, reason: expect.stringMatching(/missing/) });
  });

  it('should report a re-linked row when a row was replaced by a consistent forgery', () => {
    const rows = chain(5);
    // a forger who recomputes the row's own hash but cannot rewrite every later row
    rows[2] = sealEntry(rows[1]!.hash, { ...entry(3), actor: 'forger' });
    expect(verify(rows)).toEqual({ seq: 4, reason: expect.stringMatching(/prev_hash/) });
  });

  it('should verify from an anchor (a later page)', () => {
    const rows = chain(6);
    const v = new ChainVerifier({ prevHash: rows[2]!.hash, prevSeq: 3 });
    for (const r of rows.slice(3)) expect(v.push(r)).toBeNull();
  });
});
