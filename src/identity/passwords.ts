/**
 * Password hashing policy: argon2id with OWASP's parameters for new hashes;
 * imported argon2 and bcrypt hashes still verify, and are replaced with
 * current parameters at the next successful login.
 */
import { hash as argon2Hash, verify as argon2Verify, type Algorithm } from '@node-rs/argon2';
import { verify as bcryptVerify } from '@node-rs/bcrypt';

/** OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1. */
// `Algorithm` is an ambient const enum (no runtime object under verbatimModuleSyntax); 2 is Argon2id.
const ARGON2ID = 2 as Algorithm.Argon2id;
export const ARGON2_PARAMETERS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
const CURRENT_PARAMETER_STRING = `$argon2id$v=19$m=${ARGON2_PARAMETERS.memoryCost},t=${ARGON2_PARAMETERS.timeCost},p=${ARGON2_PARAMETERS.parallelism}$`;

/** bcrypt reads only the first 72 bytes; longer passwords must not match on a prefix. */
const BCRYPT_MAX_BYTES = 72;

export type PasswordCheck = { valid: false } | { valid: true; needsRehash: boolean };

export function hashPassword(password: string): Promise<string> {
  return argon2Hash(password, ARGON2_PARAMETERS);
}

export async function verifyPassword(password: string, storedHash: string): Promise<PasswordCheck> {
  if (storedHash.startsWith('$argon2')) {
    const valid = await argon2Verify(storedHash, password).catch(() => false);
    return valid ? { valid: true, needsRehash: !storedHash.startsWith(CURRENT_PARAMETER_STRING) } : { valid: false };
  }
  if (/^\$2[aby]\$/.test(storedHash)) {
    // The work is done whatever the length, so an over-long password does not answer faster (no enumeration by timing).
    const matches = await bcryptVerify(password, storedHash).catch(() => false);
    // Refuse rather than truncate: a 100-byte password must not be accepted because its first 72 bytes match.
    return matches && Buffer.byteLength(password, 'utf8') <= BCRYPT_MAX_BYTES ? { valid: true, needsRehash: true } : { valid: false };
  }
  return { valid: false };
}
