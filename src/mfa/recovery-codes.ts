/**
 * The recovery code: one per user, shown once at enrolment and again each
 * time it is used (the used one is spent), kept only as a keyed hash.
 */
import { randomBytes } from 'node:crypto';
import type { KeyedFingerprint } from '../crypto/secrets.js';

/** 24 characters from an alphabet without look-alikes (0/O, 1/I), as Auth0's recovery codes look: 120 bits. */
export function generateRecoveryCode(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(24);
  let code = '';
  for (const byte of bytes) code += alphabet[byte % 32];
  return code;
}

/** The stored form; spaces, dashes and case are forgiven, as a code read aloud or retyped comes back with them. */
export function recoveryCodeHash(codes: KeyedFingerprint, tenantId: string, userId: string, code: string): string {
  return codes.of('recovery-code', tenantId, userId, code.replace(/[\s-]/g, '').toUpperCase());
}
