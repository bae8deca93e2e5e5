import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '../common/errors';
import { keyIdOf } from './domain/journal-anchor';

export type AnchorKey = {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly keyId: string;
  readonly publicPem: string;
  /** Where it came from, for the start-up log: 'env' or the file path. */
  readonly origin: string;
};

export const ANCHOR_KEY_FILE = 'journal-anchor.key';

function fromPem(pem: string, origin: string): AnchorKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new ConfigError(origin, [
      { path: '(key)', reason: `not a PEM private key: ${(err as Error).message}` },
    ]);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new ConfigError(origin, [
      { path: '(key)', reason: `must be an Ed25519 key, is ${privateKey.asymmetricKeyType ?? 'unknown'}` },
    ]);
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    keyId: keyIdOf(publicKey),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    origin,
  };
}

/**
 * The journal-anchor signing key, kept outside the database (docs/adr/0015-journal-anchors.md): JOURNAL_ANCHOR_KEY
 * (PKCS#8 PEM) when set, else DATA_DIR/journal-anchor.key, created on first start with mode 0600. A key file that
 * other users can read stops start-up (a leaked key lets anyone sign a rewritten chain).
 */
export function loadAnchorKey(envPem: string, dataDir: string): AnchorKey {
  if (envPem.trim() !== '') return fromPem(envPem.replace(/\\n/g, '\n'), 'JOURNAL_ANCHOR_KEY');
  const file = join(dataDir, ANCHOR_KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0)
    throw new ConfigError(file, [
      {
        path: '(file mode)',
        reason: `is ${mode.toString(8).padStart(4, '0')}; the signing key must be readable by its owner only (chmod 600)`,
      },
    ]);
  return fromPem(readFileSync(file, 'utf8'), file);
}
