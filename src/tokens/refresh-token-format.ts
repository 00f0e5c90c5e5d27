/**
 * Refresh tokens are opaque to clients: a 128-bit family id followed by a
 * 256-bit random secret, both base64url (65 characters, no dots, so they
 * are never mistaken for JWTs). Only the secret's SHA-256 is stored. The
 * family id makes every refresh a primary-key lookup and lets a rotated
 * token presented again be recognised as its family's, which is then revoked.
 */
import { randomToken, sha256Base64Url } from '../crypto/secrets.js';

const FAMILY_ID_CHARS = 22; // 16 bytes
const SECRET_CHARS = 43; // 32 bytes
const FORMAT = /^[A-Za-z0-9_-]{65}$/;

export interface IssuedRefreshToken {
  token: string;
  familyId: string;
  secretHash: string;
}

export function newFamilyId(): string {
  return randomToken(16);
}

export function newRefreshToken(familyId: string): IssuedRefreshToken {
  const secret = randomToken(32);
  return { token: `${familyId}${secret}`, familyId, secretHash: sha256Base64Url(secret) };
}

/** Undefined for anything that cannot be one of our refresh tokens. */
export function parseRefreshToken(token: string): { familyId: string; secretHash: string } | undefined {
  if (!FORMAT.test(token)) return undefined;
  return {
    familyId: token.slice(0, FAMILY_ID_CHARS),
    secretHash: sha256Base64Url(token.slice(FAMILY_ID_CHARS, FAMILY_ID_CHARS + SECRET_CHARS)),
  };
}

/**
 * How logs name a family: never the id itself, which is part of every token
 * of the family and, with the owning client's id, enough to revoke it.
 */
export function familyFingerprint(familyId: string): string {
  return sha256Base64Url(`refresh-family:${familyId}`).slice(0, 12);
}
