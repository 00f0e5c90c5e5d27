/**
 * Secret handling in one place: random tokens, keyed hashes for stored
 * secrets, one constant-time comparison, and authenticated encryption of
 * data at rest.
 */
import { createCipheriv, createDecipheriv, createHmac, hash, hkdfSync, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';

/**
 * SHA-256 of a high-entropy token (refresh tokens): a fast unkeyed hash is
 * enough because the input cannot be guessed, and it keeps lookups indexed.
 */
export function sha256Base64Url(value: string): string {
  return hash('sha256', value, 'base64url');
}

/**
 * Random bytes drawn from the CSPRNG a kilobyte at a time: one
 * `randomBytes(32)` call costs about 6 µs of job set-up, slicing a filled
 * buffer a fifth of a microsecond (issue #13), as node:crypto's own
 * `randomUUID` does. Bytes handed out are zeroed, so the buffer only ever
 * holds values no token has used yet.
 */
const RANDOM_POOL = Buffer.alloc(1024);
let randomPoolOffset = RANDOM_POOL.length;

/** `bytes` random bytes (at most 1024) as base64url: refresh token secrets, family ids. */
export function randomToken(bytes: number): string {
  if (bytes > RANDOM_POOL.length) return randomBytes(bytes).toString('base64url');
  if (randomPoolOffset + bytes > RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    randomPoolOffset = 0;
  }
  const start = randomPoolOffset;
  randomPoolOffset += bytes;
  const token = RANDOM_POOL.toString('base64url', start, randomPoolOffset);
  RANDOM_POOL.fill(0, start, randomPoolOffset);
  return token;
}

/** One constant-time comparison for the whole code base. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  // Compare against itself on length mismatch so the time does not depend on where they differ.
  if (left.length !== right.length) {
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}

function deriveKey(masterKey: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `latchkey:${purpose}`, 32));
}

/**
 * Client secrets: HMAC-SHA256 under a key derived from the master key. A
 * password hash (argon2) would cap client_credentials near 90 requests/s;
 * configured secrets are long and random, so a keyed fast hash suffices.
 */
export class SecretHasher {
  private readonly key: Buffer;
  constructor(masterKey: Buffer) {
    this.key = deriveKey(masterKey, 'client-secret-hmac');
  }
  hash(secret: string): string {
    return `hmac-sha256:${createHmac('sha256', this.key).update(secret, 'utf8').digest('base64url')}`;
  }
  verify(secret: string, stored: string): boolean {
    return constantTimeEqual(this.hash(secret), stored);
  }
}

/** AES-256-GCM with a random nonce; the output names its version for later rotation. */
export class Sealer {
  private readonly key: Buffer;
  constructor(masterKey: Buffer, purpose: string) {
    this.key = deriveKey(masterKey, `encrypt:${purpose}`);
  }
  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }
  /** Throws UnsealError for anything this key did not seal: another master key, another purpose, altered text. */
  unseal(sealed: string): string {
    if (!sealed.startsWith('v1.')) throw new UnsealError('unknown encryption format');
    const raw = Buffer.from(sealed.slice(3), 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch (err) {
      throw new UnsealError(`cannot authenticate the sealed data (${(err as Error).message})`);
    }
  }
}

/** Sealed data this Sealer cannot open; callers tell "another master key" from a bug by this type, not by message text. */
export class UnsealError extends Error {
  override name = 'UnsealError';
}

/**
 * A keyed hash of several values (HMAC-SHA256 under a key derived from the
 * master key), for comparing attempts without keeping what was attempted:
 * without the master key a stored fingerprint cannot be tested against a
 * password list.
 */
export class KeyedFingerprint {
  private readonly key: Buffer;
  constructor(masterKey: Buffer, purpose: string) {
    this.key = deriveKey(masterKey, purpose);
  }
  of(...parts: string[]): string {
    const hmac = createHmac('sha256', this.key);
    // Length-prefixed, so ("ab","c") and ("a","bc") differ.
    for (const part of parts) hmac.update(`${Buffer.byteLength(part, 'utf8')}:`).update(part, 'utf8');
    return hmac.digest('base64url');
  }
}
