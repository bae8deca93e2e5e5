import { generateKeyPairSync } from 'node:crypto';
import {
  AnchorChecker,
  anchorSignatureValid,
  formatAnchor,
  keyIdOf,
  parseAnchor,
  signAnchor,
} from './journal-anchor';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const keyId = keyIdOf(publicKey);
const h = (c: string): string => c.repeat(64);

describe('journal anchors', () => {
  it('should sign a chain head so that only that seq, hash and time check', () => {
    const a = signAnchor(privateKey, keyId, { seq: 7, hash: h('a') }, Date.UTC(2026, 11, 3));
    expect(anchorSignatureValid(publicKey, keyId, a)).toBe(true);
    expect(anchorSignatureValid(publicKey, keyId, { ...a, hash: h('b') })).toBe(false);
    expect(anchorSignatureValid(publicKey, keyId, { ...a, seq: 8 })).toBe(false);
    expect(anchorSignatureValid(publicKey, keyId, { ...a, signature: 'garbage' })).toBe(false);
    const other = generateKeyPairSync('ed25519').publicKey;
    expect(anchorSignatureValid(other, keyIdOf(other), a)).toBe(false);
    expect(parseAnchor(formatAnchor(a))).toEqual(a);
  });

  it('should match anchors to rows and report the first divergence with the range that was rewritten', () => {
    const sign = (seq: number, hash: string) => signAnchor(privateKey, keyId, { seq, hash }, 0);
    const checker = new AnchorChecker([sign(2, h('2')), sign(5, h('5')), sign(9, h('9'))]);
    for (let seq = 1; seq <= 6; seq++) checker.push({ seq, hash: seq === 5 ? h('x') : h(String(seq)) });
    expect(checker.finish()).toMatchObject({
      matched: 1,
      lastMatchedSeq: 2,
      divergences: 2, // seq 5 changed, seq 9 missing from the tail
      firstDivergence: {
        seq: 5,
        anchoredHash: h('5'),
        journalHash: h('x'),
        rewrittenBetween: { afterSeq: 2, atOrBeforeSeq: 5 },
      },
      journalLastSeq: 6,
    });
  });
});
