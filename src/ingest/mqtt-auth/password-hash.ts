import { pbkdf2, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashes of MQTT users (docs/adr/0009-mqtt-authentication.md). Two salted one-way hashes per user, never the
 * password: `scrypt$N$r$p$salt$hash` (what the embedded broker verifies) and Mosquitto's PBKDF2-SHA512
 * `$7$iterations$salt$hash` (what `npm run mqtt-acl` writes into a Mosquitto password file).
 */

const SCRYPT = { N: 16384, r: 8, p: 1, keyLen: 32, saltLen: 16 } as const;
/** Mosquitto's own tool uses 101; a higher count costs the broker more per CONNECT but is read from the hash itself. */
export const MOSQUITTO_ITERATIONS = 10_000;
const MOSQUITTO_SALT_LEN = 12;
const MOSQUITTO_KEY_LEN = 64;

function scryptAsync(password: string, salt: Buffer, keyLen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, keyLen, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

function pbkdf2Async(password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    pbkdf2(password, salt, iterations, MOSQUITTO_KEY_LEN, 'sha512', (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

export async function scryptHash(password: string): Promise<string> {
  const salt = randomBytes(SCRYPT.saltLen);
  const key = await scryptAsync(password, salt, SCRYPT.keyLen, {
    N: SCRYPT.N,
    r: SCRYPT.r,
    p: SCRYPT.p,
    maxmem: 64 * 1024 * 1024,
  });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const SCRYPT_RE = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

export const isScryptHash = (s: string): boolean => SCRYPT_RE.test(s);

/** Constant-time check of a password against a `scrypt$…` hash. A malformed hash never verifies. */
export async function verifyScrypt(password: string, stored: string): Promise<boolean> {
  const m = SCRYPT_RE.exec(stored);
  if (!m) return false;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const expected = Buffer.from(m[5]!, 'base64');
  if (expected.length < 16 || N > 1 << 20) return false;
  const key = await scryptAsync(password, Buffer.from(m[4]!, 'base64'), expected.length, {
    N,
    r,
    p,
    maxmem: 256 * N * r + 1024 * 1024,
  });
  return timingSafeEqual(key, expected);
}

/** Mosquitto 2's `$7$` hash: PBKDF2-HMAC-SHA512, `$7$<iterations>$<base64 salt>$<base64 key>`. */
export async function mosquittoHash(
  password: string,
  iterations = MOSQUITTO_ITERATIONS,
  salt = randomBytes(MOSQUITTO_SALT_LEN),
): Promise<string> {
  const key = await pbkdf2Async(password, salt, iterations);
  return `$7$${iterations}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const MOSQUITTO_RE = /^\$7\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

export const isMosquittoHash = (s: string): boolean => MOSQUITTO_RE.test(s);

/** Checks a password against a `$7$` hash (used by tests to prove the format). */
export async function verifyMosquitto(password: string, stored: string): Promise<boolean> {
  const m = MOSQUITTO_RE.exec(stored);
  if (!m) return false;
  const expected = Buffer.from(m[3]!, 'base64');
  const key = await pbkdf2Async(password, Buffer.from(m[2]!, 'base64'), Number(m[1]));
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A generated password: 24 random bytes, base64url (32 characters, 192 bits). */
export const generatePassword = (): string => randomBytes(24).toString('base64url');
