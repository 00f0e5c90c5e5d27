/**
 * User codes (RFC 8628 §6.1, DESIGN.md §7): 8 characters of a base-20
 * alphabet without vowels (no words spelled by accident) and without the
 * letters people confuse (no I/O/U/Y, no digits), drawn from a CSPRNG.
 * 20^8 ≈ 2^34.6 values, against at most 10 guesses per IP per 10 minutes
 * (device-approval.ts), as RFC 8628 §5.1 asks. Shown `XXXX-XXXX`; read back
 * whatever the case, dashes or spaces the person typed.
 */
import { randomInt } from 'node:crypto';

export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const USER_CODE_LENGTH = 8;

const NORMALISED = new RegExp(`^[${USER_CODE_ALPHABET}]{${USER_CODE_LENGTH}}$`);
/** Longer input is no code: not worth normalising (and it bounds the work). */
const MAX_INPUT_LENGTH = 32;

/** A new user code, normalised (no dash). */
export function newUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

/** What a person typed, as stored (upper case, no dash or space); undefined when it cannot be a user code at all. */
export function normaliseUserCode(input: string | undefined): string | undefined {
  if (input === undefined || input.length > MAX_INPUT_LENGTH) return undefined;
  const code = input.replace(/[\s-]/g, '').toUpperCase();
  return NORMALISED.test(code) ? code : undefined;
}

/** `BCDFGHJK` → `BCDF-GHJK`, as devices show it. */
export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}
