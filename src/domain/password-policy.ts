/**
 * Password policy of a connection (Auth0's password_policy, NIST SP
 * 800-63B §5.1.1.2): a minimum length, and refusal of passwords found on a
 * bundled list of common and breached passwords (zxcvbn-ts's list, about
 * 49,000 passwords seen in breaches, maintained on npm).
 *
 * New passwords are checked at user creation, import and password change.
 * At login the same list can flag or refuse a password that was set before
 * the list knew it (imported hashes are never checked at import).
 */
import { dictionary } from '@zxcvbn-ts/language-common';

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

/** What a connection's `password_policy` says about new passwords (the config schema's object has this shape). */
export interface PasswordPolicy {
  min_length: number;
  refuse_breached: boolean;
}

/**
 * A stored hash this server can verify: argon2 (any variant) or a complete bcrypt hash
 * ($2a$/$2b$/$2y$, cost, 53 characters of salt and hash). Imported users bring these.
 */
export function isSupportedPasswordHash(value: string): boolean {
  return /^\$(argon2id|argon2i|argon2d)\$/.test(value) || /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(value);
}

/** The rule names an error can cite; documented in docs/errors.md. */
export type PasswordRule = 'min_length' | 'max_length' | 'breached';

export interface PasswordRefusal {
  rule: PasswordRule;
  message: string;
}

let breachedList: ReadonlySet<string> | undefined;

/** Loaded on first use: the list costs a few MiB, and only password-checking paths need it. */
function breached(): ReadonlySet<string> {
  breachedList ??= new Set((dictionary['passwords-common'] as string[]).map((p) => p.toLowerCase()));
  return breachedList;
}

/** The list is lower case; a capitalised "Password1" is as guessable as "password1". */
export function isBreachedPassword(password: string): boolean {
  return breached().has(password.normalize('NFKC').toLowerCase());
}

/** Length in Unicode code points, as NIST counts it: an emoji is one character, not two. */
export function passwordLength(password: string): number {
  let count = 0;
  for (const _ of password) count++;
  return count;
}

/** Why a new password breaks the policy, or undefined when it is acceptable. */
export function passwordPolicyRefusal(policy: PasswordPolicy, password: string): PasswordRefusal | undefined {
  const length = passwordLength(password);
  if (length < policy.min_length) return { rule: 'min_length', message: `the password must have at least ${policy.min_length} characters` };
  if (length > MAX_PASSWORD_LENGTH)
    return { rule: 'max_length', message: `the password must have at most ${MAX_PASSWORD_LENGTH} characters` };
  if (policy.refuse_breached && isBreachedPassword(password)) {
    return { rule: 'breached', message: 'the password is on the list of common and breached passwords; choose another' };
  }
  return undefined;
}
