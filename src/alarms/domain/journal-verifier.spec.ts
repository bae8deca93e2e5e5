import { makeAlarm, raisedEntry } from '../../../test/factories/alarm.factory';
import { GENESIS_HASH, type JournalEntry } from './journal-chain';
import { JournalVerifier, journalHeadHash } from './journal-verifier';

/** A row of the global chain (site undefined) or of a site's chain. */
function row(seq: number, prev: string, siteId: string, siteSeq?: number, epoch = 1): JournalEntry {
  const site = siteSeq !== undefined ? { siteSeq, epoch, nodeId: 'n1' } : undefined;
  return raisedEntry(makeAlarm({ siteId, seq }), seq, prev, site);
}

/** Global rows 1–2, then sites a and b interleaved (seqs 3–7, with a rolled-back seq 5), then a global row 8. */
function journal(): JournalEntry[] {
  const g1 = row(1, GENESIS_HASH, 'legacy');
  const g2 = row(2, g1.hash, 'legacy');
  const a1 = row(3, GENESIS_HASH, 'a', 1);
  const b1 = row(4, GENESIS_HASH, 'b', 1);
  const a2 = row(6, a1.hash, 'a', 2, 2);
  const b2 = row(7, b1.hash, 'b', 2);
  const g3 = row(8, g2.hash, 'legacy');
  return [g1, g2, a1, b1, a2, b2, g3];
}

describe('JournalVerifier', () => {
  it('accepts a global chain followed by interleaved site chains with seq gaps', () => {
    const v = new JournalVerifier();
    for (const r of journal()) expect(v.push(r)).toBeNull();
    expect(v.rowsChecked).toBe(7);
    expect(v.lastSeq).toBe(8);
    expect(v.siteHeads.get('a')?.siteSeq).toBe(2);
  });

  it('detects a missing site row, a re-linked row and an edited row of a site chain', () => {
    const rows = journal();
    const missing = new JournalVerifier();
    const withoutA1 = rows.filter((r) => r.seq !== 3);
    const breaks = withoutA1.map((r) => missing.push(r)).filter(Boolean);
    expect(breaks[0]).toMatchObject({
      seq: 6,
      reason: expect.stringContaining('site a site_seq 2: expected site_seq 1'),
    });

    const edited = rows.map((r) => (r.seq === 6 ? { ...r, comment: 'rewritten' } : r));
    const v2 = new JournalVerifier();
    expect(edited.map((r) => v2.push(r)).find(Boolean)).toMatchObject({
      seq: 6,
      reason: expect.stringContaining('the row was modified'),
    });

    const relinked = rows.map((r) => (r.seq === 7 ? row(7, GENESIS_HASH, 'b', 2) : r));
    const v3 = new JournalVerifier();
    expect(relinked.map((r) => v3.push(r)).find(Boolean)).toMatchObject({
      seq: 7,
      reason: expect.stringContaining('prev_hash'),
    });
  });

  it('still requires a gap-free global chain while no site chain exists', () => {
    const rows = journal();
    const g3 = row(4, rows[1]!.hash, 'legacy');
    const v = new JournalVerifier();
    expect(v.push(rows[0]!)).toBeNull();
    expect(v.push(g3)).toMatchObject({ seq: 4, reason: expect.stringContaining('rows are missing') });
  });

  it('signs the global head alone before clustering and every chain’s head after', () => {
    const rows = journal();
    const v = new JournalVerifier();
    v.push(rows[0]!);
    v.push(rows[1]!);
    expect(v.headHash()).toBe(rows[1]!.hash);
    v.push(rows[2]!);
    const withA = v.headHash();
    expect(withA).toBe(
      journalHeadHash({ seq: 2, hash: rows[1]!.hash }, new Map([['a', { siteSeq: 1, hash: rows[2]!.hash }]])),
    );
    v.push(rows[3]!);
    expect(v.headHash()).not.toBe(withA);
    // the order sites were seen in does not matter
    const heads = [...v.siteHeads];
    expect(journalHeadHash({ seq: 2, hash: rows[1]!.hash }, new Map(heads.reverse()))).toBe(v.headHash());
  });
});
